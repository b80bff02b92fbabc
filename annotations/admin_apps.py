from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class CriticDeskAdminConfig(AdminConfig):
    default_site = "annotations.admin_site.CriticDeskAdminSite"
