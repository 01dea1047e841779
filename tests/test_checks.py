"""The shared argument checks: a bool is never a number, and the error names the argument and what it must be."""

from __future__ import annotations

import pytest

from modelreg._checks import int_arg, number_option, positive_int, seconds_arg


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_an_int_argument_refuses_bools_and_other_types(value: object) -> None:
    with pytest.raises(TypeError, match=r"^limit must be an int >= 1, not "):
        int_arg("limit", value, minimum=1)


def test_an_int_argument_names_its_range_and_the_error_class_the_caller_chose() -> None:
    assert int_arg("port", 65535, minimum=0, maximum=65535) == 65535
    with pytest.raises(ValueError, match=r"^port must be an int from 0 to 65535, not 65536$"):
        int_arg("port", 65536, minimum=0, maximum=65535, error=ValueError)
    with pytest.raises(ValueError, match=r"^max_body_bytes must be a positive int, not 0$"):
        positive_int("max_body_bytes", 0)


@pytest.mark.parametrize("value", [0, -1, 86400, float("nan"), float("inf"), True, "5"])
def test_seconds_must_lie_strictly_between_zero_and_the_bound(value: object) -> None:
    with pytest.raises(ValueError, match=r"^header_timeout must be a number of seconds above 0 and below 86400"):
        seconds_arg("header_timeout", value, below=86400)


def test_a_number_option_is_a_type_error_for_the_wrong_type_and_a_value_error_below_its_minimum() -> None:
    assert number_option("poll_interval", 1, minimum=0.001) == 1.0
    with pytest.raises(TypeError, match="poll_interval must be a number"):
        number_option("poll_interval", True, minimum=0.001)
    with pytest.raises(ValueError, match=r"poll_interval must be a number of seconds >= 0.001, not nan"):
        number_option("poll_interval", float("nan"), minimum=0.001, unit=" of seconds")
