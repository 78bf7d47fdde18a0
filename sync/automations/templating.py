"""Inputs as templates over the trigger's data: `{{ contact.email | default:"x" | lower }}`.

A small renderer, not a template language: a placeholder is a dotted path into the context
(dicts and list indexes), followed by filters from FILTERS. Nothing is evaluated, no attribute
or method is reached (the context is plain JSON), so an operator's template cannot run code.
A string that is exactly one placeholder keeps the value's type (a list of tags, a number);
otherwise values are joined as text. Dicts and lists of templates render element by element.

    render(template, context) -> value          TemplateError on a malformed placeholder
"""

import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
PATH = re.compile(r"^[A-Za-z_][\w-]*(\.[\w-]+)*$")
ARGUMENT = re.compile(r"""^\s*(\w+)\s*(?::\s*("(?:[^"\\]|\\.)*"|'[^']*'|[\w.\-]+))?\s*$""")


class TemplateError(ValueError):
    """A placeholder that is not a path with known filters."""


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value in (None, "", [], {}) else value


FILTERS = {
    "default": _default,
    "lower": lambda value, _arg: str(value).lower() if value is not None else value,
    "upper": lambda value, _arg: str(value).upper() if value is not None else value,
    "strip": lambda value, _arg: str(value).strip() if value is not None else value,
    "join": lambda value, arg: (
        (arg or ",").join(map(str, value)) if isinstance(value, list) else value
    ),
    "first": lambda value, _arg: value[0] if isinstance(value, list) and value else None,
}


def render(template: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, context) for item in template]
    if not isinstance(template, str) or "{{" not in template:
        return template
    whole = PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return evaluate(whole.group(1), context)
    return PLACEHOLDER.sub(lambda m: _text(evaluate(m.group(1), context)), template)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    path, *filters = _split_filters(expression)
    if not PATH.match(path):
        raise TemplateError(f"{{{{ {expression.strip()} }}}}: {path!r} is not a field path.")
    value = lookup(context, path)
    for item in filters:
        match = ARGUMENT.match(item)
        if not match or match.group(1) not in FILTERS:
            known = ", ".join(FILTERS)
            raise TemplateError(f"Unknown filter {item.strip()!r}: use one of {known}.")
        value = FILTERS[match.group(1)](value, _literal(match.group(2)))
    return value


def lookup(context: Any, path: str) -> Any:
    value = context
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def placeholders(template: Any) -> list[str]:
    """Every placeholder's expression (for validation in the admin)."""
    if isinstance(template, dict):
        return [p for value in template.values() for p in placeholders(value)]
    if isinstance(template, list):
        return [p for item in template for p in placeholders(item)]
    return PLACEHOLDER.findall(template) if isinstance(template, str) else []


def check(template: Any) -> None:
    """Raise TemplateError if any placeholder is malformed (evaluated against nothing)."""
    for expression in placeholders(template):
        evaluate(expression, {})


def _split_filters(expression: str) -> list[str]:
    """Split on `|` outside quotes."""
    parts, current, quote = [], "", ""
    for char in expression:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "|":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    return [*parts, current.strip()]


def _literal(raw: str | None) -> Any:
    if raw is None:
        return None
    if raw[:1] in "\"'":
        return raw[1:-1].replace('\\"', '"')
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
