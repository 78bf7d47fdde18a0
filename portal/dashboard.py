"""The operator dashboard: a page of panels that other apps contribute.

portal knows nothing of sync: an app registers a panel in its AppConfig.ready —

    register_panel("sync-health", "admin/sync/dashboard_health.html", build_context)

— and the dashboard renders every registered panel in order, each from its own template with
the context its builder returns. Builders must keep their queries bounded (no full counts).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone


@dataclass(frozen=True)
class Panel:
    key: str
    template: str
    build: Callable[[HttpRequest], dict[str, Any]]
    order: int = 100


_PANELS: dict[str, Panel] = {}


def register_panel(
    key: str, template: str, build: Callable[[HttpRequest], dict[str, Any]], order: int = 100
) -> None:
    """Add (or replace, by key: ready() may run twice) a dashboard panel."""
    _PANELS[key] = Panel(key, template, build, order)


def panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda panel: (panel.order, panel.key))


def dashboard_view(request: HttpRequest) -> HttpResponse:
    rendered = [
        {"key": panel.key, "template": panel.template, "context": panel.build(request)}
        for panel in panels()
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Sync dashboard",
        "panels": rendered,
        "generated_at": timezone.now(),
    }
    return TemplateResponse(request, "admin/portal/dashboard.html", context)
