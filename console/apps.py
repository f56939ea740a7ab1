from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Operator console"
    default = True


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin, with the console's site (dashboard index, one time zone, extra sidebar links)."""

    default = False
    default_site = "console.sites.ConsoleAdminSite"
