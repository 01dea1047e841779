"""Alias policies and promotion requests in the core: their values, the rules around actors and changing policies,
replays, and racing approvals (the same on every backend: tests/conformance/test_governance.py)."""

from __future__ import annotations

import copy
import pickle
import threading
from datetime import UTC, datetime

import pytest

from factories import metadata
from modelreg import (
    AliasPolicy,
    InvalidPolicyError,
    MemoryRegistry,
    PolicyError,
    PromotionRequest,
    acting_as,
)
from modelreg._state import RegistryState
from modelreg._transitions import Change, apply
from modelreg.policies import MAX_APPROVALS, MAX_REASON_CHARS, MAX_REQUIREMENTS


@pytest.fixture
def reg() -> MemoryRegistry:
    registry = MemoryRegistry()
    for version, top1 in [("1.0.0", 0.7), ("1.1.0", 0.8), ("1.2.0", 0.9)]:
        registry.register_model("m", version, metadata(performance_metrics={"top1": top1}))
    registry.set_alias("m", "production", "1.0.0")
    return registry


# -- the values ---------------------------------------------------------------------------------------------------


def test_a_policy_is_a_plain_value_lists_given_compare_equal_and_it_pickles_copies_and_hashes() -> None:
    policy = AliasPolicy(require=["metrics.top1 >= 0.75"], must_not_regress=["metrics.top1 desc"], approvals=1)
    same = AliasPolicy(require=("metrics.top1 >= 0.75",), must_not_regress=("metrics.top1 desc",), approvals=1)
    assert policy == same and hash(policy) == hash(same)
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert copy.deepcopy(policy) == policy
    assert AliasPolicy.from_dict(policy.to_dict()) == policy
    assert policy.regressions[0].metric == "top1" and policy.regressions[0].lower_is_better
    assert "regressions" not in repr(policy)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"require": "metrics.top1 > 1"}, "require must be a list of strings"),
        ({"require": [1]}, r"require\[0\] must be a string"),
        ({"require": [""]}, r"require\[0\] .*empty"),
        ({"require": ["metrics.top1 > 'x'"]}, r"require\[0\] .*not a valid where expression"),
        ({"require": ["version > 1"] * (MAX_REQUIREMENTS + 1)}, "at most"),
        ({"must_not_regress": ["metrics.top1 sideways"]}, r"must_not_regress\[0\]"),
        ({"must_not_regress": ["version"]}, "compares metrics"),
        ({"approvals": True}, "approvals must be an int"),
        ({"approvals": MAX_APPROVALS + 1}, "approvals must be an int"),
    ],
)
def test_a_policy_that_cannot_be_evaluated_names_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidPolicyError, match=message):
        AliasPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_policy_from_a_dict_refuses_unknown_fields() -> None:
    with pytest.raises(InvalidPolicyError, match="unknown policy field.*'approval'"):
        AliasPolicy.from_dict({"approval": 2})
    with pytest.raises(InvalidPolicyError, match="must be an object"):
        AliasPolicy.from_dict([])  # type: ignore[arg-type]


def test_a_promotion_request_round_trips_through_its_dict_and_pickle() -> None:
    at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    request = PromotionRequest(3, "m", "production", None, "approved", "ci", at, "retire", ("a", "b"), "b", at)
    assert PromotionRequest.from_dict(request.to_dict()) == request
    assert pickle.loads(pickle.dumps(request)) == request


def test_a_policy_error_pickles_with_its_fields() -> None:
    error = PolicyError("no", name="m", version="1.0.0", alias="production")
    back = pickle.loads(pickle.dumps(error))
    assert (type(back), back.message, back.alias) == (PolicyError, "no", "production")


# -- actors and reasons ----------------------------------------------------------------------------------------------


def test_an_approval_without_an_actor_is_refused_and_records_nothing(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=1))
    with acting_as("ci"):
        request = reg.request_promotion("m", "production", "1.1.0")
    before = reg.history("m")
    with pytest.raises(PolicyError, match="acting_as"):
        reg.approve_promotion(request.id)
    assert reg.history("m") == before


@pytest.mark.parametrize("reason", ["x" * (MAX_REASON_CHARS + 1), "bad\x00byte", "\x1b[31mred"])
def test_a_reason_too_long_or_with_control_characters_is_refused(reg: MemoryRegistry, reason: str) -> None:
    before = reg.history("m")
    with pytest.raises(ValueError, match="printable characters"):
        reg.request_promotion("m", "production", "1.1.0", reason=reason)
    assert reg.history("m") == before and reg.list_promotions() == []


def test_a_reason_may_span_lines(reg: MemoryRegistry) -> None:
    assert reg.request_promotion("m", "staging", "1.1.0", reason="eval v2\n\tbetter").reason == "eval v2\n\tbetter"


def test_listing_promotions_in_an_unknown_state_names_the_states(reg: MemoryRegistry) -> None:
    with pytest.raises(ValueError, match="pending, approved, rejected"):
        reg.list_promotions(state="open")


# -- policies that change, and outlive versions ------------------------------------------------------------------


def test_the_policy_at_the_final_approval_decides_how_many_approvals_are_needed(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=1))
    with acting_as("ci"):
        first = reg.request_promotion("m", "production", "1.1.0")
        second = reg.request_promotion("m", "production", "1.2.0")
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=2))
    with acting_as("alice"):
        assert reg.approve_promotion(first.id).state == "pending"  # 1 of 2 now
    reg.remove_alias_policy("m", "production")
    with acting_as("bob"):
        assert reg.approve_promotion(second.id).state == "approved"  # no policy: the first approval moves it
    assert reg.get_aliases("m")["production"] == "1.2.0"


def test_a_policy_can_be_set_before_the_first_version_and_outlives_the_model(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("new", "production", AliasPolicy(require=["metrics.top1 >= 0.8"]))
    reg.register_model("new", "1.0.0", metadata(performance_metrics={"top1": 0.5}))
    with pytest.raises(PolicyError, match="top1 is 0.5"):
        reg.set_alias("new", "production", "1.0.0")
    reg.delete_model("new")
    assert reg.get_alias_policy("new", "production") == AliasPolicy(require=["metrics.top1 >= 0.8"])


def test_setting_the_same_policy_again_records_nothing(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=1))
    before = reg.history("m")
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=1))
    assert reg.history("m") == before


def test_a_requirement_on_aliases_shows_them_when_it_fails(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(require=["alias = 'staging'"]))
    with pytest.raises(PolicyError, match=r"alias is none"):
        reg.set_alias("m", "production", "1.1.0")


# -- replays and races ---------------------------------------------------------------------------------------------


def test_replaying_the_governance_events_twice_gives_the_same_state(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=2))
    with acting_as("ci"):
        done = reg.request_promotion("m", "production", "1.1.0")
        gone = reg.request_promotion("m", "production", "1.2.0")
    for actor in ("alice", "bob"):
        with acting_as(actor):
            reg.approve_promotion(done.id)
    reg.reject_promotion(gone.id, reason="no")
    changes = [
        (Change(e.kind, e.name, e.version, e.alias, None, e.detail).stamped(e.at, e.actor), e.revision)
        for e in reg.history("m")
        if e.kind.startswith(("policy_", "promotion_"))
    ]
    once = RegistryState()
    for change, revision in changes:
        once = apply(once, change, revision)
    twice = once
    for change, revision in changes:
        twice = apply(twice, change, revision)
    assert twice.promotions == once.promotions == reg._state.promotions
    assert twice.policies == once.policies == reg._state.policies


def _approve_together(reg: MemoryRegistry, number: int, actors: list[str]) -> list[str]:
    """Each actor approves request ``number`` at the same moment, from its own thread; their outcomes."""
    barrier = threading.Barrier(len(actors))
    outcomes: list[str] = []

    def approve(actor: str) -> None:
        barrier.wait()
        with acting_as(actor):
            try:
                reg.approve_promotion(number)
                outcomes.append("ok")
            except PolicyError:
                outcomes.append("refused")

    threads = [threading.Thread(target=approve, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_racing_final_approvals_move_the_alias_once(reg: MemoryRegistry) -> None:
    reg.set_alias_policy("m", "production", AliasPolicy(approvals=2))
    for round_ in range(5):
        target = ["1.1.0", "1.2.0"][round_ % 2]
        with acting_as("ci"):
            request = reg.request_promotion("m", "production", target)
        with acting_as("first"):
            reg.approve_promotion(request.id)
        start = reg.revision
        outcomes = _approve_together(reg, request.id, [f"approver-{i}" for i in range(8)])
        assert outcomes == ["ok"] + ["refused"] * 7
        after = [e for e in reg.history("m") if e.revision > start]
        assert [(e.kind, e.version) for e in after] == [("promotion_approved", target), ("alias_set", target)]
        assert reg.get_promotion(request.id).state == "approved"
        assert reg.get_aliases("m")["production"] == target
