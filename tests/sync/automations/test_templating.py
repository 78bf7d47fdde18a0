"""The inputs' templating: paths, filters with defaults, types kept, nothing evaluated."""

import pytest

from sync.automations.templating import TemplateError, check, render

CONTEXT = {
    "contact": {"email": "ada@example.com", "first_name": "", "tags": ["vip", "new"], "n": 3},
    "steps": {"1": {"id": "C-77"}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ contact.email }}", "ada@example.com"),
        ("{{contact.tags}}", ["vip", "new"]),
        ("{{ contact.n }}", 3),
        ('Hi {{ contact.first_name | default:"there" }}!', "Hi there!"),
        ("{{ contact.missing | default:7 }}", 7),
        ("{{ contact.email | upper }}", "ADA@EXAMPLE.COM"),
        ("{{ contact.tags | first }}", "vip"),
        ('{{ contact.tags | join:"; " }}', "vip; new"),
        ("tags: {{ contact.tags }}", "tags: vip, new"),
        ("{{ steps.1.id }}", "C-77"),
        ("{{ contact.tags.1 }}", "new"),
        ("{{ nothing.here }}", None),
        ({"to": ["{{ contact.email }}", "x"]}, {"to": ["ada@example.com", "x"]}),
        (42, 42),
    ],
)
def test_render(template, expected):
    assert render(template, CONTEXT) == expected


@pytest.mark.parametrize(
    "template",
    [
        "{{ contact.email.__class__ | lower }}x{{ __import__('os') }}",
        "{{ contact.email | eval }}",
        "{{ 1 + 1 }}",
    ],
)
def test_anything_but_paths_and_known_filters_is_refused(template):
    with pytest.raises(TemplateError):
        check(template)


def test_dunder_paths_reach_nothing():
    assert render("{{ contact.__class__ }}", CONTEXT) is None
