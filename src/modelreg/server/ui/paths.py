"""The web UI's paths: one table the router serves, the templates link by (``href``) and the tests visit.

Pages live beside the JSON API (which keeps ``/api/v1``); each ``{parameter}`` is one
percent-encoded path segment, as in ``modelreg._paths``.
"""

from __future__ import annotations

__all__ = [
    "ALIAS_FORM",
    "COMPARE",
    "LOGIN",
    "LOGOUT",
    "MODEL",
    "MODELS",
    "MODEL_ANNOTATE",
    "PROMOTIONS",
    "PROMOTION_APPROVE",
    "PROMOTION_REJECT",
    "SEARCH",
    "STATIC",
    "UNREGISTER",
    "VERSION",
    "VERSION_ANNOTATE",
]

MODELS = "/"
MODEL = "/models/{name}"
VERSION = "/models/{name}/versions/{version}"
COMPARE = "/models/{name}/compare"
SEARCH = "/search"
PROMOTIONS = "/promotions"
LOGIN = "/login"
LOGOUT = "/logout"
STATIC = "/static/{file}"

# Form targets (POST): each shows a confirmation first, then writes.
ALIAS_FORM = "/models/{name}/aliases"
MODEL_ANNOTATE = "/models/{name}/annotate"
VERSION_ANNOTATE = "/models/{name}/versions/{version}/annotate"
UNREGISTER = "/models/{name}/versions/{version}/unregister"
PROMOTION_APPROVE = "/promotions/{id}/approve"
PROMOTION_REJECT = "/promotions/{id}/reject"
