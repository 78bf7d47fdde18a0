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
        from contacts.signals import contact_erased

        contact_erased.connect(_scrub_backfill_errors, dispatch_uid="ops.erasure")


def _register_dashboard_panels() -> None:
    from ops.dashboard import build_polls_panel, build_push_all_panel
    from portal.dashboard import register_panel

    register_panel("ops-push-all", "admin/ops/dashboard_push_all.html", build_push_all_panel, 20)
    register_panel("ops-polls", "admin/ops/dashboard_polls.html", build_polls_panel, 15)


def _setup_schedules(**kwargs) -> None:
    from ops.schedules import setup_schedules

    setup_schedules()


def _scrub_backfill_errors(sender, *, terms: list[str], **kwargs) -> None:
    """A backfill's kept failures may quote an erased contact's values."""
    from ops.models import BackfillRun
    from portal.erasure import scrub_rows

    scrub_rows(BackfillRun.objects.all(), ["errors", "last_error"], terms)
