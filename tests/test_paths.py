"""The API's path table: the server routes exactly these templates; ``fill`` encodes each parameter as one segment."""

from __future__ import annotations

from modelreg import _paths


def _templates() -> set[str]:
    return {value for name, value in vars(_paths).items() if name.isupper() and isinstance(value, str)}


def test_the_server_routes_exactly_the_shared_templates() -> None:
    from modelreg.server.routes import ROUTES

    assert {route.template for route in ROUTES} == _templates()
    assert len(ROUTES) == len(_templates())  # one route per template


def test_fill_encodes_each_parameter_as_one_segment() -> None:
    path = _paths.fill(_paths.VERSION, name="a/b c", version="1.0.0+build")

    assert path == "/api/v1/models/a%2Fb%20c/versions/1.0.0%2Bbuild"
    assert _paths.fill(_paths.ALIAS, name="m", alias="prod") == "/api/v1/models/m/aliases/prod"
    assert _paths.fill(_paths.MODELS) == "/api/v1/models"
