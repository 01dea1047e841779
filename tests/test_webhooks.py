"""The core of webhooks: signing as Stripe / GitHub do, verification, registration rules, the frozen values."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import re
from datetime import UTC, datetime

import pytest

from modelreg import Delivery, InvalidWebhookError, RegistryEvent, Webhook, sign, verify_signature
from modelreg.events import EVENT_KINDS
from modelreg.webhooks import FAILING_AFTER, delivery_id, new_secret, registration

BODY = b'{"a":1}'
SECRET = "whsec_test_secret"
# openssl: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test_secret
EXPECTED = "sha256=aecbc681fe3d2604c08ff8e880a0988d997a12367fcf9545e6a3b90c1dfc04b7"
AT = datetime(2026, 5, 1, tzinfo=UTC)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_as_openssl_computes_it() -> None:
    assert sign(SECRET, 1700000000, BODY) == EXPECTED
    assert sign(SECRET, "1700000000", BODY) == EXPECTED


def test_verification_accepts_the_signature_and_refuses_any_change_or_a_stale_timestamp() -> None:
    assert verify_signature(SECRET, "1700000000", BODY, EXPECTED, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", b'{"a":2}', EXPECTED, now=1700000100)
    assert not verify_signature("whsec_other_secret", "1700000000", BODY, EXPECTED, now=1700000100)
    assert not verify_signature(SECRET, "1700000001", BODY, EXPECTED, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", BODY, EXPECTED, now=1700000000 + 301)  # a replay
    assert verify_signature(SECRET, "1700000000", BODY, EXPECTED, now=1700000000 + 3600, tolerance=3600)
    assert not verify_signature(SECRET, "17e8", BODY, EXPECTED, now=1700000100)
    assert not verify_signature(SECRET, "1700000000", BODY, EXPECTED.upper(), now=1700000100)


MALFORMED: list[tuple[object, object, object, object]] = [
    (SECRET, "1700000000", BODY, "sha256=\u00e9" + EXPECTED[8:]),  # a non-ASCII signature header
    (SECRET, "1700000000", BODY, "sha256=\ud800"),  # a lone surrogate, as a lenient decoder leaves one
    (SECRET, "\u00b2", BODY, EXPECTED),  # "²".isdigit() is True; int() refuses it
    (SECRET, "\u0661\u0667", BODY, EXPECTED),  # Arabic-Indic digits: int() takes them, no header has them
    (SECRET, "1" * 5000, BODY, EXPECTED),  # more digits than int() converts
    (SECRET, "", BODY, EXPECTED),
    (SECRET, None, BODY, EXPECTED),
    (SECRET, "1700000000", BODY, None),
    (SECRET, "1700000000", "not bytes", EXPECTED),
    (None, "1700000000", BODY, EXPECTED),
]


@pytest.mark.parametrize(("secret", "stamp", "body", "signature"), MALFORMED)
def test_malformed_input_is_refused_never_an_error(secret: object, stamp: object, body: object,
                                                   signature: object) -> None:
    assert verify_signature(secret, stamp, body, signature, now=1700000100) is False  # type: ignore[arg-type]


def test_the_delivery_id_tells_apart_two_events_that_reuse_a_revision() -> None:
    one = RegistryEvent("registered", "m", "1.0.0", None, 5, AT).to_dict()
    after_a_restore = RegistryEvent("registered", "m", "2.0.0", None, 5, AT).to_dict()
    ids = {delivery_id("wh_0123456789abcdef", 5, json.dumps(event).encode()) for event in (one, one, after_a_restore)}
    assert len(ids) == 2 and all(i.startswith("wh_0123456789abcdef-5-") for i in ids)


def test_a_registration_is_checked_field_by_field() -> None:
    assert registration({"url": "https://ci.example/hook"}) == ("https://ci.example/hook", None, None, None)
    assert registration({"url": "http://10.0.0.1:8080/x?y=1", "events": ["alias_set", "alias_set"],
                         "models": ["bert-*", "resnet50"], "secret": "s" * 16}) == (
        "http://10.0.0.1:8080/x?y=1", ("alias_set",), ("bert-*", "resnet50"), "s" * 16)
    bad = {
        "'url' 'gopher://x' must use http or https": {"url": "gopher://x"},
        "is not a URL": {"url": "http://host:99999/"},
        "may not have a fragment": {"url": "https://x/#frag"},
        "printable ASCII": {"url": "https://exämple.com/"},
        f"valid kinds: {', '.join(EVENT_KINDS)}": {"url": "https://x/", "events": ["registered", 3]},
        "models pattern 'a b'": {"url": "https://x/", "models": ["a b"]},
        "field 'secret' must be 16 to 256": {"url": "https://x/", "secret": "x" * 257},
        "unknown field(s) 'extra'": {"url": "https://x/", "extra": 1},
    }
    for named, body in bad.items():
        with pytest.raises(InvalidWebhookError, match=re.escape(named)):
            registration(body)


def test_a_webhook_matches_by_kind_and_model_glob() -> None:
    hook = Webhook("wh_0123456789abcdef", "https://x/", ("registered",), ("bert-*",), AT)

    def event(kind: str, name: str) -> RegistryEvent:
        return RegistryEvent(kind, name, "1.0.0", None, 1, AT)  # type: ignore[arg-type]

    assert hook.matches(event("registered", "bert-base"))
    assert not hook.matches(event("unregistered", "bert-base"))
    assert not hook.matches(event("registered", "resnet50"))
    everything = dataclasses.replace(hook, events=None, models=None)
    assert everything.matches(event("alias_removed", "resnet50"))


def test_the_values_are_frozen_round_trip_through_json_and_failing_follows_the_failures() -> None:
    hook = Webhook("wh_0123456789abcdef", "https://x/", None, ("a*",), AT, "boss", 12, FAILING_AFTER, AT, 500, "x")
    assert hook.failing and not dataclasses.replace(hook, failures=FAILING_AFTER - 1).failing
    assert Webhook.from_dict(hook.to_dict()) == hook
    attempt = Delivery(delivery_id(hook.id, 13, b"{}"), hook.id, 13, "registered", 2, AT, None, "refused", 1.25)
    assert Delivery.from_dict(attempt.to_dict()) == attempt and not attempt.ok
    for value in (hook, attempt):
        assert pickle.loads(pickle.dumps(value)) == value == copy.deepcopy(value)
        assert hash(value) == hash(copy.copy(value))
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.id = "other"  # type: ignore[misc]
    assert attempt.id == "wh_0123456789abcdef-13-44136fa355b3"  # webhook, revision, digest of the event's JSON


def test_a_made_secret_is_long_and_new_each_time() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50 and all(s.startswith("whsec_") and len(s) >= 40 for s in made)
