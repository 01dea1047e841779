"""The UI's route table: every page and form target on the paths of ``ui.paths``, with the role each needs.

A form's role is the role of the API route that does the same write (``server.routes``),
so the browser and the API grant exactly the same things.
"""

from __future__ import annotations

from ..auth import Role
from ..call import Endpoint, Route
from . import paths
from .compare import compare_page
from .forms import alias_form, annotate_model_form, annotate_version_form, unregister_form
from .model_pages import model_page, version_page
from .pages import login, login_page, logout, models_page, static_file
from .promotion_pages import approve_form, promotions_page, reject_form
from .search_page import search_page

__all__ = ["UI_ROUTES"]


def _route(template: str, **methods: Endpoint) -> Route:
    return Route(template, methods)


UI_ROUTES: tuple[Route, ...] = (
    _route(paths.MODELS, GET=Endpoint(models_page, Role.READ)),
    _route(paths.LOGIN, GET=Endpoint(login_page, None), POST=Endpoint(login, None)),
    _route(paths.LOGOUT, POST=Endpoint(logout, None)),
    _route(paths.STATIC, GET=Endpoint(static_file, None)),

    # -- model, version and compare pages ----------------------------------------------
    _route(paths.MODEL, GET=Endpoint(model_page, Role.READ)),
    _route(paths.VERSION, GET=Endpoint(version_page, Role.READ)),
    _route(paths.COMPARE, GET=Endpoint(compare_page, Role.READ)),


    # -- search and the write forms ----------------------------------------------------
    _route(paths.SEARCH, GET=Endpoint(search_page, Role.READ)),
    # The handlers check the API's role for each write (grants.write_role); READ here only asks for a sign-in.
    _route(paths.ALIAS_FORM, POST=Endpoint(alias_form, Role.READ)),
    _route(paths.MODEL_ANNOTATE, POST=Endpoint(annotate_model_form, Role.READ)),
    _route(paths.VERSION_ANNOTATE, POST=Endpoint(annotate_version_form, Role.READ)),
    _route(paths.UNREGISTER, POST=Endpoint(unregister_form, Role.READ)),

    # -- promotions: the list across models, approve and reject (each checks its model's scope) ------------
    _route(paths.PROMOTIONS, GET=Endpoint(promotions_page, Role.READ)),
    _route(paths.PROMOTION_APPROVE, POST=Endpoint(approve_form, Role.READ)),
    _route(paths.PROMOTION_REJECT, POST=Endpoint(reject_form, Role.READ)),

)
"""Every page the UI serves."""
