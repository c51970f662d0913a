"""The Django admin: users and groups (Django's own), sources, institution lists; the audit log
read-only. Supervisors see what their permissions allow (sources); admins the rest."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from review_ui.models import AuditEvent, Institution, Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "config_path", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "region", "address", "updated_at"]
    list_filter = ["kind", "region"]
    search_fields = ["name", "address", "note"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: no one can add, change or delete an audit row through the application."""

    list_display = ["at", "actor", "action", "ad_id", "item_id"]
    list_filter = ["action"]
    search_fields = ["action", "actor__username"]
    date_hierarchy = "at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
