from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class SyncConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sync"
    verbose_name = "Sync"

    def ready(self) -> None:
        from contacts.signals import contact_erased, mirror_changed
        from contacts.sync_state import register_sync_state_provider
        from sync.engine.outbox import record_outbound_changes
        from sync.erasure import on_contact_erased
        from sync.sync_state import sync_states

        mirror_changed.connect(record_outbound_changes, dispatch_uid="sync.engine.outbox")
        contact_erased.connect(on_contact_erased, dispatch_uid="sync.erasure")
        _connect_automations(mirror_changed)
        register_sync_state_provider(sync_states)
        _register_dashboard_panels()
        _watch_webhook_routing()
        _freeze_workers_at_spawn()
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="sync.engine.schedules")
        post_migrate.connect(
            _ensure_inbound_schedule, sender=self, dispatch_uid="sync.inbound.schedules"
        )


def _connect_automations(mirror_changed) -> None:
    """Automations fire in the write's transaction (like the outbox) and on stored events."""
    from sync.automations.inbound import on_inbound_saved
    from sync.automations.triggers import fire_for_change
    from sync.models import InboundEvent

    mirror_changed.connect(fire_for_change, dispatch_uid="sync.automations")
    post_save.connect(on_inbound_saved, sender=InboundEvent, dispatch_uid="sync.automations.in")


def _watch_webhook_routing() -> None:
    """Webhook routes are cached per process: any connection or workspace change resets them."""
    from portal.models import Workspace
    from sync.inbound.routing import routing_changed
    from sync.models.connections import Connection, connection_retired

    for model in (Connection, Workspace):
        for signal in (post_save, post_delete):
            signal.connect(routing_changed, sender=model, dispatch_uid=f"routing.{model.__name__}")
    connection_retired.connect(routing_changed, dispatch_uid="routing.retired")


def _freeze_workers_at_spawn() -> None:
    """A django-q2 worker process freezes the loaded app once spawned (portal/long_lived.py)."""
    from django_q.signals import post_spawn

    post_spawn.connect(_freeze_worker, dispatch_uid="sync.worker.freeze")


def _freeze_worker(**kwargs) -> None:
    from portal.long_lived import freeze_loaded_app

    freeze_loaded_app("sync.tasks", "sync.inbound.tasks")


def _register_dashboard_panels() -> None:
    from portal.dashboard import register_panel
    from sync.console.dashboard import build_health_panel

    register_panel("sync-health", "admin/sync/dashboard_health.html", build_health_panel, order=10)


def _ensure_schedules(**kwargs) -> None:
    from sync.engine.schedules import ensure_schedules

    ensure_schedules()


def _ensure_inbound_schedule(**kwargs) -> None:
    from sync.inbound.schedules import ensure_inbound_schedule

    ensure_inbound_schedule()
