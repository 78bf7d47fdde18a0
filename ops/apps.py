from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OpsConfig(AppConfig):
    """Operations: backfill, reconciliation, log pruning, alerts and the periodic schedules."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        post_migrate.connect(_setup_schedules, sender=self, dispatch_uid="ops.schedules")
        _register_dashboard_panels()


def _register_dashboard_panels() -> None:
    from ops.dashboard import build_push_all_panel
    from portal.dashboard import register_panel

    register_panel("ops-push-all", "admin/ops/dashboard_push_all.html", build_push_all_panel, 20)


def _setup_schedules(**kwargs) -> None:
    from ops.schedules import setup_schedules

    setup_schedules()
