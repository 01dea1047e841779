"""The where language's parser: the AST it builds, and the QueryError (with its column) for what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelreg import QueryError
from modelreg._query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    And,
    Comparison,
    Exists,
    Like,
    Member,
    Not,
    Or,
    Satisfies,
    parse_where,
)
from modelreg.semver import parse_range, parse_version


def refused(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_where(text)
    return caught.value


def test_empty_and_blank_queries_match_everything() -> None:
    assert parse_where("") is None
    assert parse_where("  \t\n") is None


def test_the_issues_example_parses_to_a_conjunction_of_typed_conditions() -> None:
    node = parse_where("metrics.top1 >= 0.76 and params.optimizer = 'adam' and version satisfies '^2'")
    assert isinstance(node, And)
    top1, optimizer, version = node.parts
    assert isinstance(top1, Comparison) and (top1.field.text, top1.op, top1.value) == ("metrics.top1", ">=", 0.76)
    assert isinstance(optimizer, Comparison) and optimizer.field.key == ("optimizer",) and optimizer.value == "adam"
    assert isinstance(version, Satisfies) and version.range == parse_range("^2")
    assert (top1.position, optimizer.field.position, version.position) == (14, 26, 64)


def test_or_binds_looser_than_and_and_parentheses_regroup() -> None:
    node = parse_where("name = 'a' or name = 'b' and name = 'c'")
    assert isinstance(node, Or) and isinstance(node.parts[1], And)
    node = parse_where("(name = 'a' or name = 'b') and name = 'c'")
    assert isinstance(node, And) and isinstance(node.parts[0], Or)


def test_keywords_are_read_in_any_case() -> None:
    node = parse_where("NOT alias Exists AnD name ILIKE 'RES%' oR version IN ('1.0.0')")
    assert isinstance(node, Or)
    first, member = node.parts
    assert isinstance(first, And) and isinstance(first.parts[0], Not) and isinstance(first.parts[0].operand, Exists)
    assert isinstance(first.parts[1], Like) and first.parts[1].ignore_case
    assert isinstance(member, Member) and member.values == (parse_version("1.0.0"),)


def test_strings_take_either_quote_and_backslash_escapes() -> None:
    node = parse_where(r"""description = 'it\'s \"x\"\n\u00e9' or description = "a\\b" """)
    assert isinstance(node, Or)
    assert [p.value for p in node.parts if isinstance(p, Comparison)] == ["it's \"x\"\né", "a\\b"]


def test_like_keeps_backslash_percent_and_underscore_escaped_for_the_pattern() -> None:
    node = parse_where(r"name like '50\%\_x'")
    assert isinstance(node, Like) and node.pattern == r"50\%\_x"


def test_numbers_are_json_numbers_and_literals_true_false_null() -> None:
    node = parse_where("metrics.a in (1, -2.5, 3e2, 0.1E-1) and params.b = true and params.c != null")
    assert isinstance(node, And)
    member, flag, null = node.parts
    assert isinstance(member, Member) and member.values == (1, -2.5, 300.0, 0.01)
    assert isinstance(flag, Comparison) and flag.value is True
    assert isinstance(null, Comparison) and null.value is None


def test_backticked_keys_and_nested_params_keys() -> None:
    node = parse_where("metrics.`top-1@224` > 0.5 and params.opt.name = 'sgd' and params.`a.b` exists")
    assert isinstance(node, And)
    metric, nested, dotted = node.parts
    assert isinstance(metric, Comparison) and metric.field.key == ("top-1@224",)
    assert isinstance(nested, Comparison) and nested.field.key == ("opt", "name")
    assert isinstance(dotted, Exists) and dotted.field.key == ("a.b",)


def test_dates_and_versions_arrive_converted() -> None:
    node = parse_where("training_date >= '2026-01-05' and version < 'v2.0.0-rc.1'")
    assert isinstance(node, And)
    date, version = node.parts
    assert isinstance(date, Comparison) and date.value == datetime(2026, 1, 5, tzinfo=UTC)
    assert isinstance(version, Comparison) and version.value == parse_version("2.0.0-rc.1")


def test_not_in_and_not_like_are_negations() -> None:
    node = parse_where("tags.team not in ('a', 'b') and name not like 'x%'")
    assert isinstance(node, And)
    assert all(isinstance(part, Not) for part in node.parts)


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("metrics.top1 >= ", 17, "expected a value after '>=' at column 17"),
        ("metrics.top1 = 'abc'", 16, "metrics.top1 holds numbers: expected a number after '='"),
        ("version > 3", 11, "expected a quoted version after '>'"),
        ("training_date > 5", 17, "expected a quoted date after '>'"),
        ("training_date > '2026-01-05T10:00:00'", 17, "no UTC offset"),
        ("version = '1.2'", 11, "invalid version '1.2'"),
        ("version satisfies '>=>=1'", 19, "invalid version range"),
        ("name satisfies '^1'", 6, "applies to version"),
        ("name < 'b'", 6, "'<' orders numbers, dates and versions"),
        ("metrics.top1 like 'a%'", 14, "'like' matches strings"),
        ("params.lr < true", 13, "a number or a string"),
        ("foo = 1", 1, "unknown field 'foo'"),
        ("metrics = 1", 9, "metrics needs a key"),
        ("name.x = 'a'", 5, "name has no keys"),
        ("metrics. = 1", 10, "expected a key after '.'"),
        ("name = 'a' and", 15, "expected a condition"),
        ("(name = 'a'", 12, "expected ')' to close the '(' at column 1"),
        ("name = 'a')", 11, "expected 'and', 'or' or the end of the query"),
        ("name = 'unterminated", 8, "unterminated string"),
        ("name = 'a' # x", 12, "unexpected character '#'"),
        ("name 'a'", 6, "expected an operator"),
        ("name not = 'a'", 10, "after 'not'"),
        ("name exists", 6, "name always exists"),
        ("name in 'a'", 9, "expected '(' after 'in'"),
        ("name in ('a' 'b')", 14, "expected ',' or ')'"),
        ("name like 5", 11, "expected a quoted string after 'like'"),
        (r"name = 'a\q'", 10, "unknown escape"),
        ("metrics.a = 1e999", 13, "too large"),
        ("metrics.a = 5x", 13, "unexpected character"),
    ],
)
def test_bad_queries_name_the_column_and_what_was_expected(text: str, column: int, says: str) -> None:
    error = refused(text)
    assert error.position == column, error
    assert says in str(error)
    assert f"column {column}" in str(error)


def test_length_and_nesting_are_bounded_and_the_error_says_the_limit() -> None:
    assert str(MAX_QUERY_LENGTH) in str(refused("name = '" + "a" * MAX_QUERY_LENGTH + "'"))
    deep = "(" * (MAX_DEPTH + 1) + "name = 'a'" + ")" * (MAX_DEPTH + 1)
    assert f"deeper than {MAX_DEPTH}" in str(refused(deep))
    assert parse_where("(" * MAX_DEPTH + "name = 'a'" + ")" * MAX_DEPTH) is not None
    assert f"deeper than {MAX_DEPTH}" in str(refused("not " * (MAX_DEPTH + 1) + "alias exists"))


def test_a_where_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="where must be a str"):
        parse_where(5)  # type: ignore[arg-type]
