"""The models page, sign-in redirects and static assets, through the real app over a memory registry."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from modelreg import MemoryRegistry, ModelMetadata, ModelRegistry
from modelreg.server import create_app
from modelreg.server.auth import Auth, Role, Token, hash_token
from modelreg.server.ui.pages import MODELS_PER_PAGE


def _metadata(version: str) -> ModelMetadata:
    return ModelMetadata(version=version, training_date=datetime(2026, 1, 5, tzinfo=UTC),
                         performance_metrics={"top1": 0.75}, artifact_path=f"s3://models/{version}")


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    with MemoryRegistry() as reg:
        yield reg


def get(registry: ModelRegistry, path: str, *, auth: Auth | None = None, **headers: str) -> httpx.Response:
    """One GET through the ASGI app, as a browser would send it."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(registry, auth=auth))
        async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
            return await client.get(path, headers={"accept": "text/html", **headers})

    return asyncio.run(go())


def rows(html: str) -> list[str]:
    """The model names of the models table, in order."""
    return re.findall(r'<th scope="row"><a href="/models/[^"]+">([^<]+)</a></th>', html)


def test_models_page_lists_each_model_with_its_count_latest_aliases_and_description(registry: ModelRegistry) -> None:
    for version in ("1.0.0", "1.1.0", "2.0.0-rc.1"):
        registry.register_model("resnet50", version, _metadata(version))
    registry.set_alias("resnet50", "production", "1.0.0")
    registry.annotate_model("resnet50", description="Image classifier\nsecond line")
    response = get(registry, "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert rows(html) == ["resnet50"]
    assert '<td class="num">3</td>' in html
    assert 'href="/models/resnet50/versions/1.1.0">1.1.0</a>' in html  # latest skips the prerelease
    assert "production <span class=\"mono\">1.0.0</span>" in html
    assert "Image classifier</td>" in html  # the first line only


def test_models_page_escapes_what_users_wrote(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0", _metadata("1.0.0"))
    registry.annotate_model("m", description="<script>alert(1)</script>")
    html = get(registry, "/").text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_models_page_filters_by_name_or_description_case_insensitively(registry: ModelRegistry) -> None:
    for name in ("resnet50", "resnet101", "bert-base"):
        registry.register_model(name, "1.0.0", _metadata("1.0.0"))
    registry.annotate_model("bert-base", description="A ResNet-free language model")
    assert rows(get(registry, "/?q=RESNET").text) == ["bert-base", "resnet101", "resnet50"]
    assert rows(get(registry, "/?q=101").text) == ["resnet101"]
    html = get(registry, "/?q=nothing-like-it").text
    assert rows(html) == [] and "No model matches" in html


def test_models_page_pages_through_many_models_in_name_order(registry: ModelRegistry) -> None:
    names = [f"model-{i:03d}" for i in range(MODELS_PER_PAGE + 7)]
    for name in names:
        registry.register_model(name, "1.0.0", _metadata("1.0.0"))
    first = get(registry, "/").text
    assert rows(first) == names[:MODELS_PER_PAGE]
    assert 'href="/?page=2"' in first
    second = get(registry, "/?page=2").text
    assert rows(second) == names[MODELS_PER_PAGE:]
    past = get(registry, "/?page=3")
    assert past.status_code == 404 and "there are 2 pages" in past.text


def test_models_page_orders_by_last_change_when_asked(registry: ModelRegistry) -> None:
    for name in ("a", "b", "c"):
        registry.register_model(name, "1.0.0", _metadata("1.0.0"))
    registry.annotate_model("a", description="touched last")
    assert rows(get(registry, "/?sort=changed").text) == ["a", "c", "b"]


@pytest.mark.parametrize(
    ("query", "message"),
    [("page=0", "page must be a whole number from 1"), ("page=x", "page must be a whole number"),
     ("sort=size", "sort must be one of name, changed"), ("q=" + "x" * 201, "longer than 200 characters")],
)
def test_bad_models_page_parameters_get_a_400_page_that_says_what_is_allowed(
    registry: ModelRegistry, query: str, message: str
) -> None:
    response = get(registry, f"/?{query}")
    assert response.status_code == 400
    assert message in response.text
    assert "Traceback" not in response.text


def test_pages_carry_a_strict_content_security_policy_and_no_store(registry: ModelRegistry) -> None:
    response = get(registry, "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_with_tokens_a_browser_without_a_sign_in_is_sent_to_the_login_page(registry: ModelRegistry) -> None:
    auth = Auth([Token("reader", Role.READ, hash_token("tok-read-0123456789"))])
    response = get(registry, "/?q=x", auth=auth)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F%3Fq%3Dx"
    login = get(registry, "/login", auth=auth)
    assert login.status_code == 200 and 'name="token"' in login.text


def test_static_assets_are_served_with_their_content_hash_and_cached_by_it(registry: ModelRegistry) -> None:
    html = get(registry, "/").text
    href = re.search(r'href="(/static/style\.css\?v=[0-9a-f]{12})"', html)
    assert href is not None
    pinned = get(registry, href[1])
    assert pinned.status_code == 200 and pinned.headers["content-type"] == "text/css; charset=utf-8"
    assert "immutable" in pinned.headers["cache-control"]
    assert "immutable" not in get(registry, "/static/style.css?v=old").headers["cache-control"]
    assert get(registry, "/static/nothing.js").status_code == 404


def test_an_unknown_page_is_a_404_page_for_a_browser_and_a_problem_for_an_api_client(registry: ModelRegistry) -> None:
    page = get(registry, "/nowhere")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "there is no page at" in page.text
    api = get(registry, "/nowhere", accept="application/json")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_without_the_ui_the_root_is_the_apis_404(registry: ModelRegistry) -> None:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(registry, ui=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
            return await client.get("/", headers={"accept": "text/html"})

    response = asyncio.run(go())
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
