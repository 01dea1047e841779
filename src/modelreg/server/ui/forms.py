"""The write forms: set/move/remove an alias, annotate a version or a model, unregister a version.

Each is a POST that passes the origin and CSRF checks and needs the role of the API route
doing the same write (``grants``). The first POST checks the input against the registry
without writing and shows a confirmation saying exactly what changes; the second, with
``confirm=yes``, writes (recording the signed-in token as the actor) and answers 303 to the
page the form came from with a notice (Post/Redirect/Get). Bad input shows the form again
with the registry's message and status; nothing is written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..._annotations import metadata_detail, record_detail, request
from ..._json import exact_float
from ..._paths import fill
from ...errors import AliasNotFoundError, MetadataError, RegistryError
from ...names import validate_alias
from ...policies import AliasPolicy
from ...registry import ModelRegistry
from ..call import Reply
from ..problems import status_for
from . import paths
from .dryrun import dry_run, scratch_state
from .grants import FORCE_ROLE, write_role
from .notices import with_notice
from .page import Page, Redirect
from .pages import safe_next

__all__ = [
    "alias_form",
    "annotate_model_form",
    "annotate_version_form",
    "confirm_or_write",
    "form_back",
    "parse_metric",
    "unregister_form",
]

# A metric as people type it: a decimal number, optionally with an exponent (no '_', 'nan', 'inf' or spaces).
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ANNOTATE_FIELDS = ("description", "tag_key", "tag_value", "remove_tag", "metric_name", "metric_value")


def parse_metric(name: str, text: str) -> dict[str, float]:
    """``{name: value}`` for the metric fields ({} when both are empty); MetadataError naming what is wrong."""
    if not name and not text:
        return {}
    if not name:
        raise MetadataError(f"give the metric's name as well as its value {text[:40]!r}")
    if _NUMBER.fullmatch(text) is None:
        raise MetadataError(f"metric {name[:128]!r} must be a number such as 0.761 or 1.5e-3, not {text[:40]!r}")
    try:
        return {name: exact_float(text)}  # the API's rule: the number typed is the number stored, or it is refused
    except ValueError as exc:
        raise MetadataError(f"metric {name[:128]!r}: {exc}") from None


def _lines(text: str) -> str:
    """A textarea's value with the CRLF line breaks every browser sends turned back into the LF it was shown with."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _unchanged_description(args: dict[str, Any], stored: str) -> None:
    """Keep the stored description when the box differs from it only by the line breaks the browser sent."""
    if "description" in args and args["description"] == _lines(stored):
        args["description"] = stored


def _back(page: Page, form: Mapping[str, str], default: str) -> str:
    """Where the form came from (a path inside the app), else ``default``."""
    back = form.get("back", "")
    return safe_next(back) if back else default


def form_back(page: Page, form: Mapping[str, str], template: str, name: str) -> str:
    """Where the form came from, else the page of ``template`` (from ``paths``) for model ``name``."""
    return _back(page, form, fill(template, name=name))


async def confirm_or_write(
    page: Page,
    form: dict[str, str],
    *,
    kind: str,
    context: dict[str, Any],
    check: Callable[[], tuple[list[str], str]],
    write: Callable[[], Any],
    back: str,
    done: Callable[[], tuple[str, str]],
) -> Reply:
    """The shared flow: check (lines of what changes, button text), then confirm page or write and redirect."""
    fields = {key: value for key, value in form.items() if key != "confirm"}
    base = {"kind": kind, "fields": fields, "back": back, **context}
    try:
        lines, button = check()  # may add fields for the confirmation to carry, or withdraw the confirm
        fields.update((key, value) for key, value in form.items() if key != "confirm")
        if form.get("confirm") != "yes":
            return page.render("confirm.html", **base, lines=lines, button=button, error="")
        await page.call.write(write)
    except RegistryError as exc:
        return page.render("confirm.html", status=status_for(exc), **base, lines=[], button="", error=exc.message)
    target, notice = done()
    raise Redirect(page.root + with_notice(target, notice))


_ALIAS_ACTIONS = ("set", "remove", "request", "request_remove")


def _governed(registry: ModelRegistry, name: str, alias: str) -> AliasPolicy | None:
    """The alias's policy when it asks for approvals (a move is then a promotion request), else None."""
    policy = registry.get_alias_policy(name, alias)
    return policy if policy is not None and policy.approvals else None


async def alias_form(page: Page, name: str) -> Reply:
    """POST /models/{name}/aliases (alias, version, action=set|remove|request|request_remove, reason).

    Sets, moves or removes an alias; for an alias whose policy asks for approvals, the confirmation
    offers a promotion request instead (``request``: to ``version``; ``request_remove``: removal).
    """
    form = await page.form()
    action = form.get("action", "set")
    alias, version = form.get("alias", ""), form.get("version", "")
    requesting = action in ("request", "request_remove")
    page.require(write_role("request_promotion" if requesting else "remove_alias" if action == "remove"
                            else "set_alias"),
                 "requesting a promotion" if requesting else
                 f"{'removing' if action == 'remove' else 'setting'} an alias")
    registry = page.registry
    was: dict[str, str] = {}
    reason = _lines(form.get("reason", ""))

    def check() -> tuple[list[str], str]:
        nonlocal action
        if action not in _ALIAS_ACTIONS:
            raise MetadataError(f"action must be 'set' or 'remove' (or 'request', 'request_remove' for a promotion "
                                f"request), not {action[:40]!r}")
        validate_alias(alias)
        current = registry.get_aliases(name).get(alias)
        was["current"] = current or ""
        if form.get("confirm") == "yes" and form.get("was", was["current"]) != was["current"]:
            del form["confirm"]  # it moved since the confirmation was shown: ask again with what is true now
        form["was"] = was["current"]
        policy = _governed(registry, name, alias)
        if policy is not None and form.get("confirm") != "yes" and action in ("set", "remove"):
            action = form["action"] = "request" if action == "set" else "request_remove"  # offer a request instead
            page.require(write_role("request_promotion"), "requesting a promotion")
        if action == "remove":
            if current is None:
                raise AliasNotFoundError(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
            _dry_direct(registry, name, alias, None, page.visitor.actor)
            return [f"Remove {alias} (now {current})"], f"Remove {alias}"
        if action == "request_remove":
            return request_lines(current, None, policy), "Request promotion"
        target = registry.get_metadata(name, version).version or version
        if action == "request":
            return request_lines(current, target, policy), "Request promotion"
        _dry_direct(registry, name, alias, target, page.visitor.actor)
        if current is None:
            return [f"Set {alias} to {target}"], f"Set {alias}"
        if current == target:
            return [f"{alias} already points at {target}: nothing changes"], f"Set {alias}"
        return [f"Move {alias} from {current} to {target}"], f"Move {alias}"

    def request_lines(current: str | None, target: str | None, policy: AliasPolicy | None) -> list[str]:
        """What a promotion request of ``alias`` to ``target`` (None: its removal) asks, once the registry agrees."""
        state = scratch_state(registry, name, alias, [target])
        dry_run(state, page.visitor.actor, lambda scratch: scratch.request_promotion(name, alias, target,
                                                                                      reason=reason))
        if target is None:
            lines = [f"Request the removal of {alias} (now {current})"]
        else:
            lines = [f"Request the promotion of {alias} from {current or '(not set)'} to {target}"]
        if policy is not None:
            lines.append(f"{alias} is protected: it moves once {policy.approvals} other "
                         f"{'person approves' if policy.approvals == 1 else 'people approve'} "
                         "(you cannot approve your own request)")
        else:
            lines.append(f"{alias} needs no approvals: it moves at once")
        return lines

    def write() -> None:
        if action == "remove":
            registry.remove_alias(name, alias)
        elif action in ("request", "request_remove"):
            target = None if action == "request_remove" else version
            made = registry.request_promotion(name, alias, target, reason=reason)
            was["state"] = made.state
        else:
            registry.set_alias(name, alias, version)

    def done() -> tuple[str, str]:
        if action in ("request", "request_remove"):
            return back, "promotion-requested" if was.get("state") == "pending" else "promotion-done"
        code = "alias-removed" if action == "remove" else "alias-moved" if was["current"] else "alias-set"
        return back, code

    back = _back(page, form, fill(paths.MODEL, name=name))
    return await confirm_or_write(page, form, kind="alias", context={"name": name, "version": version},
                                  check=check, write=write, back=back, done=done)


def _dry_direct(registry: ModelRegistry, name: str, alias: str, target: str | None, actor: str) -> None:
    """The registry's refusal of a direct move to ``target`` (None: removal) under the alias's policy, early."""
    if registry.get_alias_policy(name, alias) is None:
        return  # no policy: nothing beyond what the checks above found
    state = scratch_state(registry, name, alias, [target])
    if target is None:
        dry_run(state, actor, lambda scratch: scratch.remove_alias(name, alias))
    else:
        dry_run(state, actor, lambda scratch: scratch.set_alias(name, alias, target))


def _annotation(form: Mapping[str, str], *, metrics: bool) -> dict[str, Any]:
    """The registry's annotate arguments from the form's fields, exactly as typed (line breaks as LF)."""
    args: dict[str, Any] = {}
    if "description" in form:
        args["description"] = _lines(form["description"])
    key, value = form.get("tag_key", ""), form.get("tag_value", "")
    if key or value:
        if not key:
            raise MetadataError(f"give the tag's key as well as its value {value[:40]!r}")
        args["set_tags"] = {key: value}
    if form.get("remove_tag", ""):
        args["remove_tags"] = [form["remove_tag"]]
    if metrics:
        added = parse_metric(form.get("metric_name", ""), form.get("metric_value", ""))
        if added:
            args["add_metrics"] = added
    return args


def _describe(detail: Mapping[str, Any], old_description: str, old_tags: Mapping[str, str]) -> list[str]:
    """What an annotation detail changes, one line each."""
    lines = []
    if "description" in detail:
        lines.append(f"Change the description from {old_description!r} to {detail['description']!r}")
    for key, value in detail.get("set_tags", {}).items():
        was = f" (now {old_tags[key]!r})" if key in old_tags else ""
        lines.append(f"Set tag {key!r} to {value!r}{was}")
    for key in detail.get("remove_tags", ()):
        lines.append(f"Remove tag {key!r} (now {old_tags[key]!r})")
    for key, value in detail.get("add_metrics", {}).items():
        lines.append(f"Add metric {key!r} = {value!r}")
    return lines


async def annotate_version_form(page: Page, name: str, version: str) -> Reply:
    """POST /models/{name}/versions/{version}/annotate: description, a tag to set or remove, a metric to add."""
    form = await page.form()
    page.require(write_role("annotate"), "annotating a version")
    registry = page.registry
    args: dict[str, Any] = {}

    def check() -> tuple[list[str], str]:
        args.update(_annotation(form, metrics=True))
        meta = registry.get_metadata(name, version)
        _unchanged_description(args, meta.description)
        req = request(args.get("description"), args.get("set_tags"), args.get("remove_tags", ()),
                      args.get("add_metrics"))
        detail = metadata_detail(meta, req, f"{name} {meta.version}")
        if not detail:
            raise MetadataError("nothing changes: the values given are the version's values already")
        return _describe(detail, meta.description, meta.tags), "Save annotations"

    back = _back(page, form, fill(paths.VERSION, name=name, version=version))
    return await confirm_or_write(
        page, form, kind="annotate", context={"name": name, "version": version}, check=check,
        write=lambda: registry.annotate(name, version, **args), back=back,
        done=lambda: (back, "version-annotated"))


async def annotate_model_form(page: Page, name: str) -> Reply:
    """POST /models/{name}/annotate: the model record's description, a tag to set or remove."""
    form = await page.form()
    page.require(write_role("annotate_model"), "annotating a model")
    registry = page.registry
    args: dict[str, Any] = {}

    def check() -> tuple[list[str], str]:
        args.update(_annotation(form, metrics=False))
        info = registry.get_model(name)
        _unchanged_description(args, info.description)
        req = request(args.get("description"), args.get("set_tags"), args.get("remove_tags", ()), metrics=False)
        detail = record_detail(info.description, info.tags, req)
        if not detail:
            raise MetadataError("nothing changes: the values given are the model's values already")
        return _describe(detail, info.description, info.tags), "Save annotations"

    back = _back(page, form, fill(paths.MODEL, name=name))
    return await confirm_or_write(
        page, form, kind="annotate_model", context={"name": name, "version": ""}, check=check,
        write=lambda: registry.annotate_model(name, **args), back=back,
        done=lambda: (back, "model-annotated"))


async def unregister_form(page: Page, name: str, version: str) -> Reply:
    """POST /models/{name}/versions/{version}/unregister[force=yes]: remove a version; 303 to the model page."""
    form = await page.form()
    page.require(write_role("unregister"), "unregistering a version")
    force = form.get("force", "") == "yes"
    if force:
        page.require(FORCE_ROLE, "unregistering with force")
    registry = page.registry

    def check() -> tuple[list[str], str]:
        canonical = registry.get_metadata(name, version).version or version
        pointing = sorted(alias for alias, target in registry.get_aliases(name).items() if target == canonical)
        lines = [f"Unregister {name} {canonical}: its metadata leaves the registry (its history stays)"]
        if pointing and force:
            lines.append(f"and remove the alias{'es' if len(pointing) > 1 else ''} {', '.join(pointing)} "
                         "pointing at it")
        elif pointing:
            lines.append(f"{', '.join(pointing)} point{'s' if len(pointing) == 1 else ''} at it: the registry "
                         "refuses unless force is checked (admin only) or the alias is moved first")
        return lines, f"Unregister {canonical}"

    def done() -> tuple[str, str]:
        if registry.get_versions(name):
            return fill(paths.MODEL, name=name), "unregistered"
        return paths.MODELS, "unregistered"

    return await confirm_or_write(
        page, form, kind="unregister", context={"name": name, "version": version}, check=check,
        write=functools.partial(registry.unregister_model, name, version, force),
        back=fill(paths.MODEL, name=name), done=done)
