"""The browser tests' kit: the seeded registry they read, Chromium's settings, pages per token, screenshots, axe.

tests/browser/conftest.py starts the server and the browser from these; the tests assert
against the seed constants here (RESNET_VERSIONS, RESNET_ALIASES, ...).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest

from fixtures.http_backend import ServerProcess, serve_command
from modelreg import AliasPolicy, ModelMetadata, acting_as, open_registry
from modelreg.server.auth import TOKENS_ENV, hash_token
from support.serverkit import TOKENS, Running

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "GOVERNED_MODEL",
    "PAGES",
    "PEOPLE",
    "PHONE",
    "REQUIRE_ENV",
    "RESNET_ALIASES",
    "RESNET_VERSIONS",
    "WRITE_ALIASES",
    "WRITE_MODEL",
    "Tabs",
    "axe_violations",
    "browser_needed",
    "playwright_expect",
    "resnet_metadata",
    "screenshot",
    "seed",
    "serve_seeded",
]

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOCS_IMAGES = {"model": ROOT / "docs" / "img" / "ui-model.png", "compare": ROOT / "docs" / "img" / "ui-compare.png",
               "promotions": ROOT / "docs" / "img" / "ui-promotions.png"}
AXE_SCRIPT = ROOT / "tests" / "node" / "node_modules" / "axe-core" / "axe.min.js"
REQUIRE_ENV = "MODELREG_REQUIRE_BROWSER"
CHROMIUM = os.environ.get("MODELREG_CHROMIUM", "/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest stop its own calls home, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# The seeded registry: the pages are read from these, and the tests assert against them.
RESNET_VERSIONS = ["1.0.0", "1.0.1", "1.1.0", "1.1.1", "1.2.0", "1.2.1", "1.3.0", "1.3.1", "1.4.0", "1.4.1",
                   "1.4.2", "1.5.0-rc.1"]
RESNET_ALIASES = {"production": "1.4.1", "staging": "1.4.2", "canary": "1.5.0-rc.1"}
OTHER_MODELS = {"bert-base": 5, "distilbert-base": 3, "whisper-small": 4, "yolo-v8": 6, "mobilenet-v3": 3}
WRITE_MODEL = "mobilenet-v3"  # the one model the write tests change; the read tests never look at it
WRITE_ALIASES = {"production": "2.1.0", "staging": "2.2.0"}
_START = datetime(2026, 6, 1, 9, 30, tzinfo=UTC)
PEOPLE = {"ci": ("write", "tok-ci-browser-0123456789"), "alice": ("write", "tok-alice-browser-0123456789"),
          "bob": ("write", "tok-bob-browser-0123456789")}
"""Tokens beside TOKENS for the promotion tests: a CI pipeline and two reviewers, all ``write``."""
GOVERNED_MODEL = "fraud-scorer"  # production needs 2 approvals; only the promotion test changes it
GOVERNED_VERSIONS = {"1.0.0": 0.91, "1.1.0": 0.93, "1.2.0": 0.89}  # version -> metrics.auc

PAGES = {  # every kind of page, as a reader sees it: name -> (path, HTTP status)
    "models": ("/", 200),
    "model": ("/models/resnet50", 200),
    "version": ("/models/resnet50/versions/1.4.1", 200),
    "compare": ("/models/resnet50/compare?v=1.3.1&v=1.4.1", 200),
    "search": ("/search?where=metrics.top1+%3E%3D+0.76&order_by=metrics.top1+desc", 200),
    "login": ("/login", 200),
    "error": ("/models/no-such-model", 404),
    "promotions": ("/promotions", 200),
}
"""The pages the tests visit; ``login`` is seen signed out, the others signed in as ``reader``."""

def browser_needed(reason: str, *, module: bool = False) -> NoReturn:
    """Skip, or fail when $MODELREG_REQUIRE_BROWSER=1 (CI), so CI can never silently skip the browser tests."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"the browser tests are required ({REQUIRE_ENV}=1) but cannot run: {reason}", pytrace=False)
    pytest.skip(f"browser tests cannot run: {reason}", allow_module_level=module)


def playwright_expect() -> Any:
    """Playwright's ``expect``, for a test module to import at its top (skip or fail the module without it)."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        browser_needed("Playwright for Python is not installed (pip install -e '.[test]')", module=True)
    return expect


def _resnet(number: int, version: str) -> ModelMetadata:
    """Version ``number`` of resnet50: accuracy climbs, latency and loss wander, the optimizer changes once."""
    wobble = (number * 37 % 11 - 5) / 1000
    return ModelMetadata(
        training_date=_START + timedelta(days=9 * number, hours=number % 5),
        artifact_path=f"s3://models/resnet50/{version}/model.safetensors",
        hyperparameters={
            "optimizer": {"name": "sgd" if number < 6 else "adamw", "lr": round(0.1 / (1 + number // 3), 4),
                          "momentum": 0.9, "weight_decay": 1e-4},
            "layers": [3, 4, 6, 3], "batch_size": 256 if number < 9 else 512, "epochs": 90 + 10 * (number // 4),
            "augment": {"mixup": number >= 4, "randaugment": "m9-n2" if number >= 7 else None},
        },
        performance_metrics={"top1": round(0.741 + 0.0035 * number + wobble, 4),
                             "top5": round(0.918 + 0.0012 * number, 4),
                             "latency_ms": round(14.2 - 0.35 * number + abs(wobble) * 300, 2),
                             "loss": round(1.12 - 0.031 * number - wobble, 4)},
        description=f"ResNet-50 on ImageNet-1k, run {100 + number}"
                    + (": release candidate with the new stem" if "-" in version else ""),
        tags={"dataset": "imagenet-1k", "framework": "pytorch", "run": str(100 + number)},
    )


def resnet_metadata(version: str) -> ModelMetadata:
    """What the seed registers as ``version`` of resnet50."""
    return _resnet(RESNET_VERSIONS.index(version), version)


def _other(name: str, number: int) -> ModelMetadata:
    """A plausible version of one of the smaller models."""
    return ModelMetadata(
        training_date=_START + timedelta(days=5 * number + len(name)),
        artifact_path=f"s3://models/{name}/{number}/weights.bin",
        hyperparameters={"optimizer": {"name": "adamw", "lr": 3e-5 * (number + 1)}, "epochs": 3 + number},
        performance_metrics={"accuracy": round(0.8 + 0.01 * number, 3), "latency_ms": round(20.0 - number, 1)},
        description=f"{name} fine-tune #{number + 1}",
        tags={"framework": "pytorch"},
    )


def seed(registry_url: str) -> None:
    """Fill the registry the UI shows: resnet50 with 12 versions and moved aliases, and five smaller models."""
    with open_registry(registry_url) as reg:
        with acting_as("ci"):
            for number, version in enumerate(RESNET_VERSIONS):
                reg.register_model("resnet50", version, _resnet(number, version))
                if version in ("1.1.0", "1.2.1", "1.3.1", "1.4.1"):
                    reg.set_alias("resnet50", "staging", version)
            for version in ("1.1.0", "1.2.1", "1.3.1"):
                reg.set_alias("resnet50", "production", version)
            for name, count in OTHER_MODELS.items():
                for number in range(count):
                    version = f"2.{number}.0" if name == WRITE_MODEL else f"0.{number + 1}.0"
                    reg.register_model(name, version, _other(name, number))
            for alias, version in WRITE_ALIASES.items():
                reg.set_alias(WRITE_MODEL, alias, version)
            reg.set_alias("bert-base", "production", "0.4.0")
        with acting_as("alice"):
            for alias, version in RESNET_ALIASES.items():
                reg.set_alias("resnet50", alias, version)
            reg.annotate("resnet50", "1.4.1", add_metrics={"top1_calibrated": 0.7812})
            reg.annotate_model("resnet50", description="Image classifier behind the photo-tagging service.\n"
                               "Trained nightly on ImageNet-1k; production serves from the EU cluster.",
                               set_tags={"team": "vision", "task": "image-classification"})
            reg.annotate_model("bert-base", description="English BERT fine-tuned for support-ticket routing.",
                               set_tags={"team": "nlp"})
            reg.annotate_model("distilbert-base", description="Smaller BERT for the on-device ticket triage.")
    _seed_governance(registry_url)


def _seed_governance(registry_url: str) -> None:
    """Policies: bert-base production (1 approval, a request by ci waiting) and GOVERNED_MODEL production (2)."""
    with open_registry(registry_url) as reg:
        reg.set_alias_policy("bert-base", "production", AliasPolicy(require=["metrics.accuracy >= 0.8"], approvals=1))
        with acting_as("ci"):
            for number, (version, auc) in enumerate(GOVERNED_VERSIONS.items()):
                meta = _other(GOVERNED_MODEL, number)
                reg.register_model(GOVERNED_MODEL, version, ModelMetadata(
                    training_date=meta.training_date, artifact_path=meta.artifact_path,
                    hyperparameters=meta.hyperparameters, performance_metrics={"auc": auc, "latency_ms": 4.0},
                    description="Card-fraud scorer", tags={}))
            reg.set_alias(GOVERNED_MODEL, "production", "1.0.0")
            reg.request_promotion("bert-base", "production", "0.5.0", reason="higher accuracy on the March tickets")
        reg.set_alias_policy(GOVERNED_MODEL, "production", AliasPolicy(
            require=["metrics.auc >= 0.9"], must_not_regress=["metrics.auc"], approvals=2))


def serve_seeded(directory: Path, *, tokens: bool) -> Running:
    """Start ``modelreg serve`` on a seeded SQLite file in ``directory`` (with the TOKENS when ``tokens``)."""
    url = f"sqlite:///{directory / 'registry.db'}"
    seed(url)
    options: dict[str, Any] = {"access_log": False}
    if tokens:
        path = directory / "tokens.json"
        entries = [{"name": name, "role": role, "sha256": hash_token(secret)}
                   for name, (role, secret) in {**TOKENS, **PEOPLE}.items()]
        path.write_text(json.dumps({"tokens": entries}))
        options["tokens_file"] = str(path)
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    process = ServerProcess(serve_command(url, **options), directory / "server.log", {**env, "PYTHONUNBUFFERED": "1"})
    try:
        return Running(process, process.wait_listening(), url)
    except BaseException:
        process.stop()
        raise


class Tabs:
    """Opens pages of the test server in fresh browser contexts, signed in as a token from TOKENS or not at all.

    Every request any of its pages makes is recorded in ``requests`` (method and URL).
    """

    def __init__(self, browser: Any, server: Running, states: dict[str, Any]) -> None:
        self.browser = browser
        self.server = server
        self.url = server.url
        self.requests: list[str] = []
        self.errors: list[str] = []  # console errors (a CSP violation shows here) and uncaught exceptions
        self._states = states
        self._contexts: list[Any] = []

    def open(self, path: str | None = "/", who: str | None = "reader", *, viewport: dict[str, int] | None = None,
             bypass_csp: bool = False) -> Any:
        """A new page at ``path`` in a new context; ``who`` names a token of TOKENS or PEOPLE (None: signed out)."""
        state = self._state(who) if who is not None else None
        context = self.browser.new_context(base_url=self.url, viewport=viewport or DESKTOP, storage_state=state,
                                           bypass_csp=bypass_csp)
        context.set_default_timeout(10_000)
        context.on("request", lambda request: self.requests.append(f"{request.method} {request.url}"))
        self._contexts.append(context)
        page = context.new_page()
        page.on("console", lambda message: self._console(page, message))
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        if path:
            page.goto(path)
        return page

    def visit(self, name: str) -> Any:
        """Open page ``name`` of PAGES as its visitor sees it (``login`` signed out, the others as reader)."""
        path, _ = PAGES[name]
        return self.open(path, who=None if name == "login" else "reader")

    def _console(self, page: Any, message: Any) -> None:
        # A 4xx/5xx page is logged as "Failed to load resource": the error page test expects that one.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(f"{page.url}: {message.text}")

    def sign_in(self, page: Any, who: str) -> None:
        """Sign ``page`` in through the login form with the token of ``who``."""
        page.goto("/login")
        page.get_by_label("Token").fill({**TOKENS, **PEOPLE}[who][1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)

    def _state(self, who: str) -> Any:
        """The cookies of a browser signed in as ``who`` (signed in once per session, through the form)."""
        if who not in self._states:
            context = self.browser.new_context(base_url=self.url)
            try:
                page = context.new_page()
                self.sign_in(page, who)
                self._states[who] = context.storage_state()
            finally:
                context.close()
        return self._states[who]

    def close(self) -> None:
        """Close every context this test opened."""
        for context in self._contexts:
            context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as test-artifacts/screenshots/NAME.png (and to docs/img/ when asked)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("MODELREG_UPDATE_DOCS_IMAGES") == "1" and name in DOCS_IMAGES:
        DOCS_IMAGES[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMAGES[name])
    return path


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """Run axe-core on ``page`` (a context with bypass_csp) and describe each violation of the given impacts."""
    if not AXE_SCRIPT.is_file():
        browser_needed(f"axe-core is not installed: run 'npm ci' in {AXE_SCRIPT.parents[2]}")
    page.add_script_tag(path=str(AXE_SCRIPT))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    described = []
    for violation in found:
        if violation["impact"] not in impacts:
            continue
        nodes = "\n".join(f"      {' '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
                          .replace("\n", " ") for node in violation["nodes"][:5])
        described.append(f"  [{violation['impact']}] {violation['id']}: {violation['help']} "
                         f"({len(violation['nodes'])} element(s))\n{nodes}")
    return described
