from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(using: str = "default", **_kwargs) -> None:
    """The database cache's table comes with `migrate` (a no-op when the cache is Redis)."""
    call_command("createcachetable", database=using, verbosity=0)


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        # Every deploy runs `migrate`; nothing else should be needed for a working portal.
        post_migrate.connect(create_cache_table, sender=self)
        from portal import lookups  # noqa: F401 - registers `__any_of` (portal/lookups.py)


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the console's site (portal/admin_site.py) as `admin.site`."""

    default = False  # named in INSTALLED_APPS instead of django.contrib.admin
    default_site = "portal.admin_site.PortalAdminSite"
