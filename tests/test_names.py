"""Model and alias naming rules."""

from __future__ import annotations

import pytest

from modelreg import InvalidNameError
from modelreg.names import validate_alias, validate_name


@pytest.mark.parametrize("name", ["a", "resnet50", "A.b_c-d", "9lives", "x" * 128])
def test_valid_model_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "_x", ".x", "-x", "x y", "x/y", "é", "x" * 129, "x\n"])
def test_invalid_model_names_name_the_rule(name: str) -> None:
    with pytest.raises(InvalidNameError, match="1-128 ASCII letters"):
        validate_name(name)


def test_non_string_name_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        validate_name(5)


@pytest.mark.parametrize("alias", ["production", "staging", "champion", "canary-2", "prod.eu"])
def test_valid_aliases(alias: str) -> None:
    assert validate_alias(alias) == alias


@pytest.mark.parametrize("alias", ["latest", "x", "v1", "v1.2", "v1.x", "1.0.0", "^1", "2prod", ""])
def test_aliases_that_read_as_versions_or_ranges_are_refused(alias: str) -> None:
    with pytest.raises(InvalidNameError, match="cannot be read as a version"):
        validate_alias(alias)
