"""SemVer 2.0.0 parsing and precedence, and npm (node-semver strict) version ranges."""

from __future__ import annotations

import copy
import doctest
import itertools
import json
import pickle
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelreg import _range, _version, semver
from modelreg.errors import InvalidVersionError
from modelreg.semver import SemVer, VersionRange, parse_range, parse_version

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "semver-vectors.json").read_text(encoding="utf-8")
)


def _quoted(text: str) -> str:
    """How an error message quotes *text* (repr, cut to about 80 characters)."""
    return repr(text) if len(text) <= 80 else repr(text[:77])


def _cmp_all(a: SemVer, b: SemVer) -> tuple[bool, bool, bool, bool, bool, bool]:
    return (a < b, a <= b, a == b, a != b, a >= b, a > b)


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize(
    "case", VECTORS["range_include"], ids=lambda c: f"{c['range']!r}>{c['version']}-{c['include_prerelease']}"
)
def test_vector_range_contains_version(case: dict[str, Any]) -> None:
    version_range = VersionRange(case["range"], include_prerelease=case["include_prerelease"])
    assert version_range.contains(case["version"])
    assert version_range.contains(SemVer.parse(case["version"]))


@pytest.mark.parametrize(
    "case", VECTORS["range_exclude"], ids=lambda c: f"{c['range']!r}>{c['version']}-{c['include_prerelease']}"
)
def test_vector_range_excludes_version(case: dict[str, Any]) -> None:
    version_range = VersionRange(case["range"], include_prerelease=case["include_prerelease"])
    if case["version"] in ("not a version", "glorp"):  # node says False; we say what is wrong
        with pytest.raises(InvalidVersionError):
            version_range.contains(case["version"])
        return
    assert not version_range.contains(case["version"])
    assert SemVer.parse(case["version"]) not in version_range


@pytest.mark.parametrize(
    "case", VECTORS["range_parse"], ids=lambda c: f"{c['range']!r}-{c['include_prerelease']}"
)
def test_vector_range_desugars_as_node_semver_prints_it(case: dict[str, Any]) -> None:
    include_prerelease = case["include_prerelease"]
    if case["range"] == "^9007199254740991.0.0":  # its bound is beyond JavaScript's integers (docs/versions.md)
        assert VersionRange(case["range"]).normalized == ">=9007199254740991.0.0 <9007199254740992.0.0-0"
    elif case["normalized"] is None:
        with pytest.raises(InvalidVersionError, match="invalid version range"):
            VersionRange(case["range"], include_prerelease=include_prerelease)
    else:
        assert VersionRange(case["range"], include_prerelease=include_prerelease).normalized == case["normalized"]


@pytest.mark.parametrize(("higher", "lower"), VECTORS["greater_than"])
def test_vector_greater_than_pairs_are_ordered(higher: str, lower: str) -> None:
    a, b = SemVer.parse(higher), SemVer.parse(lower)
    assert _cmp_all(a, b) == (False, False, False, True, True, True)
    assert _cmp_all(b, a) == (True, True, False, True, False, False)
    assert sorted([a, b]) == [b, a]


@pytest.mark.parametrize(("left", "right"), VECTORS["equal_precedence"])
def test_vector_equal_precedence_pairs_are_equal(left: str, right: str) -> None:
    if left != left.strip():  # node-semver trims whitespace; we refuse it (docs/versions.md)
        with pytest.raises(InvalidVersionError):
            SemVer.parse(left)
        left = left.strip().removeprefix("v")
    a, b = SemVer.parse(left), SemVer.parse(right)
    assert _cmp_all(a, b) == (False, True, True, False, True, False)
    assert hash(a) == hash(b)
    assert a.identity == b.identity
    assert str(a) == left and str(b) == right  # build metadata is kept in the text


@pytest.mark.parametrize("case", VECTORS["valid_versions"], ids=lambda c: c["text"])
def test_vector_valid_version_parses_to_its_fields(case: dict[str, Any]) -> None:
    version = SemVer.parse(case["text"])
    assert (version.major, version.minor, version.patch) == (case["major"], case["minor"], case["patch"])
    # The JSON may hold numeric pre-release identifiers as ints or as digit strings.
    assert [str(i) for i in version.prerelease] == [str(i) for i in case["prerelease"]]
    for ident in version.prerelease:
        assert isinstance(ident, int) == str(ident).isdigit()
    assert list(version.build) == case["build"]
    assert str(version) == version.canonical == case["text"].removeprefix("v")
    assert parse_version(case["text"]) == version


# SemVer 2.0.0 sets no limit on numbers; node-semver refuses any above 2**53 - 1 (docs/versions.md).
BEYOND_JAVASCRIPT = [t for t in VECTORS["invalid_versions"] if "9007199254740991" in t]
# modelreg's own additions to node-semver's list.
OWN_INVALID_VERSIONS = [
    "xyz",
    "1.2",
    "1.2.3.4",
    "01.2.3",
    "1.02.3",
    "1.2.03",
    "1.2.3-01",
    "1.2.3-",
    "1.2.3+",
    "1.2.3-a..b",
    "1.2.3+a..b",
    "1.2.3 ",
    " 1.2.3",
    "1.2.3\n",
    "=1.2.3",
    "v 1.2.3",
    "V1.2.3",
]


@pytest.mark.parametrize("text", BEYOND_JAVASCRIPT, ids=repr)
def test_vector_numbers_beyond_javascript_integers_are_valid_semver(text: str) -> None:
    assert str(SemVer.parse(text)) == text


@pytest.mark.parametrize(
    "text", [t for t in VECTORS["invalid_versions"] if t not in BEYOND_JAVASCRIPT] + OWN_INVALID_VERSIONS, ids=repr
)
def test_vector_invalid_version_is_refused_with_a_quoting_message(text: str) -> None:
    for parse in (SemVer.parse, parse_version):
        with pytest.raises(InvalidVersionError) as caught:
            parse(text)
        assert _quoted(text) in str(caught.value)
        assert "MAJOR.MINOR.PATCH" in str(caught.value)
        assert caught.value.version == text


# --------------------------------------------------------------------------- the spec's own examples

SPEC_CHAINS = [
    [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
    ],
    ["1.0.0", "2.0.0", "2.1.0", "2.1.1"],
]
SPEC_PAIRS = [pair for chain in SPEC_CHAINS for pair in itertools.combinations(chain, 2)]


@pytest.mark.parametrize(("lower", "higher"), SPEC_PAIRS)
def test_spec_precedence_examples_hold_for_every_pair(lower: str, higher: str) -> None:
    a, b = SemVer.parse(lower), SemVer.parse(higher)
    assert _cmp_all(a, b) == (True, True, False, True, False, False)
    assert _cmp_all(b, a) == (False, False, False, True, True, True)


@pytest.mark.parametrize("chain", SPEC_CHAINS)
def test_sorting_shuffled_spec_examples_restores_their_order(chain: list[str]) -> None:
    shuffled = [SemVer.parse(t) for t in chain]
    random.Random(7).shuffle(shuffled)
    assert [str(v) for v in sorted(shuffled)] == chain


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0-rc.1", "1.0.0"),  # a release outranks its pre-releases
        ("1.0.0-2", "1.0.0-10"),  # numeric identifiers compare numerically
        ("1.0.0-999", "1.0.0-a"),  # numeric identifiers are lower than alphanumeric ones
        ("1.0.0-B", "1.0.0-a"),  # alphanumeric identifiers compare in ASCII order
        ("1.0.0-a.b", "1.0.0-a.b.0"),  # a longer list wins when the prefix is equal
        ("1.0.0-9", "1.0.0-10a"),  # '10a' is alphanumeric, not the number 10
        ("1.9.0", "1.10.0"),
        ("0.0.0-0", "0.0.0"),
    ],
)
def test_prerelease_precedence_rules(lower: str, higher: str) -> None:
    assert SemVer.parse(lower) < SemVer.parse(higher)


def test_build_metadata_is_ignored_for_precedence_and_equality() -> None:
    a, b, plain = SemVer.parse("1.0.0+a"), SemVer.parse("1.0.0+b"), SemVer.parse("1.0.0")
    assert a == b == plain and hash(a) == hash(b) == hash(plain)
    assert not a < b and not b < a
    assert len({a, b, plain}) == 1
    assert SemVer.parse("1.0.0-rc.1+zzz") < SemVer.parse("1.0.0+aaa")


def test_identity_drops_build_metadata_and_canonical_drops_leading_v() -> None:
    version = SemVer.parse("v1.2.3-rc.1+build.7")
    assert version.identity == "1.2.3-rc.1"
    assert version.canonical == str(version) == "1.2.3-rc.1+build.7"
    assert version.is_prerelease and not SemVer.parse("1.2.3+b").is_prerelease
    assert repr(version) == "<SemVer('1.2.3-rc.1+build.7')>"


def test_doctests_in_the_modules_pass() -> None:
    for module in (_version, _range, semver):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module


# --------------------------------------------------------------------------- invalid input

TOO_LONG = [
    "1.0.0-" + "a" * 251,
    "1.0.0+" + "b" * 251,
    "v1.0.0-" + "a" * 250,  # the leading 'v' counts toward the limit
    "1" * 253 + ".0.0",
]


@pytest.mark.parametrize(
    "text",
    [
        "1.0",
        "1",
        "01.0.0",
        "1.00.0",
        "1.0.0-",
        "1.0.0-01",
        "1.0.0-rc.01",
        "1.0.0+",
        "1.0.0-a..b",
        "1.0.0-.a",
        "1.0.0-a.",
        "1.0.0+b..c",
        "1.0.0-+b",
        "1.0.0++b",
        "1..0",
        ".1.0.0",
        "-1.0.0",
        "1.-1.0",
        "1.0.0.0",
        "1.0.0_rc",
        "",
        " ",
        "\t",
        " 1.0.0",
        "1.0.0 ",
        "1.0.0\n",
        "\n1.0.0",
        "1.0.0-rc 1",
        "\uff11.0.0",  # fullwidth digit one
        "\u0661.0.0",  # Arabic-Indic digit one
        "1.\u0660.0",  # Arabic-Indic digit zero
        "1.0.0-\u03b1",  # Greek alpha
        "1.0.0+ü",
        "1.0.0-\uff41",  # fullwidth a
        "v",
        "vv1.0.0",
        "V1.0.0",
        "v 1.0.0",
        "=1.0.0",
        "^1.0.0",
        "1.x.0",
        *TOO_LONG,
    ],
    ids=lambda t: repr(t)[:30],
)
def test_invalid_version_is_refused_with_a_helpful_message(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        SemVer.parse(text)
    message = str(caught.value)
    assert message.startswith("invalid version ")
    assert _quoted(text) in message
    assert "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" in message
    assert len(message) < 250
    assert caught.value.version == text
    assert isinstance(caught.value, ValueError)


def test_versions_up_to_256_characters_are_accepted() -> None:
    assert len(SemVer.parse("1.0.0-" + "a" * 250).canonical) == 256
    assert SemVer.parse("v1.0.0-" + "a" * 249).canonical == "1.0.0-" + "a" * 249


@pytest.mark.parametrize("bad", [None, 1, 1.0, b"1.0.0", ["1.0.0"], SemVer.parse("1.0.0")])
@pytest.mark.parametrize("function", [SemVer.parse, parse_version, VersionRange, parse_range])
def test_non_string_input_raises_type_error(function: Any, bad: object) -> None:
    with pytest.raises(TypeError):
        function(bad)


def test_semver_is_never_equal_to_a_string() -> None:
    version = SemVer.parse("1.0.0")
    assert version != "1.0.0" and not version == "1.0.0"  # noqa: SIM201
    assert version.__eq__("1.0.0") is NotImplemented
    with pytest.raises(TypeError):
        _ = version < "2.0.0"  # type: ignore[operator]


# --------------------------------------------------------------------------- construction and behaviour


def test_constructor_builds_the_same_version_as_parse() -> None:
    built = SemVer(1, 2, 3, ("rc", "1"), ("build", "007"))
    assert built == SemVer.parse("1.2.3-rc.1+build.007")
    assert built.prerelease == ("rc", 1) and built.build == ("build", "007")
    assert str(built) == "1.2.3-rc.1+build.007"
    assert SemVer(0, 0, 0) == SemVer.parse("0.0.0")


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((-1, 0, 0), {}),
        ((True, 0, 0), {}),
        (("1", 0, 0), {}),
        ((1, 0, 0), {"prerelease": ("01",)}),
        ((1, 0, 0), {"prerelease": ("",)}),
        ((1, 0, 0), {"prerelease": (-1,)}),
        ((1, 0, 0), {"prerelease": ("a.b",)}),
        ((1, 0, 0), {"prerelease": ("\u0661",)}),
        ((1, 0, 0), {"prerelease": (False,)}),
        ((1, 0, 0), {"build": ("",)}),
        ((1, 0, 0), {"build": ("a+b",)}),
        ((1, 0, 0), {"build": (1,)}),
        ((1, 0, 0), {"build": ("x" * 260,)}),
    ],
)
def test_constructor_refuses_invalid_parts(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidVersionError):
        SemVer(*args, **kwargs)


def test_semver_is_immutable_and_has_no_instance_dict() -> None:
    version = SemVer.parse("1.2.3")
    with pytest.raises(AttributeError):
        version.major = 2
    with pytest.raises(AttributeError):
        del version.minor
    assert not hasattr(version, "__dict__")


def test_semver_survives_pickle_and_copy() -> None:
    version = SemVer.parse("1.2.3-rc.1+b.2")
    for clone in (pickle.loads(pickle.dumps(version)), copy.copy(version), copy.deepcopy(version)):
        assert clone == version and str(clone) == str(version) and clone.prerelease == ("rc", 1)


def test_semver_parse_and_parse_version_are_one_parser() -> None:
    assert SemVer.parse("7.7.7-one") is parse_version("7.7.7-one")  # one cached parser behind both names


def test_parse_version_is_cached_with_a_bounded_cache() -> None:
    assert parse_version("4.5.6-cache") is parse_version("4.5.6-cache")
    assert _version._parse_version_cached.cache_info().maxsize == 4096
    assert _range._parse_range_cached.cache_info().maxsize == 1024


# --------------------------------------------------------------------------- hypothesis properties

ALNUM = "0123456789abyzABYZ-"


def _num_ids(top: int) -> st.SearchStrategy[str]:
    return st.integers(0, top).map(str)


def _version_texts(
    numbers: st.SearchStrategy[int], pre_ids: st.SearchStrategy[str], build_ids: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    def build(parts: tuple[int, int, int], pre: list[str], bld: list[str]) -> str:
        text = ".".join(map(str, parts))
        return text + ("-" + ".".join(pre) if pre else "") + ("+" + ".".join(bld) if bld else "")

    return st.builds(
        build,
        st.tuples(numbers, numbers, numbers),
        st.lists(pre_ids, max_size=4),
        st.lists(build_ids, max_size=3),
    )


alnum_ids = st.text(ALNUM, min_size=1, max_size=6).filter(lambda s: not s.isdigit())
version_texts = _version_texts(
    st.integers(0, 10**20),
    st.one_of(_num_ids(2**70), alnum_ids),
    st.text(ALNUM, min_size=1, max_size=6),
)
# Few distinct values, so that equal and adjacent versions come up often.
close_version_texts = _version_texts(
    st.integers(0, 2),
    st.sampled_from(["0", "1", "2", "10", "a", "b", "B", "a1", "-", "rc"]),
    st.sampled_from(["b", "c", "001"]),
)
versions = st.one_of(version_texts, close_version_texts).map(SemVer.parse)
close_versions = close_version_texts.map(SemVer.parse)

# The regular expression suggested by semver.org, used as an independent oracle.
OFFICIAL_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?",
    re.ASCII,
)


def _spec_compare(a: str, b: str) -> int:
    """SemVer 2.0.0 section 11, written out step by step on the text."""
    core_a, _, pre_a = a.partition("+")[0].partition("-")
    core_b, _, pre_b = b.partition("+")[0].partition("-")
    nums_a, nums_b = [int(x) for x in core_a.split(".")], [int(x) for x in core_b.split(".")]
    if nums_a != nums_b:
        return -1 if nums_a < nums_b else 1
    if not pre_a or not pre_b:
        return bool(pre_b) - bool(pre_a)  # a release is higher than a pre-release
    ids_a, ids_b = pre_a.split("."), pre_b.split(".")
    for x, y in zip(ids_a, ids_b, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        if x.isdigit() or y.isdigit():
            return -1 if x.isdigit() else 1
        return -1 if x < y else 1
    return (len(ids_a) > len(ids_b)) - (len(ids_a) < len(ids_b))


@given(version_texts)
def test_parse_round_trips_canonical_text(text: str) -> None:
    version = SemVer.parse(text)
    assert str(version) == text
    assert SemVer.parse(str(version)) == version
    assert SemVer(version.major, version.minor, version.patch, version.prerelease, version.build) == version


@given(st.one_of(version_texts, close_version_texts))
def test_leading_v_is_accepted_and_dropped(text: str) -> None:
    assert SemVer.parse("v" + text) == SemVer.parse(text)
    assert str(SemVer.parse("v" + text)) == text


@given(st.one_of(st.text(), st.text("0123456789.-+vVxa ", max_size=16)))
def test_parse_accepts_exactly_what_the_official_regex_accepts(text: str) -> None:
    expected = OFFICIAL_RE.fullmatch(text.removeprefix("v")) is not None and len(text) <= 256
    try:
        SemVer.parse(text)
    except InvalidVersionError:
        assert not expected
    else:
        assert expected


@given(st.one_of(close_version_texts, version_texts), st.one_of(close_version_texts, version_texts))
def test_ordering_matches_a_literal_reading_of_the_spec(a: str, b: str) -> None:
    expected = _spec_compare(a, b)
    va, vb = SemVer.parse(a), SemVer.parse(b)
    assert (va > vb) - (va < vb) == expected
    assert (va == vb) == (expected == 0)


@given(versions, versions)
def test_ordering_is_total_and_antisymmetric(a: SemVer, b: SemVer) -> None:
    assert [a < b, a == b, a > b].count(True) == 1
    if a <= b and b <= a:
        assert a == b


@given(close_versions, close_versions, close_versions)
def test_ordering_is_transitive(a: SemVer, b: SemVer, c: SemVer) -> None:
    if a <= b and b <= c:
        assert a <= c
    if a < b and b < c:
        assert a < c


@given(close_versions, close_versions)
def test_hash_is_consistent_with_equality(a: SemVer, b: SemVer) -> None:
    if a == b:
        assert hash(a) == hash(b)
        assert a.identity == b.identity
    else:
        assert a.identity != b.identity


@given(versions, st.lists(st.text(ALNUM, min_size=1, max_size=5), min_size=1, max_size=3))
def test_build_metadata_never_changes_equality(version: SemVer, build: list[str]) -> None:
    other = SemVer(version.major, version.minor, version.patch, version.prerelease, build)
    assert other == version and hash(other) == hash(version) and not other < version


# --------------------------------------------------------------------------- ranges: node-semver desugaring

# Beyond node-semver's range-parse fixtures (VECTORS["range_parse"]); each checked against node-semver 7.8.6.
RANGE_PARSE = [
    ("^1.2.3+build", ">=1.2.3 <2.0.0-0", False),
    ("~v0.5.4-pre", ">=0.5.4-pre <0.6.0-0", False),
    ("<=0.7.x", "<0.8.0-0", False),
    ("=0.7.x", ">=0.7.0 <0.8.0-0", False),
    ("1.2.3-pre+asdf - 2.4.3-pre+asdf", ">=1.2.3-pre <=2.4.3-pre", False),
    ("^0.0", "<0.1.0-0", False),
    ("^1.2.3", ">=1.2.3 <2.0.0-0", True),
    ("^0.1.2", ">=0.1.2 <0.2.0-0", True),  # a full version is its own lower bound (7.8.3)
    ("2.x", ">=2.0.0-0 <3.0.0-0", True),
    (">1.2", ">=1.3.0-0", True),
    ("~1.2.3", ">=1.2.3 <1.3.0-0", True),
    ("~0", "<1.0.0-0", True),  # open tilde forms start at -0 (7.8.5), and '>=0.0.0-0' is '*'
    ("~1.2", ">=1.2.0-0 <1.3.0-0", True),
    ("^0.0.0", ">=0.0.0 <0.0.1-0", True),
    ("1.2+b - 3+c", ">=1.2.0 <4.0.0-0", False),  # build metadata may follow any part, and is dropped
    ("^1+b.2 ~1.x+b-c", ">=1.0.0 <2.0.0-0", False),
    ("1+a+b.c", ">=1.0.0 <2.0.0-0", False),
    (">=v0.0.0 ^0.0.x", ">=0.0.0 <0.1.0-0", False),  # only the exact text '>=0.0.0' is dropped as '*'
    ("v0.0.0 - 1", ">=0.0.0 <2.0.0-0", False),
    ("^1.x.3", ">=1.0.0 <2.0.0-0", False),  # carets and tildes still read a number after a wildcard
    ("~x.1", "*", False),
]


@pytest.mark.parametrize(("text", "normalized", "include_prerelease"), RANGE_PARSE)
def test_range_desugars_like_node_semver(text: str, normalized: str, include_prerelease: bool) -> None:
    assert VersionRange(text, include_prerelease=include_prerelease).normalized == normalized


@pytest.mark.parametrize(
    "text",
    [
        ">",
        ">=",
        "^",
        "~",
        ">>1",
        "!!",
        "1.2.3.4",
        "01.2.3",
        ">01.02.03",
        "~1.2.3beta",
        "1.2.3 -",
        "- 1.2.3",
        "1.2.3 - 2.3.4 - 3",
        "1 - 2 >=1.5.0",
        "1.2.3 | 2",
        "has space x",
        "1.2.3-",
        "1.x-",
        "==1.2.3",
        "=>1.2.3",
        "v 1.2.3",
        "V1.2.3",
        "\uff11.2.3",
        "1.2.3>=1.0.0",
        "^>=1.2",
        ">=1.0.0 <",
        "latest",
        "1.2.3-01",
        "1.2.3 +b",  # build metadata must follow a version
        "+b",
        "~ >1.2",  # no space inside '~>'
        "x" * 1100,
    ],
    ids=lambda t: repr(t)[:30],
)
def test_invalid_range_is_refused_with_a_helpful_message(text: str) -> None:
    with pytest.raises(InvalidVersionError) as caught:
        VersionRange(text)
    message = str(caught.value)
    assert message.startswith("invalid version range ") and _quoted(text) in message
    assert "'^1.2.3'" in message or "longer than" in message
    assert caught.value.version == text
    with pytest.raises(InvalidVersionError):
        parse_range(text)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("1.x.3", "1.x.3"),
        ("1.*.2", "1.*.2"),
        ("*.1", "*.1"),
        ("x.1", "x.1"),
        ("< *.1", "< *.1"),
        ("^1 >=1.x.3-rc", ">=1.x.3-rc"),
    ],
)
def test_number_after_a_wildcard_is_an_invalid_range_that_says_so(text: str, at: str) -> None:
    """node-semver 7.8 refuses these x-ranges; the message names the comparator and a valid spelling."""
    for include_prerelease in (False, True):
        with pytest.raises(InvalidVersionError) as caught:
            VersionRange(text, include_prerelease=include_prerelease)
        message = str(caught.value)
        assert message.startswith(f"invalid version range {text!r} at {at!r}: a number cannot follow a wildcard")
        assert "'1.2.x'" in message and caught.value.version == text


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        (" ^1.2.3 ", ">=1.2.3 <2.0.0-0"),
        ("\t>=1.0.0\n", ">=1.0.0"),
        ("1.0.0||2.0.0", "1.0.0||2.0.0"),
        ("v1.2.3", "1.2.3"),
        (">=v1.2.3", ">=1.2.3"),
        (">= v1.2.3", ">=1.2.3"),
        ("^v1", ">=1.0.0 <2.0.0-0"),
        ("v1.x - v2", ">=1.0.0 <3.0.0-0"),
        ("= 1.2.3", "1.2.3"),
    ],
)
def test_range_accepts_npm_whitespace_and_v_prefixes(text: str, normalized: str) -> None:
    assert VersionRange(text).normalized == normalized


# --------------------------------------------------------------------------- ranges: behaviour


def test_prerelease_only_matches_sets_naming_the_same_triple() -> None:
    version_range = VersionRange(">=1.2.3-rc.1 <2.0.0")
    assert version_range.contains("1.2.3-rc.2")
    assert not version_range.contains("1.2.4-rc.1")
    assert not version_range.contains("1.2.3-rc.0")
    assert VersionRange(">=1.2.3-rc.1 <2.0.0", include_prerelease=True).contains("1.2.4-rc.1")
    assert VersionRange(">=1.0.0 || >=1.2.4-alpha").contains("1.2.4-beta")


def test_range_text_equality_hash_and_repr() -> None:
    a = VersionRange(" ^1.2 ")
    assert str(a) == a.text == " ^1.2 "
    assert a == VersionRange(" ^1.2 ") and hash(a) == hash(VersionRange(" ^1.2 "))
    assert a != VersionRange("^1.2")  # same meaning, different text
    assert a != VersionRange(" ^1.2 ", include_prerelease=True)
    assert a != " ^1.2 "
    assert (
        repr(VersionRange("^1", include_prerelease=True)) == "<VersionRange('^1', include_prerelease=True)>"
    )
    assert not a.include_prerelease


def test_contains_accepts_semver_or_text_and_refuses_anything_else() -> None:
    version_range = VersionRange("^1.2")
    assert version_range.contains("1.3.0") and SemVer.parse("1.3.0") in version_range
    assert "v1.3.0" in version_range and "1.3.0+build" in version_range
    with pytest.raises(InvalidVersionError):
        version_range.contains("1.3")
    with pytest.raises(TypeError):
        version_range.contains(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _ = 1 in version_range


def test_max_satisfying_returns_the_highest_match() -> None:
    candidates = [SemVer.parse(t) for t in ["1.0.0", "1.4.0", "1.10.0", "2.0.0", "1.11.0-rc.1"]]
    assert VersionRange("^1.0.0").max_satisfying(candidates) == SemVer.parse("1.10.0")
    assert VersionRange("^1.0.0", include_prerelease=True).max_satisfying(candidates) == SemVer.parse(
        "1.11.0-rc.1"
    )
    assert VersionRange("^3").max_satisfying(candidates) is None
    assert VersionRange("*").max_satisfying([]) is None
    first, second = SemVer.parse("1.0.0+a"), SemVer.parse("1.0.0+b")
    assert VersionRange("1").max_satisfying(iter([first, second])) is first


def test_parse_range_is_cached_and_excludes_prereleases() -> None:
    assert parse_range("^9.9") is parse_range("^9.9")
    assert parse_range("^9.9") == VersionRange("^9.9")
    assert not parse_range("*").contains("1.0.0-rc.1")


def test_range_is_immutable_and_pickles() -> None:
    version_range = VersionRange("^1.2 || 3.x", include_prerelease=True)
    with pytest.raises(AttributeError):
        version_range._text = "x"
    clone = pickle.loads(pickle.dumps(version_range))
    assert clone == version_range and clone.normalized == version_range.normalized


small = st.integers(0, 3)
triples = st.tuples(small, small, small)
releases = triples.map(lambda t: SemVer(*t))


@given(triples, releases)
def test_caret_allows_changes_that_keep_the_leftmost_nonzero_part(
    base: tuple[int, int, int], v: SemVer
) -> None:
    major, minor, patch = base
    expected = v >= SemVer(*base) and (
        v.major == major
        if major
        else (v.major, v.minor) == (0, minor)
        if minor
        else (v.major, v.minor, v.patch) == base
    )
    assert VersionRange(f"^{major}.{minor}.{patch}").contains(v) == expected


@given(triples, releases)
def test_tilde_allows_patch_level_changes(base: tuple[int, int, int], v: SemVer) -> None:
    expected = v >= SemVer(*base) and (v.major, v.minor) == base[:2]
    assert VersionRange("~{}.{}.{}".format(*base)).contains(v) == expected
    assert VersionRange("~>{}.{}".format(*base[:2])).contains(v) == ((v.major, v.minor) == base[:2])


@given(triples, releases, st.sampled_from(["x", "X", "*"]))
def test_x_ranges_fix_the_given_parts(base: tuple[int, int, int], v: SemVer, x: str) -> None:
    assert VersionRange(f"{base[0]}.{base[1]}.{x}").contains(v) == ((v.major, v.minor) == base[:2])
    assert VersionRange(f"{base[0]}.{x}").contains(v) == (v.major == base[0])
    assert VersionRange(f"{base[0]}").contains(v) == (v.major == base[0])


@given(close_versions, close_versions, close_versions)
def test_hyphen_and_comparator_ranges_match_their_bounds(low: SemVer, high: SemVer, v: SemVer) -> None:
    named = any(b.is_prerelease and b.identity.split("-")[0] == v.identity.split("-")[0] for b in (low, high))
    allowed = not v.is_prerelease or named  # npm's pre-release rule
    above = low <= v or low == SemVer(0, 0, 0)  # npm drops '>=0.0.0' as the same as '*'
    assert VersionRange(f"{low} - {high}").contains(v) == (above and v <= high and allowed)
    assert VersionRange(f">={low} <{high}").contains(v) == (above and v < high and allowed)
    # include_prerelease: the rule is off, and a release lower bound of a hyphen
    # range also admits its own pre-releases ('1.0.0 - 2.0.0' => '>=1.0.0-0 <2.0.1-0').
    floor = low if low.is_prerelease else SemVer(low.major, low.minor, low.patch, (0,))
    assert VersionRange(f"{low} - {high}", include_prerelease=True).contains(v) == (floor <= v <= high)
    assert VersionRange(f">={low} <{high}", include_prerelease=True).contains(v) == (low <= v < high)


@given(
    st.lists(st.sampled_from(["^1.2", "~0.1.1", "2.x", "<0.1.0", ">=3.0.0-rc.1", "1.2.3 - 2"]), min_size=1)
)
def test_alternatives_match_if_any_part_matches(parts: list[str]) -> None:
    candidates = [
        SemVer(a, b, c, pre) for a, b, c in itertools.product(range(4), repeat=3) for pre in [(), ("rc", 1)]
    ]
    combined = VersionRange(" || ".join(parts))
    for v in candidates:
        assert combined.contains(v) == any(VersionRange(p).contains(v) for p in parts)


@given(
    st.sampled_from(["^1.2", "~0.1.1", "2.x || <0.2", "*", ">=1.1.0-0", "<0.0.0-0"]), st.lists(close_versions)
)
def test_max_satisfying_is_the_max_of_the_matches(text: str, candidates: list[SemVer]) -> None:
    version_range = VersionRange(text)
    expected = max((v for v in candidates if v in version_range), default=None)
    assert version_range.max_satisfying(candidates) is expected


@pytest.mark.parametrize("text", ["\x85", "\x1c", "1.2.3 \x1f", "^1 \x85x"])
def test_unicode_separators_in_a_range_are_an_invalid_range(text: str) -> None:
    with pytest.raises(InvalidVersionError, match="invalid version range"):
        parse_range(text)
