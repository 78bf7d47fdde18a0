from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sync"
    verbose_name = "Sync"

    def ready(self) -> None:
        from contacts.signals import mirror_changed
        from sync.outbox import record_outbound_changes

        mirror_changed.connect(record_outbound_changes, dispatch_uid="sync.outbox")
        _register_dashboard_panels()
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="sync.schedules")
        post_migrate.connect(
            _ensure_inbound_schedule, sender=self, dispatch_uid="sync.webhooks.schedules"
        )


def _register_dashboard_panels() -> None:
    from portal.dashboard import register_panel
    from sync.console.dashboard import build_health_panel

    register_panel("sync-health", "admin/sync/dashboard_health.html", build_health_panel, order=10)


def _ensure_schedules(**kwargs) -> None:
    from sync.schedules import ensure_schedules

    ensure_schedules()


def _ensure_inbound_schedule(**kwargs) -> None:
    from sync.webhooks.schedules import ensure_inbound_schedule

    ensure_inbound_schedule()
