"""The web UI for a browser signed in with a scoped token: only its models, other models' pages as missing ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from factories import metadata
from modelreg import MemoryRegistry, ModelRegistry
from modelreg.server.auth import Auth, Role, Token, hash_token
from support.uiclient import UIClient, csrf_field

SECRET = "tok-scoped-ui-0123456789"
ADMIN = "tok-admin-ui-0123456789"


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        for name in ("vision-resnet", "bert", "fraud-score"):
            reg.register_model(name, "1.0.0", metadata())
            reg.register_model(name, "1.1.0", metadata())
            reg.set_alias(name, "production", "1.0.0")
        reg.annotate_model("fraud-score", description="credit card fraud")
        yield reg


@pytest.fixture
def ui(registry: ModelRegistry) -> Iterator[UIClient]:
    """A browser signed in as 'vision', an admin token scoped to vision-* and bert."""
    auth = Auth([Token("vision", Role.ADMIN, hash_token(SECRET), ("vision-*", "bert")),
                 Token("ops", Role.ADMIN, hash_token(ADMIN))])
    client = UIClient(registry, auth)
    signed = client.post("/login", {"csrf": csrf_field(client.get("/login").text), "token": SECRET, "next": "/"})
    assert signed.status_code == 303
    yield client
    client.close()


def shown(page: str, name: str) -> str:
    """A page's text with a model's name taken out, so two models' pages compare."""
    return page.replace(name, "MODEL")


def test_the_models_page_lists_only_the_scope_and_counts_only_it(ui: UIClient) -> None:
    page = ui.get("/").text
    assert "vision-resnet" in page and "bert" in page and "fraud-score" not in page
    assert "2 models in this registry" in page
    filtered = ui.get("/?q=fraud").text  # matches the hidden model's description
    assert "fraud-score" not in filtered and "credit card" not in filtered
    assert "vision · admin · vision-*, bert" in page


@pytest.mark.parametrize("path", ["/models/{m}", "/models/{m}/versions/1.0.0", "/models/{m}/compare?v=1.0.0&v=1.1.0"])
def test_another_models_pages_are_the_404_of_a_missing_model(ui: UIClient, path: str) -> None:
    hidden = ui.get(path.format(m="fraud-score"))
    missing = ui.get(path.format(m="fraud-gone"))
    assert hidden.status_code == missing.status_code == 404
    assert shown(hidden.text, "fraud-score") == shown(missing.text, "fraud-gone")
    assert ui.get(path.format(m="bert")).status_code == 200


def test_search_finds_only_the_scopes_versions(ui: UIClient) -> None:
    page = ui.get("/search", params={"where": "version >= '1.0.0'"}).text
    assert "vision-resnet" in page and "bert" in page and "fraud-score" not in page
    hidden = ui.get("/search", params={"name": "fraud-score"})
    missing = ui.get("/search", params={"name": "fraud-gone"})
    assert hidden.status_code == missing.status_code == 200
    assert shown(hidden.text, "fraud-score") == shown(missing.text, "fraud-gone")


@pytest.mark.parametrize(("path", "fields"), [
    ("/models/{m}/aliases", {"alias": "production", "version": "1.1.0", "action": "set", "confirm": "yes"}),
    ("/models/{m}/aliases", {"alias": "production", "action": "remove", "confirm": "yes"}),
    ("/models/{m}/annotate", {"description": "mine now", "confirm": "yes"}),
    ("/models/{m}/versions/1.0.0/annotate", {"description": "mine now", "confirm": "yes"}),
    ("/models/{m}/versions/1.1.0/unregister", {"confirm": "yes"}),
])
def test_forms_for_another_model_answer_as_for_a_missing_one_and_change_nothing(
    ui: UIClient, registry: ModelRegistry, path: str, fields: dict[str, str]
) -> None:
    before = registry.history("fraud-score")
    csrf = ui.csrf()
    hidden = ui.post(path.format(m="fraud-score"), {"csrf": csrf, **fields})
    missing = ui.post(path.format(m="fraud-gone"), {"csrf": csrf, **fields})
    assert hidden.status_code == missing.status_code == 404
    assert shown(hidden.text, "fraud-score") == shown(missing.text, "fraud-gone")
    assert registry.history("fraud-score") == before
    done = ui.post(path.format(m="bert"), {"csrf": csrf, **fields})
    assert done.status_code == 303  # in scope the same form writes
