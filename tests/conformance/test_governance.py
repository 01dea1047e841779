"""Alias policies and promotions behave the same on every backend and over HTTP (docs/governance.md).

``act(name)`` gives the registry as seen by an actor of that name: in-process, the same
registry inside ``acting_as(name)``; over HTTP, a client holding a write token of that name
on the same server. ``registry`` itself may set policies (an admin over HTTP).
"""

from __future__ import annotations

from typing import Any

import pytest

from factories import metadata
from modelreg import (
    AliasNotFoundError,
    AliasPolicy,
    InvalidPolicyError,
    ModelRegistry,
    PolicyError,
    PolicyNotFoundError,
    PromotionNotFoundError,
    VersionInUseError,
)

GATES = AliasPolicy(
    require=["metrics.top1 >= 0.75", "metrics.latency_ms <= 15", "not version satisfies '<1.0.0'"],
    must_not_regress=["metrics.top1"],
    approvals=2,
)


def _versions(registry: ModelRegistry, name: str = "resnet50") -> None:
    for version, top1, latency in [
        ("0.9.0", 0.90, 5), ("1.4.2", 0.76, 12), ("1.5.0", 0.78, 11), ("1.6.0", 0.70, 10), ("1.7.0", 0.80, 20),
    ]:
        registry.register_model(name, version, metadata(performance_metrics={"top1": top1, "latency_ms": latency}))


@pytest.fixture
def governed(registry: ModelRegistry) -> ModelRegistry:
    """resnet50 with five versions, production at 1.4.2 and GATES on production."""
    _versions(registry)
    registry.set_alias("resnet50", "production", "1.4.2")
    registry.set_alias_policy("resnet50", "production", GATES)
    return registry


def _kinds(registry: ModelRegistry, since: int) -> list[tuple[Any, ...]]:
    return [(e.kind, e.version, e.alias) for e in registry.history("resnet50")[since:]]


# -- policies --------------------------------------------------------------------------------------------------


def test_a_policy_is_set_read_back_equal_replaced_and_removed(registry: ModelRegistry) -> None:
    _versions(registry)
    assert registry.get_alias_policy("resnet50", "production") is None
    registry.set_alias_policy("resnet50", "production", GATES)
    assert registry.get_alias_policy("resnet50", "production") == GATES
    loose = AliasPolicy(require=["metrics.top1 > 0.5"])
    registry.set_alias_policy("resnet50", "production", loose)
    assert registry.get_alias_policy("resnet50", "production") == loose
    registry.remove_alias_policy("resnet50", "production")
    assert registry.get_alias_policy("resnet50", "production") is None
    events = [e for e in registry.history("resnet50") if e.kind.startswith("policy_")]
    assert [(e.kind, e.alias) for e in events] == [
        ("policy_set", "production"), ("policy_set", "production"), ("policy_removed", "production"),
    ]
    assert AliasPolicy.from_dict(dict(events[0].detail or {})) == GATES


def test_removing_a_policy_that_is_not_there_is_an_error_and_records_nothing(registry: ModelRegistry) -> None:
    _versions(registry)
    before = registry.history("resnet50")
    with pytest.raises(PolicyNotFoundError, match="no policy"):
        registry.remove_alias_policy("resnet50", "production")
    assert registry.history("resnet50") == before


def test_a_policy_that_cannot_be_evaluated_is_refused_as_it_is_made() -> None:
    with pytest.raises(InvalidPolicyError, match=r"require\[0\]"):
        AliasPolicy(require=["metrics.top1 >>= 1"])
    with pytest.raises(InvalidPolicyError, match="must_not_regress"):
        AliasPolicy(must_not_regress=["tags.team"])
    with pytest.raises(InvalidPolicyError, match="approvals"):
        AliasPolicy(approvals=-1)


# -- direct moves under a policy without approvals ------------------------------------------------------------


def test_set_alias_moves_an_alias_whose_policy_passes_and_needs_no_approvals(registry: ModelRegistry) -> None:
    _versions(registry)
    registry.set_alias("resnet50", "production", "1.4.2")
    registry.set_alias_policy("resnet50", "production", AliasPolicy(require=GATES.require))
    registry.set_alias("resnet50", "production", "1.5.0")
    assert registry.get_aliases("resnet50")["production"] == "1.5.0"


def test_a_failing_requirement_names_itself_and_the_actual_value_and_changes_nothing(
    registry: ModelRegistry,
) -> None:
    _versions(registry)
    registry.set_alias("resnet50", "production", "1.4.2")
    gates = AliasPolicy(require=GATES.require, must_not_regress=["metrics.top1"])
    registry.set_alias_policy("resnet50", "production", gates)
    before = registry.history("resnet50")
    with pytest.raises(PolicyError, match=r"metrics\.top1 >= 0\.75 \(metrics\.top1 is 0\.7\)") as raised:
        registry.set_alias("resnet50", "production", "1.6.0")
    assert "worse than 0.76" in str(raised.value)  # the regression is named too
    with pytest.raises(PolicyError, match=r"metrics\.latency_ms is 20"):
        registry.set_alias("resnet50", "production", "1.7.0")
    with pytest.raises(PolicyError, match=r"version is 0\.9\.0"):
        registry.set_alias("resnet50", "production", "0.9.0")
    assert registry.get_aliases("resnet50")["production"] == "1.4.2"
    assert registry.history("resnet50") == before


def test_lower_is_better_with_desc(registry: ModelRegistry) -> None:
    _versions(registry)
    registry.set_alias("resnet50", "fast", "1.5.0")  # latency 11
    registry.set_alias_policy("resnet50", "fast", AliasPolicy(must_not_regress=["metrics.latency_ms desc"]))
    with pytest.raises(PolicyError, match="latency_ms desc"):
        registry.set_alias("resnet50", "fast", "1.4.2")  # latency 12: worse
    registry.set_alias("resnet50", "fast", "1.6.0")  # latency 10: better
    assert registry.get_aliases("resnet50")["fast"] == "1.6.0"


def test_an_alias_without_a_policy_moves_as_before(registry: ModelRegistry) -> None:
    _versions(registry)
    registry.set_alias_policy("resnet50", "production", GATES)
    registry.set_alias("resnet50", "staging", "1.6.0")
    registry.remove_alias("resnet50", "staging")
    assert "staging" not in registry.get_aliases("resnet50")


# -- approvals ---------------------------------------------------------------------------------------------------


def test_set_alias_and_remove_alias_on_an_alias_needing_approvals_say_to_request_a_promotion(
    governed: ModelRegistry,
) -> None:
    before = governed.history("resnet50")
    with pytest.raises(PolicyError, match="2 approval.*request a promotion"):
        governed.set_alias("resnet50", "production", "1.5.0")
    with pytest.raises(PolicyError, match="removing it needs 2 approval"):
        governed.remove_alias("resnet50", "production")
    assert governed.get_aliases("resnet50") == {"production": "1.4.2"}
    assert governed.history("resnet50") == before


def test_a_request_two_others_approve_moves_the_alias_and_history_tells_it_all(
    governed: ModelRegistry, act: Any
) -> None:
    start = len(governed.history("resnet50"))
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "production", "1.5.0", reason="beats 1.4.2 on v2 eval")
        assert (request.state, request.version, request.reason) == ("pending", "1.5.0", "beats 1.4.2 on v2 eval")
        assert request.requested_by == "ci"
        with pytest.raises(PolicyError, match="cannot approve"):
            ci.approve_promotion(request.id)
    with act("alice") as alice:
        once = alice.approve_promotion(request.id)
        assert (once.state, once.approvals) == ("pending", ("alice",))
        assert governed.get_aliases("resnet50")["production"] == "1.4.2"
        with pytest.raises(PolicyError, match="counts once"):
            alice.approve_promotion(request.id)
    with act("bob") as bob:
        done = bob.approve_promotion(request.id)
    assert (done.state, done.approvals, done.decided_by) == ("approved", ("alice", "bob"), "bob")
    assert governed.get_aliases("resnet50")["production"] == "1.5.0"
    assert governed.get_promotion(request.id) == done
    events = governed.history("resnet50")[start:]
    assert [(e.kind, e.version, e.alias, e.actor) for e in events] == [
        ("promotion_requested", "1.5.0", "production", "ci"),
        ("promotion_approved", "1.5.0", "production", "alice"),
        ("promotion_approved", "1.5.0", "production", "bob"),
        ("alias_set", "1.5.0", "production", "bob"),
    ]
    assert events[-1].revision == events[-2].revision + 1  # one write: the approval and the move


def test_a_request_failing_the_policy_is_refused_and_leaves_no_request(governed: ModelRegistry, act: Any) -> None:
    before = governed.history("resnet50")
    with act("ci") as ci, pytest.raises(PolicyError, match=r"metrics\.top1 is 0\.7"):
        ci.request_promotion("resnet50", "production", "1.6.0")
    assert governed.list_promotions("resnet50") == []
    assert governed.history("resnet50") == before


def test_requesting_what_the_alias_points_at_already_is_refused(governed: ModelRegistry, act: Any) -> None:
    with act("ci") as ci, pytest.raises(PolicyError, match="already"):
        ci.request_promotion("resnet50", "production", "1.4.2")


def test_requirements_are_checked_again_at_the_final_approval(registry: ModelRegistry, act: Any) -> None:
    _versions(registry)
    registry.annotate("resnet50", "1.5.0", set_tags={"eval": "passed"})
    registry.set_alias("resnet50", "production", "1.4.2")
    registry.set_alias_policy("resnet50", "production", AliasPolicy(require=["tags.eval = 'passed'"], approvals=1))
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "production", "1.5.0")
    registry.annotate("resnet50", "1.5.0", remove_tags=["eval"])
    before = registry.history("resnet50")
    with act("alice") as alice, pytest.raises(PolicyError, match="at the final approval.*tags.eval is missing"):
        alice.approve_promotion(request.id)
    assert registry.history("resnet50") == before
    assert registry.get_promotion(request.id).state == "pending"
    assert registry.get_aliases("resnet50")["production"] == "1.4.2"


def test_a_rejected_request_cannot_be_approved_and_the_alias_stays(governed: ModelRegistry, act: Any) -> None:
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "production", "1.5.0")
    with act("alice") as alice:
        rejected = alice.reject_promotion(request.id, reason="wait for the v3 eval")
    assert (rejected.state, rejected.decided_by, rejected.decision_reason) == (
        "rejected", "alice", "wait for the v3 eval",
    )
    with act("bob") as bob, pytest.raises(PolicyError, match="rejected already"):
        bob.approve_promotion(request.id)
    assert governed.get_aliases("resnet50")["production"] == "1.4.2"
    assert governed.history("resnet50")[-1].kind == "promotion_rejected"


def test_an_unknown_request_id_is_not_found(governed: ModelRegistry, act: Any) -> None:
    with pytest.raises(PromotionNotFoundError):
        governed.get_promotion(99)
    with act("alice") as alice, pytest.raises(PromotionNotFoundError):
        alice.approve_promotion(99)
    with act("alice") as alice, pytest.raises(PromotionNotFoundError):
        alice.reject_promotion(99)


def test_removing_a_protected_alias_takes_a_request_with_no_version(governed: ModelRegistry, act: Any) -> None:
    governed.set_alias_policy("resnet50", "production", AliasPolicy(approvals=1))
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "production", None, reason="retire it")
    assert request.version is None
    with act("alice") as alice:
        alice.approve_promotion(request.id)
    assert "production" not in governed.get_aliases("resnet50")
    assert _kinds(governed, -2) == [
        ("promotion_approved", None, "production"), ("alias_removed", "1.4.2", "production"),
    ]


def test_a_request_needing_no_approvals_moves_the_alias_at_once(registry: ModelRegistry, act: Any) -> None:
    _versions(registry)
    registry.set_alias_policy("resnet50", "staging", AliasPolicy(require=["metrics.top1 >= 0.75"]))
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "staging", "1.5.0")
    assert request.state == "approved"
    assert registry.get_aliases("resnet50")["staging"] == "1.5.0"
    assert _kinds(registry, -2) == [("promotion_requested", "1.5.0", "staging"), ("alias_set", "1.5.0", "staging")]


def test_list_promotions_filters_by_model_and_state(governed: ModelRegistry, act: Any) -> None:
    _versions(governed, "bert")
    governed.set_alias_policy("bert", "production", AliasPolicy(approvals=1))
    with act("ci") as ci:
        first = ci.request_promotion("resnet50", "production", "1.5.0")
        second = ci.request_promotion("bert", "production", "1.4.2")
        third = ci.request_promotion("resnet50", "production", "1.5.0")  # a second request for the same move
    with act("alice") as alice:
        alice.reject_promotion(third.id)
    assert [r.id for r in governed.list_promotions()] == [first.id, second.id, third.id]
    assert [r.id for r in governed.list_promotions("resnet50")] == [first.id, third.id]
    assert [r.id for r in governed.list_promotions("resnet50", state="pending")] == [first.id]
    assert [r.id for r in governed.list_promotions(state="rejected")] == [third.id]


# -- what a policy protects ------------------------------------------------------------------------------------------


def test_a_protected_alias_target_cannot_be_unregistered_or_its_model_deleted_even_with_force(
    governed: ModelRegistry,
) -> None:
    before = governed.history("resnet50")
    with pytest.raises(PolicyError, match="protected"):
        governed.unregister_model("resnet50", "1.4.2", force=True)
    with pytest.raises(PolicyError, match="protected"):
        governed.delete_model("resnet50", force=True)
    assert governed.history("resnet50") == before
    governed.set_alias("resnet50", "staging", "1.5.0")  # no policy: force removes it as before
    with pytest.raises(VersionInUseError):
        governed.unregister_model("resnet50", "1.5.0")
    governed.unregister_model("resnet50", "1.5.0", force=True)
    assert "staging" not in governed.get_aliases("resnet50")


def test_prune_keeps_a_version_with_a_pending_promotion(governed: ModelRegistry, act: Any) -> None:
    with act("ci") as ci:
        ci.request_promotion("resnet50", "production", "1.5.0")
    removed = governed.prune("resnet50", keep_latest=1, dry_run=False)
    assert ("resnet50", "1.5.0") not in removed and ("resnet50", "1.4.2") not in removed
    assert set(governed.get_versions("resnet50")) == {"1.4.2", "1.5.0", "1.7.0"}


def test_an_alias_that_does_not_exist_cannot_be_requested_removed(governed: ModelRegistry, act: Any) -> None:
    governed.set_alias_policy("resnet50", "canary", AliasPolicy(approvals=1))
    with act("ci") as ci, pytest.raises(AliasNotFoundError):
        ci.request_promotion("resnet50", "canary", None)


# -- what the approvals are for ------------------------------------------------------------------------------------


@pytest.mark.parametrize("again", ["1.5.0", "1.5.0+evil"])
def test_approvals_do_not_carry_over_to_a_version_registered_again_in_the_targets_place(
    governed: ModelRegistry, act: Any, again: str
) -> None:
    with act("ci") as ci:
        request = ci.request_promotion("resnet50", "production", "1.5.0")
    with act("alice") as alice:
        alice.approve_promotion(request.id)
    governed.unregister_model("resnet50", "1.5.0")
    governed.register_model("resnet50", again, metadata(
        artifact_path="s3://elsewhere/1.5.0", performance_metrics={"top1": 0.99, "latency_ms": 1}))
    before = governed.history("resnet50")
    with act("bob") as bob, pytest.raises(PolicyError, match="registration is gone"):
        bob.approve_promotion(request.id)
    assert governed.get_aliases("resnet50")["production"] == "1.4.2"
    assert governed.history("resnet50") == before


def test_an_alias_whose_policy_keeps_a_regression_baseline_cannot_be_removed_then_set_lower(
    registry: ModelRegistry, act: Any
) -> None:
    _versions(registry)
    registry.set_alias("resnet50", "production", "1.5.0")
    registry.set_alias_policy("resnet50", "production", AliasPolicy(must_not_regress=["metrics.top1"]))
    before = registry.history("resnet50")
    with pytest.raises(PolicyError, match="must not regress"):
        registry.remove_alias("resnet50", "production")
    with act("ci") as ci, pytest.raises(PolicyError, match="must not regress"):
        ci.request_promotion("resnet50", "production", None)
    assert registry.history("resnet50") == before
    with pytest.raises(PolicyError, match="worse than"):
        registry.set_alias("resnet50", "production", "1.6.0")


def test_setting_a_governed_alias_to_its_current_target_is_a_no_op(governed: ModelRegistry) -> None:
    before = governed.history("resnet50")
    governed.set_alias("resnet50", "production", "1.4.2")  # approvals needed, but nothing moves
    assert governed.history("resnet50") == before


def test_a_second_request_for_the_same_move_approves_without_a_second_alias_event(
    governed: ModelRegistry, act: Any
) -> None:
    governed.set_alias_policy("resnet50", "production", AliasPolicy(approvals=1))
    with act("ci") as ci:
        first = ci.request_promotion("resnet50", "production", "1.5.0")
        second = ci.request_promotion("resnet50", "production", "1.5.0")
    with act("alice") as alice:
        alice.approve_promotion(first.id)
        assert alice.approve_promotion(second.id).state == "approved"
    moves = [e for e in governed.history("resnet50", kinds=["alias_set"]) if e.version == "1.5.0"]
    assert len(moves) == 1
