"""The where language: safe, typed at load, null-safe at run time, never eval."""

from __future__ import annotations

import pytest
from rule_factories import T0, ev

from rules.matching.expr import ExprError, parse
from rules.matching.expr_compile import compile_expr


def value(text: str, **attrs: object) -> object:
    return compile_expr(text, lists={"hot": ("medical", "tax")}, want_bool=False).value(
        ev(T0, **attrs)
    )


@pytest.mark.parametrize(
    ("text", "attrs", "expected"),
    [
        ("attrs.rows > 100 and attrs.rows <= 200", {"rows": 150}, True),
        ("attrs.rows > 100 && !(attrs.rows == 150)", {"rows": 150}, False),
        ("attrs.a + attrs.b == 5", {"a": 2, "b": 3}, True),
        ("attrs.first + ' ' + attrs.last", {"first": "Li", "last": "Si"}, "Li Si"),
        ("attrs.rows / 4 % 5", {"rows": 48}, 2.0),
        ("attrs.ds in $list:hot", {"ds": "tax"}, True),
        ("attrs.ds not in ['a', 'b']", {"ds": "c"}, True),
        ("attrs.name contains 'corp'", {"name": "acme corp"}, True),
        ("attrs.tags contains 'x'", {"tags": ["x", "y"]}, True),
        ("lower(attrs.name) startswith 'ac'", {"name": "ACME"}, True),
        ("attrs.code matches '^[0-9]{6}$'", {"code": "330106"}, True),
        ("hour(ts_ms) == 9 and weekday(ts_ms) == 1 and is_workday(ts_ms)", {}, True),
        ("len(attrs.name) == 4", {"name": "acme"}, True),
        ("num(attrs.n) > 2", {"n": "2.5"}, True),
        ("coalesce(attrs.missing, 'x') == 'x'", {}, True),
        ("-attrs.n", {"n": 3}, -3),
    ],
)
def test_evaluates(text: str, attrs: dict[str, object], expected: object) -> None:
    assert value(text, **attrs) == expected


@pytest.mark.parametrize(
    "text",
    [
        "attrs.missing > 3",
        "attrs.s > 3",
        "attrs.n / 0 > 1",
        "attrs.s + 1 > 0",
        "hour(attrs.s) == 1",
        "attrs.b > 0",
        "attrs.n matches 'x'",
        "len(attrs.n) > 0",
    ],
)
def test_nothing_raises_at_run_time_a_mismatch_is_false(text: str) -> None:
    expr = compile_expr(text)
    assert expr.holds(ev(T0, s="text", n=4, b=True)) is False


@pytest.mark.parametrize(
    ("text", "at", "message"),
    [
        ("region > 5", 7, "compares text with a number"),
        ("'a' + 1 == 'a1'", 4, "'+' adds two numbers or joins two texts"),
        ("not attrs.n + 1", 0, "'not' needs true/false here, got a number"),
        ("attrs.rows >", 12, "expected a value"),
        ("attrs.x == 1 == 2", 13, "comparisons do not chain"),
        ("item == 'x'", 0, "unknown field 'item'"),
        ("foo(attrs.x)", 0, "unknown function 'foo'"),
        ("attrs.x in $list:nope", 11, "unknown list 'nope'"),
        ("attrs.x matches '('", 16, "bad regular expression"),
        ("attrs.x + 1", 0, "not true/false"),
        ("attrs.x == 'a", 11, "unexpected character"),
        ("", 0, "the expression is empty"),
        ("hour(ts_ms, 1) > 3", 0, "hour() takes 1 argument"),
        ("is_workday(region)", 11, "'is_workday()' needs a number here, got text"),
    ],
)
def test_type_and_syntax_errors_point_at_the_offset(text: str, at: int, message: str) -> None:
    with pytest.raises(ExprError) as info:
        compile_expr(text, lists={"hot": ("a",)})
    assert info.value.at == at and message in info.value.message


def test_macros_expand_and_are_recorded() -> None:
    night = compile_expr("hour(ts_ms) < 6")
    expr = compile_expr("night and attrs.ds in $list:hot", {"hot": ("x",)}, {"night": night})
    assert expr.macros == {"night"} and expr.lists == {"hot"}
    assert expr.holds(ev(T0 - 8 * 3_600_000, ds="x")) and not expr.holds(ev(T0, ds="x"))


def test_never_eval_python() -> None:
    with pytest.raises(ExprError):
        compile_expr("__import__('os').system('true')")
    with pytest.raises(ExprError):
        parse("attrs.x; attrs.y")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ExprError, match="nests too deeply|longer than"):
        compile_expr("(" * 3000 + "true" + ")" * 3000)
