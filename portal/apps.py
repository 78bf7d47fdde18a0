from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "portal"
    verbose_name = "Portal"


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the console's site (portal/admin_site.py) as `admin.site`."""

    default = False  # named in INSTALLED_APPS instead of django.contrib.admin
    default_site = "portal.admin_site.PortalAdminSite"
