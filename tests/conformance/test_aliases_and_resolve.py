"""Aliases, ``resolve`` over ranges, ``latest`` and aliases, on every backend."""

from __future__ import annotations

import pytest

from factories import metadata
from modelreg import InvalidVersionError, ModelRegistry, VersionInUseError, VersionNotFoundError


@pytest.fixture
def versions(registry: ModelRegistry) -> ModelRegistry:
    for text in ["0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.3.0-rc.1", "2.0.0-beta.1", "1.10.1+build"]:
        registry.register_model("m", text, metadata())
    return registry


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("^1.2", "1.10.1+build"),
        ("~1.2.0", "1.2.5"),
        ("~>1.2", "1.2.5"),
        (">=1.0.0 <1.2.5", "1.2.0"),
        (">= 1.0.0 < 1.2.5", "1.2.0"),
        ("1.x", "1.10.1+build"),
        ("1.2.*", "1.2.5"),
        ("0.x || 1.0.0", "1.0.0"),
        ("=1.0.0", "1.0.0"),
        ("1.0.0 - 1.2.0", "1.2.0"),
        ("*", "1.10.1+build"),
        ("latest", "1.10.1+build"),
        ("^1.3.0-rc.0", "1.10.1+build"),
        ("~1.3.0-rc.0", "1.3.0-rc.1"),
        ("^2.0.0-alpha", "2.0.0-beta.1"),
    ],
)
def test_resolve_picks_the_highest_match(versions: ModelRegistry, spec: str, expected: str) -> None:
    assert versions.resolve("m", spec) == expected


def test_prereleases_match_only_ranges_that_name_them(versions: ModelRegistry) -> None:
    assert versions.resolve("m", ">=1.2.5 <1.10.0") == "1.2.5"  # not 1.3.0-rc.1


def test_latest_falls_back_to_prereleases_only_without_a_release(registry: ModelRegistry) -> None:
    registry.register_model("m", "1.0.0-alpha", metadata())
    registry.register_model("m", "1.0.0-beta", metadata())
    assert registry.resolve("m", "latest") == "1.0.0-beta"

    registry.register_model("m", "0.1.0", metadata())
    assert registry.resolve("m", "latest") == "0.1.0"


def test_resolve_without_a_match_raises_not_found(versions: ModelRegistry) -> None:
    for spec in ["^3", "production", "latest-ish"]:
        with pytest.raises(VersionNotFoundError):
            versions.resolve("m", spec)
    with pytest.raises(VersionNotFoundError):
        versions.resolve("unknown", "latest")


def test_resolve_of_a_missing_alias_says_no_alias_version_or_range_matched(versions: ModelRegistry) -> None:
    versions.set_alias("m", "staging", "1.0.0")
    with pytest.raises(VersionNotFoundError) as missing_alias:
        versions.resolve("m", "production")
    message = str(missing_alias.value)
    assert "no alias 'production'" in message and "staging" in message
    assert "not a version or range" in message
    with pytest.raises(VersionNotFoundError) as no_match:
        versions.resolve("m", "^3")
    assert "no version matching '^3'" in str(no_match.value) and "highest is 2.0.0-beta.1" in str(no_match.value)


def test_resolve_refuses_malformed_specs(versions: ModelRegistry) -> None:
    for spec in [">>1", "^", "1.2.3.4", "!!", "has space x"]:
        with pytest.raises(InvalidVersionError):
            versions.resolve("m", spec)


def test_alias_names_a_version_and_can_move(versions: ModelRegistry) -> None:
    versions.set_alias("m", "production", "v1.2.0")
    versions.set_alias("m", "staging", "1.2.5")
    assert versions.get_aliases("m") == {"production": "1.2.0", "staging": "1.2.5"}
    assert versions.resolve("m", "production") == "1.2.0"

    versions.set_alias("m", "production", "1.2.5")
    assert versions.resolve("m", "production") == "1.2.5"

    versions.remove_alias("m", "staging")
    assert versions.get_aliases("m") == {"production": "1.2.5"}


def test_aliases_are_per_model(versions: ModelRegistry) -> None:
    versions.register_model("other", "1.0.0", metadata())
    versions.set_alias("m", "production", "1.0.0")

    assert versions.get_aliases("other") == {}
    with pytest.raises(VersionNotFoundError):
        versions.resolve("other", "production")


def test_version_with_an_alias_cannot_be_unregistered_without_force(versions: ModelRegistry) -> None:
    versions.set_alias("m", "production", "1.2.0")

    with pytest.raises(VersionInUseError) as caught:
        versions.unregister_model("m", "1.2.0")
    assert "production" in str(caught.value)
    assert versions.has_version("m", "1.2.0")

    versions.unregister_model("m", "1.2.0", force=True)
    assert not versions.has_version("m", "1.2.0")
    assert versions.get_aliases("m") == {}


def test_resolve_sees_changes_immediately(versions: ModelRegistry) -> None:
    assert versions.resolve("m", "^1") == "1.10.1+build"
    versions.register_model("m", "1.11.0", metadata())
    assert versions.resolve("m", "^1") == "1.11.0"
    versions.unregister_model("m", "1.11.0")
    assert versions.resolve("m", "^1") == "1.10.1+build"
