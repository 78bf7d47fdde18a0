import pytest

from sync.mapping.rules import (
    RuleError,
    matches,
    passes_filters,
    triggered_actions,
    validate_conditions,
)
from tests.factories import ContactFactory
from tests.sync.factories import ConnectionFactory, RuleFactory

VALUES = {"age": 30, "tags": ["vip", "lead"], "email": "ada@acme.com", "custom_fields": {"x": 2}}


def cond(field, operator, value):
    return {"field": field, "operator": operator, "value": value}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (cond("age", "EQUAL", 30), True),
        (cond("age", "NOT_EQUAL", 30), False),
        (cond("age", "LARGER", 29), True),
        (cond("age", "SMALLER", 30), False),
        (cond("age", "LARGER_EQUAL", 30), True),
        (cond("age", "SMALLER_EQUAL", 29), False),
        (cond("age", "IN", [1, 30]), True),
        (cond("age", "NOT_IN", [1, 30]), False),
        (cond("tags", "ALL_IN", ["vip", "lead"]), True),
        (cond("tags", "ALL_IN", ["vip", "gold"]), False),
        (cond("tags", "ANY_IN", ["gold", "vip"]), True),
        (cond("tags", "ANY_IN", ["gold"]), False),
        (cond("age", "BETWEEN", [18, 30]), True),
        (cond("age", "NOT_BETWEEN", [18, 30]), False),
        (cond("email", "LIKE", "%@ACME.com"), True),
        (cond("email", "LIKE", "a_a@%"), True),
        (cond("email", "NOT_LIKE", "%@acme.com"), False),
        (cond("custom_fields.x", "EQUAL", 2), True),
        (cond("missing", "LARGER", 1), False),
    ],
)
def test_operators(condition, expected):
    assert matches(condition, VALUES) is expected


def test_groups_nest_with_and_or():
    rule = {
        "op": "OR",
        "conditions": [
            cond("age", "SMALLER", 18),
            {
                "op": "AND",
                "conditions": [cond("tags", "ANY_IN", ["vip"]), cond("age", "EQUAL", 30)],
            },
        ],
    }
    assert matches(rule, VALUES)
    assert not matches({"op": "AND", "conditions": [rule, cond("age", "EQUAL", 1)]}, VALUES)
    assert matches({}, VALUES)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"op": "XOR", "conditions": []}, "group operator"),
        ({"field": "age", "operator": "ABOUT"}, "Unknown operator"),
        ({"operator": "EQUAL"}, "needs a field"),
        ({"op": "AND", "conditions": "x"}, "must be a list"),
        ("age > 3", "must be an object"),
    ],
)
def test_invalid_rules_are_refused_with_a_message(bad, message):
    with pytest.raises(RuleError, match=message):
        validate_conditions(bad)


def test_between_needs_two_bounds_and_comparisons_need_comparable_values():
    with pytest.raises(RuleError, match="BETWEEN"):
        matches(cond("age", "BETWEEN", 3), VALUES)
    with pytest.raises(RuleError, match="Cannot compare"):
        matches(cond("email", "LARGER", 3), VALUES)


@pytest.mark.django_db
def test_filter_rules_decide_per_connection(workspace):
    conn = ConnectionFactory(workspace=workspace)
    RuleFactory(connection=conn, conditions=cond("tags", "ANY_IN", ["vip"]))
    assert passes_filters(conn, ContactFactory(workspace=workspace, tags=["vip"]))
    assert not passes_filters(conn, ContactFactory(workspace=workspace, tags=[]))


@pytest.mark.django_db
def test_action_rules_fire_when_the_condition_becomes_true(workspace):
    conn = ConnectionFactory(workspace=workspace)
    rule = RuleFactory(
        connection=conn,
        kind="action",
        action="add_to_workflow",
        action_argument="wf1",
        conditions=cond("tags", "ANY_IN", ["vip"]),
    )
    contact = ContactFactory(workspace=workspace, tags=["vip"])
    assert triggered_actions(conn, contact, {"tags": [[], ["vip"]]}) == [rule]
    assert triggered_actions(conn, contact, {"tags": [["vip", "x"], ["vip"]]}) == []


# Issue 15, row 7: LIKE compiled to a backtracking regex; `%a%a%b%` on 1.5 KB took 3.3 s.
def _like_oracle(value: str, pattern: str) -> bool:
    """SQL LIKE by dynamic programming: slow but obviously right (the reference)."""
    text, pat = value.lower(), pattern.lower()
    row = [True] + [False] * len(text)
    for ch in pat:
        if ch == "%":
            row = [any(row[: i + 1]) for i in range(len(text) + 1)]
        else:
            row = [False] + [row[i] and ch in ("_", text[i]) for i in range(len(text))]
    return row[-1]


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("ada@acme.com", "%@acme.com"),
        ("ada@acme.com", "a_a@%"),
        ("ada@acme.com", "%a%a%b%"),
        ("abcabd", "%ab_"),
        ("abcabd", "a%c%d"),
        ("ab", "a%b%"),
        ("ab", "%a%%b"),
        ("", "%"),
        ("", "_"),
        ("a", ""),
        ("aXbXc", "a%b%c"),
        ("aXbXc", "a%c%b"),
        ("Straße", "STRAßE"),
        ("100%", "100%"),
        ("mississippi", "%iss%ipp%"),
        ("mississippi", "m%iss_ppi"),
    ],
)
def test_like_agrees_with_the_reference(value, pattern):
    expected = _like_oracle(value, pattern)
    assert matches(cond("email", "LIKE", pattern), {"email": value}) is expected
    assert matches(cond("email", "NOT_LIKE", pattern), {"email": value}) is (not expected)


def test_a_pathological_like_pattern_on_a_long_value_uses_no_regex(monkeypatch):
    import re

    def refuse(*args, **kwargs):
        raise AssertionError("LIKE must not use a (backtracking) regex")

    for name in ("compile", "fullmatch", "match", "search"):
        monkeypatch.setattr(re, name, refuse)
    value = "a" * 1500
    assert matches(cond("email", "LIKE", "%a%a%b%"), {"email": value}) is False
    assert matches(cond("email", "NOT_LIKE", "%a%a%b%"), {"email": value}) is True
    assert matches(cond("email", "LIKE", "%a%a%a%"), {"email": value + "b"}) is True
