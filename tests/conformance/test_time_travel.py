"""``get_versions``/``get_aliases``/``resolve`` with ``at=T``: the registry as it stood at T, on every backend."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import metadata
from modelreg import ModelRegistry, QueryError, RegistryError, VersionNotFoundError

SPECS = ("latest", "^1", "~1.1", ">=1.0.0 <2.0.0", "production", "staging")
_names = itertools.count()


def _resolved(registry: ModelRegistry, name: str, spec: str, **at: Any) -> str | None:
    try:
        return registry.resolve(name, spec, **at)
    except VersionNotFoundError:
        return None


def _now(registry: ModelRegistry, name: str) -> tuple[list[str], dict[str, str], dict[str, str | None]]:
    """What the registry answers now, without ``at``: the reference a past answer must match."""
    specs = {spec: _resolved(registry, name, spec) for spec in SPECS}
    return registry.get_versions(name), registry.get_aliases(name), specs


def _then(registry: ModelRegistry, name: str, at: datetime) -> tuple[list[str], dict[str, str], dict[str, str | None]]:
    specs = {spec: _resolved(registry, name, spec, at=at) for spec in SPECS}
    return registry.get_versions(name, at=at), registry.get_aliases(name, at=at), specs


def _last_at(registry: ModelRegistry, name: str) -> datetime:
    return registry.history(name)[-1].at


def test_answers_follow_the_history_alias_moves_and_unregistration(registry: ModelRegistry) -> None:
    registry.register_model("tt", "1.0.0", metadata())
    registry.set_alias("tt", "production", "1.0.0")
    t1 = _last_at(registry, "tt")
    registry.register_model("tt", "1.1.0", metadata())
    registry.set_alias("tt", "production", "1.1.0")
    t2 = _last_at(registry, "tt")
    registry.unregister_model("tt", "1.1.0", force=True)
    t3 = _last_at(registry, "tt")

    assert registry.get_aliases("tt", at=t1) == {"production": "1.0.0"}
    assert registry.get_versions("tt", at=t1) == ["1.0.0"]
    assert registry.resolve("tt", "production", at=t2) == "1.1.0"
    assert registry.resolve("tt", "latest", at=t2) == "1.1.0"
    assert registry.get_versions("tt", at=t2) == ["1.0.0", "1.1.0"]
    assert registry.get_aliases("tt", at=t3) == {}
    assert registry.get_versions("tt", at=t3) == ["1.0.0"]
    assert registry.resolve("tt", "^1", at=t3) == "1.0.0"


def test_a_removed_alias_is_there_before_its_removal_and_gone_after(registry: ModelRegistry) -> None:
    registry.register_model("tt-rm", "1.0.0", metadata())
    registry.set_alias("tt-rm", "staging", "1.0.0")
    set_at = _last_at(registry, "tt-rm")
    registry.remove_alias("tt-rm", "staging")

    assert registry.get_aliases("tt-rm", at=set_at) == {"staging": "1.0.0"}
    assert registry.get_aliases("tt-rm", at=_last_at(registry, "tt-rm")) == {}
    with pytest.raises(VersionNotFoundError, match="no alias 'staging'"):
        registry.resolve("tt-rm", "staging", at=_last_at(registry, "tt-rm"))


def test_versions_at_a_time_are_in_precedence_order_not_registration_order(registry: ModelRegistry) -> None:
    for version in ("2.0.0", "1.0.0-rc.1", "1.0.0", "1.10.0", "1.2.0+build.5"):
        registry.register_model("tt-order", version, metadata())

    at = _last_at(registry, "tt-order")

    assert registry.get_versions("tt-order", at=at) == ["1.0.0-rc.1", "1.0.0", "1.2.0+build.5", "1.10.0", "2.0.0"]
    assert registry.resolve("tt-order", "latest", at=at) == "2.0.0"
    assert registry.resolve("tt-order", "~1.2", at=at) == "1.2.0+build.5"


def test_a_time_before_the_first_event_has_nothing(registry: ModelRegistry) -> None:
    registry.register_model("tt-early", "1.0.0", metadata())
    registry.set_alias("tt-early", "production", "1.0.0")
    before = registry.history("tt-early")[0].at - timedelta(microseconds=1)

    assert registry.get_versions("tt-early", at=before) == []
    assert registry.get_aliases("tt-early", at=before) == {}
    with pytest.raises(VersionNotFoundError, match="no versions"):
        registry.resolve("tt-early", "production", at=before)
    assert registry.get_versions("tt-never", at=before) == []
    assert registry.get_aliases("tt-never", at=before) == {}


def test_versions_deleted_with_the_model_stay_in_the_past(registry: ModelRegistry) -> None:
    registry.register_model("tt-deleted", "1.0.0", metadata())
    registry.set_alias("tt-deleted", "production", "1.0.0")
    alive = _last_at(registry, "tt-deleted")
    registry.delete_model("tt-deleted", force=True)

    assert registry.get_versions("tt-deleted") == []
    assert registry.resolve("tt-deleted", "production", at=alive) == "1.0.0"
    assert registry.get_versions("tt-deleted", at=datetime.now(UTC)) == []


def test_at_now_is_what_the_registry_answers_without_at(registry: ModelRegistry) -> None:
    registry.register_model("tt-now", "1.0.0", metadata())
    registry.register_model("tt-now", "1.5.0", metadata())
    registry.set_alias("tt-now", "staging", "1.5.0")

    assert _then(registry, "tt-now", datetime.now(UTC)) == _now(registry, "tt-now")


def test_a_future_time_is_refused_naming_it(registry: ModelRegistry) -> None:
    registry.register_model("tt-future", "1.0.0", metadata())
    future = datetime.now(UTC) + timedelta(days=1)

    for read in (registry.get_versions, registry.get_aliases):
        with pytest.raises(QueryError, match="in the future"):
            read("tt-future", at=future)
    with pytest.raises(QueryError, match="in the future"):
        registry.resolve("tt-future", "latest", at=future)


def test_a_naive_time_is_refused_like_a_naive_training_date(registry: ModelRegistry) -> None:
    naive = datetime(2026, 1, 1, 12, 0)

    with pytest.raises(QueryError, match="no time zone"):
        registry.get_aliases("tt-naive", at=naive)
    with pytest.raises(QueryError, match="no time zone"):
        registry.resolve("tt-naive", "latest", at=naive)


def test_at_must_be_a_datetime(registry: ModelRegistry) -> None:
    with pytest.raises(TypeError, match="at must be a datetime"):
        registry.get_versions("tt-type", at="2026-01-01T00:00:00Z")  # type: ignore[arg-type]


def test_a_time_in_another_offset_means_the_same_instant(registry: ModelRegistry) -> None:
    registry.register_model("tt-offset", "1.0.0", metadata())
    at = _last_at(registry, "tt-offset")
    elsewhere = at.astimezone(timezone(timedelta(hours=-5)))

    assert registry.get_versions("tt-offset", at=elsewhere) == ["1.0.0"]
    assert registry.get_versions("tt-offset", at=elsewhere - timedelta(microseconds=1)) == []


_VERSIONS = st.sampled_from(["1.0.0", "1.1.0", "1.1.1", "2.0.0-beta.1", "2.0.0"])
_ALIASES = st.sampled_from(["production", "staging"])
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("register"), _VERSIONS),
        st.tuples(st.just("unregister"), _VERSIONS),
        st.tuples(st.just("set"), _VERSIONS, _ALIASES),
        st.tuples(st.just("remove"), _ALIASES),
    ),
    min_size=1,
    max_size=12,
)


def _do(registry: ModelRegistry, name: str, op: tuple[str, ...]) -> None:
    if op[0] == "register":
        registry.register_model(name, op[1], metadata())
    elif op[0] == "unregister":
        registry.unregister_model(name, op[1], force=True)  # also removes the aliases on it, as events
    elif op[0] == "set":
        registry.set_alias(name, op[2], op[1])
    else:
        registry.remove_alias(name, op[1])


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_past_answers_match_what_the_registry_said_at_each_moment(registry: ModelRegistry, ops: list[Any]) -> None:
    """After each write the registry is asked without ``at``; later, ``at`` that write's time must say the same."""
    name = f"tt-random-{next(_names)}"
    moments: list[tuple[datetime, datetime, Any]] = []  # (first event's time, last event's time, answers then)
    seen = 0
    for op in ops:
        try:
            _do(registry, name, op)
        except RegistryError:
            continue  # refused: no event, nothing changed
        events = registry.history(name)
        moments.append((events[seen].at, events[-1].at, _now(registry, name)))
        seen = len(events)
    if not moments:
        return
    empty: Any = ([], {}, dict.fromkeys(SPECS))
    assert _then(registry, name, moments[0][0] - timedelta(microseconds=1)) == empty
    end = (datetime.max.replace(tzinfo=UTC), None, None)
    for (_, last, answers), (first_next, _, _) in itertools.pairwise([*moments, end]):
        if first_next <= last:
            continue  # the next write's first event has the same time: no instant between the two
        assert _then(registry, name, last) == answers
        between = min(last + (first_next - last) / 2, datetime.now(UTC))
        assert _then(registry, name, between) == answers
