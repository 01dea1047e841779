"""Who may use which write form: the role of the API route that does the same write, from ``server.routes``.

One source: the browser and the API grant exactly the same things, and a change to the API's
roles changes the forms with it.
"""

from __future__ import annotations

import functools

from ... import _paths
from ..auth import Role
from ..routes import ROUTES
from .session import Visitor

__all__ = ["FORCE_ROLE", "WRITES", "api_role", "may_write", "write_role"]

FORCE_ROLE = Role.ADMIN
"""``force`` on unregister (it also removes aliases) needs what the API's ``unregister`` handler requires."""


@functools.cache
def api_role(template: str, method: str) -> Role:
    """The role the API route ``template`` (from ``modelreg._paths``) needs for ``method``; KeyError if none."""
    for route in ROUTES:
        if route.template == template and method in route.methods:
            role = route.methods[method].role
            if role is None:
                raise KeyError(f"{method} {template} is public: no form is needed for it")
            return role
    raise KeyError(f"the API has no route {method} {template}")


WRITES: dict[str, tuple[str, str]] = {
    "set_alias": (_paths.ALIAS, "PUT"),
    "remove_alias": (_paths.ALIAS, "DELETE"),
    "annotate": (_paths.VERSION, "PATCH"),
    "annotate_model": (_paths.MODEL, "PATCH"),
    "unregister": (_paths.VERSION, "DELETE"),
    "request_promotion": (_paths.PROMOTIONS, "POST"),
    "approve": (_paths.PROMOTION_APPROVE, "POST"),
    "reject": (_paths.PROMOTION_REJECT, "POST"),
}
"""Each UI write and the API route (template, method) that does the same."""


def write_role(write: str) -> Role:
    """The role a UI write needs (``force`` is the role of unregistering with force)."""
    if write == "force":
        return FORCE_ROLE
    return api_role(*WRITES[write])


def may_write(visitor: Visitor, write: str) -> bool:
    """Whether ``visitor`` may do ``write`` (a key of WRITES, or "force"): the templates show a form only then."""
    return visitor.may(write_role(write))
