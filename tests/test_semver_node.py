"""Differential test: modelreg's versions and ranges answer as the real npm ``semver`` 7.8 does (strict mode).

A seeded generator draws versions and ranges from npm's range grammar, with near misses mixed in
(stray characters, missing parts, x-ranges in odd places), and one long-lived node process answers
``valid``, ``compare``, ``validRange`` and ``satisfies`` (with and without ``includePrerelease``) in
batches. Any disagreement fails the test, listing the first ones. The generator never produces the
deliberate differences of docs/versions.md; ``test_documented_differences_are_real`` pins those.
``MODELREG_SEMVER_SEED=N`` runs another sample.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelreg.errors import InvalidVersionError
from modelreg.semver import SemVer, VersionRange
from support.nodesemver import REQUIRE_ENV, NodeSemver

SEED = int(os.environ.get("MODELREG_SEMVER_SEED", "20260701"))
RANGES = 4000  # each is asked validRange twice and satisfies for VERSIONS_PER_RANGE versions twice
VERSIONS_PER_RANGE = 6
VERSIONS = 4000  # for valid, and in pairs for compare
SHOWN = 15  # disagreements listed in a failure

OPERATORS = ["", "", "", "=", "<", "<=", ">", ">=", "~", "~>", "^", "^"]
NEAR_MISS = "0123456789.-+xX^~<>| a"  # no v, = or *: see DIFFERENCES
PRE_IDS = ["0", "1", "2", "10", "alpha", "beta", "rc", "a", "b", "0a", "-", "x", "pre"]
BUILD_IDS = ["b", "1", "001", "sha"]


def _number(rng: random.Random) -> str:
    """Mostly tiny numbers, so that ranges and versions land on each other's bounds."""
    roll = rng.random()
    if roll < 0.85:
        return str(rng.choice([0, 0, 1, 1, 2, 3]))
    return str(rng.choice([10, 99, 123456, rng.randint(4, 10**6)]))


def _pre_and_build(rng: random.Random, pre_odds: float, build_odds: float) -> str:
    text = ""
    if rng.random() < pre_odds:
        text += "-" + ".".join(rng.choice(PRE_IDS) for _ in range(rng.randint(1, 3)))
    if rng.random() < build_odds:
        text += "+" + ".".join(rng.choice(BUILD_IDS) for _ in range(rng.randint(1, 2)))
    return text


def _version(rng: random.Random) -> str:
    """A valid SemVer 2.0.0 version, sometimes with a leading 'v'."""
    core = ".".join(_number(rng) for _ in range(3))
    return ("v" if rng.random() < 0.05 else "") + core + _pre_and_build(rng, 0.45, 0.1)


def _same_precedence(rng: random.Random, version: str) -> str:
    """*version* with other build metadata, or with its 'v' added or dropped."""
    core = version.partition("+")[0]
    if rng.random() < 0.5:
        return core.removeprefix("v") if core.startswith("v") else "v" + core
    return core + "+" + rng.choice(BUILD_IDS)


def _mutate(rng: random.Random, text: str, alphabet: str) -> str:
    """Insert, delete or replace one character: near misses probe where validity ends."""
    at = rng.randint(0, len(text))
    kind = rng.randrange(3)
    if kind == 0 or not text:
        return text[:at] + rng.choice(alphabet) + text[at:]
    at = min(at, len(text) - 1)
    return text[:at] + (rng.choice(alphabet) if kind == 2 else "") + text[at + 1 :]


def _version_text(rng: random.Random) -> str:
    """A version or a near miss, for ``valid``."""
    text = _version(rng)
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        text = _mutate(rng, text, "0123456789.-+vV=abx")
    return text


def _partial(rng: random.Random) -> str:
    """``1``, ``1.x+b``, ``1.2.*``, ``1.2.3-rc.1+b``, with wildcards anywhere (some invalid in 7.8)."""
    parts = []
    for _ in range(rng.choice([1, 2, 3, 3, 3])):
        parts.append(rng.choice(["x", "X", "*"]) if rng.random() < 0.2 else _number(rng))
    text = ".".join(parts)
    text += _pre_and_build(rng, 0.35 if len(parts) == 3 else 0, 0.08)  # '1.x+b' is allowed too
    return ("v" if rng.random() < 0.05 else "") + text


def _space(rng: random.Random, least: int) -> str:
    return "".join(rng.choice("  \t") for _ in range(rng.choice([least, least, least, least + 1])))


def _comparator_set(rng: random.Random) -> str:
    if rng.random() < 0.15:  # a hyphen range
        return f"{_partial(rng)}{_space(rng, 1)}-{_space(rng, 1)}{_partial(rng)}"
    comparators = []
    for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
        op = rng.choice(OPERATORS)
        comparators.append(op + (_space(rng, 0) if op and rng.random() < 0.15 else "") + _partial(rng))
    return _space(rng, 1).join(comparators)


# What node-semver reads and we refuse (see DIFFERENCES): an '=' after another operator or a 'v'
# ('^=1', '< =1', '>==1'), a space inside '~>' ('~ >1'), a '+build' standing alone ('1 +b').
_NODE_ONLY = re.compile(r"(?:[~^=v]|~\s*>)\s*=|[<>]\s+=|~>?\s+>|(?:^|[\s|<>=~^])\+")


def _range_text(rng: random.Random) -> str:
    """A range from npm's grammar, sometimes knocked slightly off it."""
    sets = [_comparator_set(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    text = "||".join(_space(rng, 0) + s + _space(rng, 0) for s in sets)
    if "*" not in text and rng.random() < 0.2:  # a '*' glued to a version is a documented difference
        mutated = _mutate(rng, text, NEAR_MISS)
        if not _NODE_ONLY.search(mutated):
            text = mutated
    return text


# --------------------------------------------------------------------------- modelreg's answers


def _valid(text: str) -> str | None:
    try:
        return SemVer.parse(text).identity  # node's valid() drops build metadata too
    except InvalidVersionError:
        return None


def _compare(a: str, b: str) -> int:
    va, vb = SemVer.parse(a), SemVer.parse(b)
    return (va > vb) - (va < vb)


def _valid_range(text: str, include_prerelease: bool) -> str | None:
    try:
        return VersionRange(text, include_prerelease=include_prerelease).normalized
    except InvalidVersionError:
        return None


def _satisfies(version: str, text: str, include_prerelease: bool) -> bool:
    try:
        version_range = VersionRange(text, include_prerelease=include_prerelease)
    except InvalidVersionError:
        return False  # as node: an invalid range matches nothing
    return version_range.contains(version)


OURS: dict[str, Callable[..., Any]] = {
    "valid": _valid,
    "compare": _compare,
    "validRange": _valid_range,
    "satisfies": _satisfies,
}


def _questions(seed: int) -> list[list[Any]]:
    rng = random.Random(seed)
    questions: list[list[Any]] = []
    versions = [_version(rng) for _ in range(VERSIONS)]
    questions += [["valid", _version_text(rng)] for _ in range(VERSIONS)]
    # Every tenth pair differs only in build metadata or a 'v', so equal precedence comes up too.
    questions += [
        ["compare", a, _same_precedence(rng, a) if rng.random() < 0.1 else rng.choice(versions)] for a in versions
    ]
    for _ in range(RANGES):
        text = _range_text(rng)
        for include_prerelease in (False, True):
            questions.append(["validRange", text, include_prerelease])
            for version in rng.sample(versions, VERSIONS_PER_RANGE):
                questions.append(["satisfies", version, text, include_prerelease])
    return questions


def _disagreements(node_semver: NodeSemver, questions: list[list[Any]]) -> list[str]:
    found = []
    for start in range(0, len(questions), 5000):
        batch = questions[start : start + 5000]
        for question, theirs in zip(batch, node_semver.ask(batch), strict=True):
            op, *args = question
            ours = OURS[op](*args)
            if ours != theirs:
                found.append(f"{op}{tuple(args)!r}: node-semver {theirs!r}, modelreg {ours!r}")
    return found


def test_node_semver_is_the_pinned_7_8(node_semver: NodeSemver) -> None:
    assert node_semver.version.startswith("7.8."), node_semver.version


def test_versions_and_ranges_agree_with_node_semver(node_semver: NodeSemver) -> None:
    questions = _questions(SEED)
    found = _disagreements(node_semver, questions)
    shown = "\n".join(found[:SHOWN])
    assert not found, f"{len(found)} of {len(questions)} answers differ (seed {SEED}); first ones:\n{shown}"


@pytest.mark.parametrize(("require", "outcome"), [("1", "1 error"), ("", "1 skipped")])
def test_missing_node_fails_when_required_and_skips_otherwise(tmp_path: Path, require: str, outcome: str) -> None:
    """CI sets MODELREG_REQUIRE_NODE=1 so that the differential test can never skip silently."""
    env = {**os.environ, "PATH": str(tmp_path), REQUIRE_ENV: require}  # a PATH with no node on it
    test = f"{__file__}::test_node_semver_is_the_pinned_7_8"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in run.stdout and (run.returncode != 0) == (require == "1"), run.stdout
    assert "no 'node' on PATH" in run.stdout


def test_the_generator_reaches_every_kind_of_answer() -> None:
    """The sample must exercise both outcomes of every question, or agreeing would prove little."""
    answers: dict[tuple[str, object], int] = {}
    for op, *args in _questions(SEED):
        answer = OURS[op](*args)
        kind = answer if isinstance(answer, bool | int) else answer is None
        answers[(op, kind)] = answers.get((op, kind), 0) + 1
    for key in [("valid", True), ("valid", False), ("compare", -1), ("compare", 0), ("compare", 1)]:
        assert answers.get(key, 0) > 100, (key, answers)
    for key in [("validRange", True), ("validRange", False), ("satisfies", True), ("satisfies", False)]:
        assert answers.get(key, 0) > 500, (key, answers)


# --------------------------------------------------------------------------- deliberate differences

# (question, node-semver's answer, modelreg's answer): the differences docs/versions.md lists.
DIFFERENCES: list[tuple[list[Any], Any, Any]] = [
    # More than one 'v', or an '=', between an operator and its version.
    (["validRange", "vv1", False], ">=1.0.0 <2.0.0-0", None),
    (["validRange", "==1.2", False], ">=1.2.0 <1.3.0-0", None),
    (["validRange", ">==1.2", False], ">=1.2.0", None),
    (["validRange", "^=1.2", False], ">=1.2.0 <2.0.0-0", None),
    (["validRange", "~v=1", False], ">=1.0.0 <2.0.0-0", None),
    (["validRange", "=1.2 - =2", False], ">=1.2.0 <3.0.0-0", None),
    (["validRange", "< =1.2.3", False], "<=1.2.3", None),
    (["validRange", "~=0", False], "<1.0.0-0", None),
    (["validRange", "~>=0", False], "<1.0.0-0", None),
    # A space inside '~>'.
    (["validRange", "~ >1.2", False], ">=1.2.0 <1.3.0-0", None),
    (["validRange", "~> >1.2", False], ">=1.2.0 <1.3.0-0", None),
    # Build metadata standing alone: node-semver drops every '+build' before reading a set.
    (["validRange", "1.2.3 +b", False], "1.2.3", None),
    (["validRange", "+b", False], "*", None),
    (["validRange", "^+b =1", False], ">=1.0.0 <2.0.0-0", None),
    # A '*' glued to a version: node-semver drops the first '*' of a comparator (and its operator).
    (["validRange", "*1.2.3", False], "1.2.3", None),
    (["validRange", "1.2.3*", False], "1.2.3", None),
    (["validRange", ">*1.2.3", False], "1.2.3", None),
    (["validRange", ">8=*.0.1", False], ">8.0.1", None),
    # Unicode whitespace.
    (["validRange", "1.2.3\u00a0|| 2.0.0", False], "1.2.3||2.0.0", None),
    (["validRange", "\u30001.2.3", False], "1.2.3", None),
    # Surrounding whitespace on a version.
    (["valid", " 1.2.3"], "1.2.3", None),
    (["valid", "1.2.3\n"], "1.2.3", None),
    # Numbers above 2**53 - 1 (JavaScript's largest exact integer).
    (["valid", "9007199254740992.0.0"], None, "9007199254740992.0.0"),
    (["valid", "1.0.9007199254740992"], None, "1.0.9007199254740992"),
    (["compare", "1.0.0-9007199254740993", "1.0.0-9007199254740992"], 0, 1),
    (["validRange", "^9007199254740991.0.0", False], None, ">=9007199254740991.0.0 <9007199254740992.0.0-0"),
    # Ranges longer than 1,024 characters.
    (["validRange", " ".join(["1.2.3"] * 200), False], "1.2.3", None),
]


@pytest.mark.parametrize(("question", "node_answer", "our_answer"), DIFFERENCES, ids=lambda x: repr(x)[:40])
def test_documented_differences_are_real(
    node_semver: NodeSemver, question: list[Any], node_answer: Any, our_answer: Any
) -> None:
    """Each listed difference holds today: if node-semver changes, this says so and the docs must follow."""
    op, *args = question
    assert node_semver.ask([question]) == [node_answer]
    assert OURS[op](*args) == our_answer
