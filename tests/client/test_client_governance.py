"""The client's governance methods check their arguments as the library does, before any request is sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelreg import AliasPolicy, InvalidNameError, InvalidVersionError
from modelreg.client import RegistryClient


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    """Port 1 on loopback: nothing listens, so a call that got as far as sending would raise StoreError instead."""
    with RegistryClient("http://127.0.0.1:1", retries=0) as made:
        yield made


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda c: c.set_alias_policy("m", "prod", {"approvals": 2}), TypeError, "must be an AliasPolicy"),
        (lambda c: c.set_alias_policy("bad name", "prod", AliasPolicy()), InvalidNameError, "bad name"),
        (lambda c: c.get_alias_policy("m", "v1"), ValueError, "invalid alias"),
        (lambda c: c.request_promotion("m", "prod", "one"), InvalidVersionError, "one"),
        (lambda c: c.request_promotion("m", "prod", "1.0.0", reason=3), TypeError, "reason must be a str"),
        (lambda c: c.approve_promotion("1"), TypeError, "promotion id"),
        (lambda c: c.reject_promotion(0), TypeError, "promotion id"),
        (lambda c: c.get_promotion(True), TypeError, "promotion id"),
        (lambda c: c.list_promotions(state="open"), ValueError, "state must be one of pending"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(
    client: RegistryClient, call: Callable[[RegistryClient], Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        call(client)
