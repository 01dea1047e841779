"""Alias policies and promotion requests in the web UI: shown on the model page and /promotions, approved and rejected
through the two-step forms as the signed-in token, requested where a protected alias would be moved."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest

from factories import metadata
from modelreg import AliasPolicy, MemoryRegistry, ModelMetadata, ModelRegistry, acting_as
from modelreg.server.auth import Auth, Role, Token, hash_token
from support.pagekit import list_items, table_rows
from support.uiclient import UIClient, csrf_field

MODEL = "/models/resnet50"
ALIASES = "/models/resnet50/aliases"
SECRETS = {"ci": "tok-ci-0123456789abc", "alice": "tok-alice-0123456789", "bob": "tok-bob-0123456789ab",
           "reader": "tok-reader-0123456789", "vision": "tok-vision-0123456789"}
POLICY = AliasPolicy(require=["metrics.top1 >= 0.75"], must_not_regress=["metrics.top1"], approvals=2)


def _auth() -> Auth:
    tokens = [Token(name, Role.WRITE, hash_token(SECRETS[name])) for name in ("ci", "alice", "bob")]
    tokens.append(Token("reader", Role.READ, hash_token(SECRETS["reader"])))
    tokens.append(Token("vision", Role.WRITE, hash_token(SECRETS["vision"]), ("vision-*",)))
    return Auth(tokens)


def _version(top1: float) -> ModelMetadata:
    base = metadata()
    return ModelMetadata(training_date=base.training_date, hyperparameters={}, performance_metrics={"top1": top1},
                         artifact_path="s3://models/x")


@pytest.fixture
def registry() -> Iterator[ModelRegistry]:
    """resnet50 1.3.0 (top1 0.76, production), 1.4.2 (0.78), 1.5.0 (0.70); production protected by POLICY."""
    with MemoryRegistry() as reg:
        for version, top1 in (("1.3.0", 0.76), ("1.4.2", 0.78), ("1.5.0", 0.70)):
            reg.register_model("resnet50", version, _version(top1))
        reg.register_model("vision-vit", "1.0.0", _version(0.8))
        reg.set_alias("resnet50", "production", "1.3.0")
        reg.set_alias_policy("resnet50", "production", POLICY)
        yield reg


@pytest.fixture
def browser(registry: ModelRegistry) -> Iterator[Callable[[str], UIClient]]:
    """``browser(who)``: a client signed in as ``who`` (a key of SECRETS)."""
    made: list[UIClient] = []

    def make(who: str) -> UIClient:
        client = UIClient(registry, _auth())
        made.append(client)
        assert client.sign_in_with(SECRETS[who]).status_code == 303
        return client

    yield make
    for client in made:
        client.close()


def _request(registry: ModelRegistry, version: str | None = "1.4.2", *, by: str = "ci", name: str = "resnet50",
             alias: str = "production", reason: str = "beats 1.3.0 on the v2 eval") -> int:
    with acting_as(by):
        return registry.request_promotion(name, alias, version, reason=reason).id


def changes(page: str) -> list[str]:
    """The confirmation page's list of what will change."""
    found = re.search(r'<ul class="changes">(.*?)</ul>', page, re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found[1] if found else "")]


def alert(page: str) -> str:
    """The error message a page shows ('' when none)."""
    found = re.search(r'class="alert" role="alert">(.*?)</p>', page, re.S)
    return html.unescape(found[1]) if found else ""


def detail(page: str) -> str:
    """The message of an error page."""
    found = re.search(r'<p class="detail">(.*?)</p>', page, re.S)
    return html.unescape(found[1]) if found else ""


def promotion_row(page: str, number: int) -> list[str]:
    """The cells of request ``number``'s row."""
    rows = [row.cells for row in table_rows(page) if row.cells and row.cells[0] == str(number)]
    assert rows, f"no row for promotion {number}"
    return rows[0]


# -- the model page ----------------------------------------------------------------------------------------------


def test_the_model_page_marks_a_protected_alias_and_lists_its_rules(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    registry.set_alias_policy("resnet50", "canary", AliasPolicy(require=["metrics.top1 >= 0.5"]))
    page = browser("reader").get(MODEL).text
    rules = re.findall(r'<ul class="rules" aria-label="Policy of (\w+)">(.*?)</ul>', page, re.S)
    shown = {alias: [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", body)] for alias, body in rules}
    assert shown == {
        "production": ["requires metrics.top1 >= 0.75", "must not regress on metrics.top1 (higher is better)",
                       "2 approvals by others than the requester"],
        "canary": ["requires metrics.top1 >= 0.5", "no approvals: a move that passes goes through at once"],
    }
    assert '<span class="badge protected">protected</span>' in page
    assert "Policies on aliases not set yet" in page  # canary has a policy but points nowhere


def test_the_model_page_lists_pending_requests_counted_against_the_policy_and_recent_decisions(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    first = _request(registry)
    with acting_as("alice"):
        registry.approve_promotion(first)
    registry.set_alias("resnet50", "canary", "1.3.0")
    registry.set_alias_policy("resnet50", "canary", AliasPolicy(approvals=1))
    second = _request(registry, None, alias="canary", reason="retire it")
    with acting_as("bob"):
        registry.reject_promotion(second, reason="not now")
    page = browser("reader").get(MODEL).text
    assert promotion_row(page, first) == ["1", "production", "1.4.2", promotion_row(page, first)[3], "1/2 by alice",
                                          "beats 1.3.0 on the v2 eval", "pending"]
    assert promotion_row(page, first)[3].startswith("ci, ")
    decided = promotion_row(page, second)
    assert decided[2] == "remove" and decided[-1].startswith("rejected by bob") and decided[-1].endswith(": not now")
    assert page.index("Recently decided") < page.index('id="promotion-2"')


def test_a_raised_policy_counts_pending_approvals_against_the_new_number(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    registry.set_alias_policy("resnet50", "production", AliasPolicy(approvals=3))
    assert promotion_row(browser("reader").get(MODEL).text, number)[4] == "0/3"


# -- approve and reject --------------------------------------------------------------------------------------


def test_two_approvals_through_the_forms_move_production_and_record_who(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    approve = f"/promotions/{number}/approve"
    alice = browser("alice")
    page = alice.get(MODEL).text
    assert f'action="{approve}"' in page
    first = alice.post(approve, {"csrf": csrf_field(page), "back": MODEL})
    assert first.status_code == 200
    assert changes(first.text) == [
        "Approve promotion 1 of resnet50: production from 1.3.0 to 1.4.2, requested by ci "
        "('beats 1.3.0 on the v2 eval')",
        "This is approval 1 of 2: the request then waits for 1 more",
    ]
    assert registry.get_promotion(number).approvals == ()  # the confirmation wrote nothing
    done = alice.post(approve, {"csrf": csrf_field(page), "back": MODEL, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"{MODEL}?notice=promotion-approved"
    assert registry.get_promotion(number).approvals == ("alice",)
    assert f'action="{approve}"' not in alice.get(MODEL).text  # one actor counts once: no second Approve

    bob = browser("bob")
    page = bob.get("/promotions").text
    confirm = bob.post(approve, {"csrf": csrf_field(page)})
    assert changes(confirm.text)[1] == "This is the last approval needed (2 of 2): production moves to 1.4.2 now"
    moved = bob.post(approve, {"csrf": csrf_field(page), "confirm": "yes"})
    assert moved.headers["location"] == f"{MODEL}?notice=promotion-done"
    assert registry.get_aliases("resnet50") == {"production": "1.4.2"}
    last = registry.history("resnet50")[-1]
    assert (last.kind, last.version, last.actor) == ("alias_set", "1.4.2", "bob")
    after = bob.get(moved.headers["location"]).text
    assert "The promotion was carried out: the alias moved." in after
    assert list_items(after, "moves")[0].startswith("production: 1.3.0 → 1.4.2 by bob, ")
    assert promotion_row(after, number)[-1].startswith("approved by bob")


def test_an_approval_after_the_policy_was_removed_says_it_carries_the_request_out(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    registry.remove_alias_policy("resnet50", "production")
    alice = browser("alice")
    page = alice.get(MODEL).text
    assert promotion_row(page, number)[4] == "0/0"
    confirm = alice.post(f"/promotions/{number}/approve", {"csrf": csrf_field(page)})
    assert changes(confirm.text)[1] == ("This is the last approval needed (its policy asks for none now): "
                                        "production moves to 1.4.2 now")


def test_the_requester_sees_no_approve_button_and_a_forged_approval_gets_the_registrys_409(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    ci = browser("ci")
    page = ci.get(MODEL).text
    assert f'action="/promotions/{number}/approve"' not in page
    assert f'action="/promotions/{number}/reject"' in page  # a requester may withdraw
    before = registry.history("resnet50")
    for confirm in ("", "yes"):
        forged = ci.post(f"/promotions/{number}/approve", {"csrf": csrf_field(page), "confirm": confirm})
        assert forged.status_code == 409, forged.text
        assert alert(forged.text) == "ci requested promotion 1 and so cannot approve it; another actor must"
    assert registry.history("resnet50") == before


def test_a_decided_request_is_refused_with_the_registrys_message(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    with acting_as("bob"):
        registry.reject_promotion(number)
    alice = browser("alice")
    refused = alice.post(f"/promotions/{number}/approve", {"csrf": alice.csrf(MODEL)})
    assert refused.status_code == 409
    assert alert(refused.text).startswith("promotion request 1 (resnet50 production) is rejected already by bob")


def test_reject_takes_a_reason_on_the_confirmation_and_leaves_the_alias(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    alice = browser("alice")
    csrf = alice.csrf(MODEL)
    first = alice.post(f"/promotions/{number}/reject", {"csrf": csrf, "reason": "wait for the v3 eval"})
    assert changes(first.text)[1] == "production stays at 1.3.0"
    assert 'name="reason" rows="2" maxlength="2000">wait for the v3 eval</textarea>' in first.text
    done = alice.post(f"/promotions/{number}/reject",
                      {"csrf": csrf, "reason": "wait for the v3 eval", "confirm": "yes"})
    assert done.headers["location"].endswith("notice=promotion-rejected")
    found = registry.get_promotion(number)
    assert (found.state, found.decided_by, found.decision_reason) == ("rejected", "alice", "wait for the v3 eval")
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}


def test_a_reader_sees_no_buttons_and_its_post_is_refused_403(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    number = _request(registry)
    reader = browser("reader")
    page = reader.get("/promotions").text
    assert "/approve" not in page and "/reject" not in page and "Request a promotion" not in reader.get(MODEL).text
    refused = reader.post(f"/promotions/{number}/approve", {"csrf": csrf_field(page), "confirm": "yes"})
    assert refused.status_code == 403 and "needs the write role" in refused.text
    assert registry.get_promotion(number).approvals == ()


@pytest.mark.parametrize(("path", "status", "says"), [
    ("/promotions/99/approve", 404, "there is no promotion request 99"),
    ("/promotions/abc/approve", 400, "a promotion id is a whole number from 1, not 'abc'"),
    ("/promotions/0/reject", 400, "a promotion id is a whole number from 1, not '0'"),
])
def test_a_bad_promotion_id_is_the_apis_status(
    browser: Callable[[str], UIClient], path: str, status: int, says: str
) -> None:
    alice = browser("alice")
    response = alice.post(path, {"csrf": alice.csrf(MODEL), "confirm": "yes"})
    assert response.status_code == status and says in html.unescape(response.text)
    assert "Traceback" not in response.text


# -- requesting ----------------------------------------------------------------------------------------------


def test_moving_a_protected_alias_offers_a_request_with_a_reason_instead(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    ci = browser("ci")
    csrf = ci.csrf(MODEL)
    offer = ci.post(ALIASES, {"csrf": csrf, "alias": "production", "version": "1.4.2", "action": "set",
                              "back": MODEL})
    assert offer.status_code == 200
    assert changes(offer.text) == [
        "Request the promotion of production from 1.3.0 to 1.4.2",
        "production is protected: it moves once 2 other people approve (you cannot approve your own request)",
    ]
    assert ">Request promotion</button>" in offer.text and 'name="action" value="request"' in offer.text
    assert '<textarea id="confirm-reason" name="reason"' in offer.text
    assert registry.list_promotions() == []
    done = ci.post(ALIASES, {"csrf": csrf, "alias": "production", "version": "1.4.2", "action": "request",
                             "was": "1.3.0", "back": MODEL, "reason": "beats it\r\non v2", "confirm": "yes"})
    assert done.status_code == 303 and done.headers["location"] == f"{MODEL}?notice=promotion-requested"
    (made,) = registry.list_promotions()
    assert (made.version, made.requested_by, made.reason, made.state) == ("1.4.2", "ci", "beats it\non v2", "pending")
    assert registry.get_aliases("resnet50") == {"production": "1.3.0"}


def test_the_request_form_on_the_model_page_lists_the_protected_aliases(browser: Callable[[str], UIClient]) -> None:
    page = browser("ci").get(MODEL).text
    form = re.search(r'<summary>Request a promotion</summary>(.*?)</form>', page, re.S)
    assert form is not None
    assert re.findall(r'<option value="(\w+)">', form[1].split("<datalist")[0]) == ["production"]
    assert 'name="reason"' in form[1] and 'name="action" value="request"' in form[1]


def test_removing_a_protected_alias_offers_a_removal_request(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    ci = browser("ci")
    kept = ci.post(ALIASES, {"csrf": ci.csrf(MODEL), "alias": "production", "action": "remove"})
    assert kept.status_code == 409 and "cannot be removed while its policy says it must not regress" in alert(kept.text)
    registry.set_alias_policy("resnet50", "production", AliasPolicy(approvals=2))  # no baseline to keep
    page = ci.get(MODEL).text
    assert ">Request removal of production</button>" in page and ">Remove production</button>" not in page
    assert "production is protected: moving it here becomes a promotion request" in page
    csrf = csrf_field(page)
    offer = ci.post(ALIASES, {"csrf": csrf, "alias": "production", "action": "remove"})
    assert changes(offer.text)[0] == "Request the removal of production (now 1.3.0)"
    done = ci.post(ALIASES, {"csrf": csrf, "alias": "production", "action": "request_remove", "was": "1.3.0",
                             "confirm": "yes"})
    assert done.status_code == 303
    assert registry.list_promotions()[0].version is None


def test_a_request_the_policy_refuses_shows_each_failure_on_the_confirmation_step_before_writing(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    ci = browser("ci")
    before = registry.history("resnet50")
    refused = ci.post(ALIASES, {"csrf": ci.csrf(MODEL), "alias": "production", "version": "1.5.0", "action": "set"})
    assert refused.status_code == 409
    assert alert(refused.text) == (
        "resnet50 1.5.0 does not satisfy the policy of alias 'production': requires metrics.top1 >= 0.75 "
        "(metrics.top1 is 0.7); must not regress on metrics.top1: 1.5.0 has 0.7, worse than 0.76 of 1.3.0 "
        "(the current production)")
    assert registry.history("resnet50") == before and registry.list_promotions() == []


def test_an_alias_whose_policy_needs_no_approvals_moves_directly_and_a_failing_move_is_refused_first(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    registry.set_alias_policy("resnet50", "staging", AliasPolicy(require=["metrics.top1 >= 0.75"]))
    ci = browser("ci")
    csrf = ci.csrf(MODEL)
    refused = ci.post(ALIASES, {"csrf": csrf, "alias": "staging", "version": "1.5.0", "action": "set"})
    assert refused.status_code == 409 and "requires metrics.top1 >= 0.75 (metrics.top1 is 0.7)" in alert(refused.text)
    offer = ci.post(ALIASES, {"csrf": csrf, "alias": "staging", "version": "1.4.2", "action": "set"})
    assert changes(offer.text) == ["Set staging to 1.4.2"]
    done = ci.post(ALIASES, {"csrf": csrf, "alias": "staging", "version": "1.4.2", "action": "set", "confirm": "yes"})
    assert done.status_code == 303 and registry.get_aliases("resnet50")["staging"] == "1.4.2"
    assert registry.list_promotions() == []
    registry.set_alias_policy("resnet50", "staging", AliasPolicy(must_not_regress=["metrics.top1"]))
    kept = ci.post(ALIASES, {"csrf": csrf, "alias": "staging", "action": "remove"})  # refused before writing
    assert kept.status_code == 409 and "cannot be removed while its policy says it must not regress" in alert(kept.text)


# -- /promotions ---------------------------------------------------------------------------------------------


def test_the_promotions_page_lists_pending_requests_across_models_and_is_in_the_navigation(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    registry.set_alias_policy("vision-vit", "production", AliasPolicy(approvals=1))
    _request(registry)
    _request(registry, "1.0.0", name="vision-vit", reason="")
    done = _request(registry, "1.3.0", alias="canary")  # no policy: carried out at once
    alice = browser("alice")
    page = alice.get("/promotions")
    assert page.status_code == 200
    assert '<a href="/promotions" aria-current="page">Promotions</a>' in page.text
    assert '<a href="/promotions">Promotions</a>' in alice.get(MODEL).text
    assert promotion_row(page.text, 2)[:5] == ["2", "vision-vit", "production", "1.0.0", promotion_row(page.text, 2)[4]]
    assert promotion_row(page.text, 2)[5] == "0/1" and promotion_row(page.text, 1)[5] == "0/2"
    assert f'id="promotion-{done}"' not in page.text
    every = alice.get("/promotions?state=all").text
    assert promotion_row(every, done)[-1].startswith("approved by ci")


def test_a_scoped_token_sees_only_its_models_requests_and_others_are_404(
    registry: ModelRegistry, browser: Callable[[str], UIClient]
) -> None:
    registry.set_alias_policy("vision-vit", "production", AliasPolicy(approvals=1))
    hidden = _request(registry)
    own = _request(registry, "1.0.0", name="vision-vit")
    vision = browser("vision")
    page = vision.get("/promotions").text
    assert f'id="promotion-{own}"' in page and f'id="promotion-{hidden}"' not in page and "resnet50" not in page
    for action in ("approve", "reject"):
        refused = vision.post(f"/promotions/{hidden}/{action}", {"csrf": csrf_field(page), "confirm": "yes"})
        missing = vision.post(f"/promotions/999/{action}", {"csrf": csrf_field(page), "confirm": "yes"})
        assert refused.status_code == missing.status_code == 404
        assert detail(refused.text) == f"there is no promotion request {hidden}"
        assert detail(missing.text) == "there is no promotion request 999"
    assert registry.get_promotion(hidden).state == "pending"
    approved = vision.post(f"/promotions/{own}/approve", {"csrf": csrf_field(page), "confirm": "yes"})
    assert approved.status_code == 303 and registry.get_aliases("vision-vit") == {"production": "1.0.0"}


def test_a_bad_state_filter_is_a_400_page(browser: Callable[[str], UIClient]) -> None:
    response = browser("reader").get("/promotions?state=open")
    assert response.status_code == 400
    assert "state must be one of pending, approved, rejected, all, not &#39;open&#39;" in response.text
