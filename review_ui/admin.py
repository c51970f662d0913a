"""The Django admin: users and groups (Django's own), sources, institution lists; the audit log
read-only. Supervisors see what their permissions allow (sources); admins the rest.

Every change to a user or a group made here is an audit row (``user.created``, ``user.changed``
with the groups and permissions added or removed, ``user.password_changed``, ``user.deleted``,
``group.created``, ``group.changed``, ``group.deleted``), written in the admin's transaction.
So is every change to a source or an institution (``source.added``, ``source.changed``,
``source.deleted``, ``institution.added``, ``institution.changed``, ``institution.deleted``),
with each changed field's old and new value (a config's keys one by one). A source's config is
checked by the loader that checks YAML files (``review_ui.forms.SourceAdminForm``), and an
institution's contacts are read one a line (``InstitutionAdminForm``).
API tokens are not shown here (``tutorwatch token``).
Only a superuser may make someone a superuser, give permissions one by one, or change or delete
a superuser's account.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse_lazy
from rest_framework.authtoken import admin as _token_admin  # noqa: F401 (registers TokenProxy)
from rest_framework.authtoken.models import TokenProxy

from review_ui.forms import InstitutionAdminForm, SourceAdminForm
from review_ui.models import AuditEvent, Institution, Source

User = get_user_model()
# What a user's audit row lists as changed (not the dates: the form shows them to the minute,
# so every save would "change" them), with the values of the flags that grant access.
_FLAGS = ("is_active", "is_staff", "is_superuser")
_FIELDS = ("username", "first_name", "last_name", "email", *_FLAGS)


def _names(objects: Any) -> set[str]:
    return {str(o) for o in objects}


def _added_removed(before: set[str], after: set[str], what: str) -> dict[str, list[str]]:
    changes = {}
    if after - before:
        changes[f"{what}_added"] = sorted(after - before)
    if before - after:
        changes[f"{what}_removed"] = sorted(before - after)
    return changes


class AuditedDeletions:
    """Admin deletions, one at a time or by the bulk action, each with its audit row written
    in the same transaction (``_record_deletions`` says what a row holds)."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self._record_deletions(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            self._record_deletions(request, list(queryset))
            super().delete_queryset(request, queryset)

    def _record_deletions(self, request: HttpRequest, objects: list[Any]) -> None:
        raise NotImplementedError


class AuditedUserAdmin(AuditedDeletions, UserAdmin):
    """Django's user admin, with audit rows and without a way up to superuser for non-superusers."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # save_model has stored the user's own fields; the groups and permissions are saved here.
        user = form.instance
        before = (_names(user.groups.all()), _names(user.user_permissions.all()))
        super().save_related(request, form, formsets, change)
        after = (_names(user.groups.all()), _names(user.user_permissions.all()))
        detail: dict[str, Any] = {"user": user.get_username(), "user_id": user.pk}
        fields = sorted(name for name in form.changed_data if name in _FIELDS)
        if fields:
            detail["fields"] = fields
        detail.update({flag: getattr(user, flag) for flag in _FLAGS
                       if flag in fields or not change})
        detail.update(_added_removed(before[0], after[0], "groups"))
        detail.update(_added_removed(before[1], after[1], "permissions"))
        if not change:
            AuditEvent.record(request.user, "user.created", detail=detail)
        elif len(detail) > 2:
            AuditEvent.record(request.user, "user.changed", detail=detail)

    def user_change_password(self, request: HttpRequest, id: str,
                             form_url: str = "") -> HttpResponse:
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = User.objects.get(pk=id)
                AuditEvent.record(request.user, "user.password_changed",
                                  detail={"user": user.get_username(), "user_id": user.pk})
        return response

    def _record_deletions(self, request: HttpRequest, users: list[Any]) -> None:
        for user in users:
            AuditEvent.record(request.user, "user.deleted", detail={
                "user": user.get_username(), "user_id": user.pk, "is_superuser": user.is_superuser,
                "groups": sorted(_names(user.groups.all())),
            })


class AuditedGroupAdmin(AuditedDeletions, GroupAdmin):
    """Django's group admin, with audit rows."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        group = form.instance
        before = _names(group.permissions.all())
        super().save_related(request, form, formsets, change)
        detail: dict[str, Any] = {"group": group.name, "group_id": group.pk}
        if "name" in form.changed_data and change:
            detail["renamed_from"] = form.initial.get("name")
        detail.update(_added_removed(before, _names(group.permissions.all()), "permissions"))
        if not change:
            AuditEvent.record(request.user, "group.created", detail=detail)
        elif len(detail) > 2:
            AuditEvent.record(request.user, "group.changed", detail=detail)

    def _record_deletions(self, request: HttpRequest, groups: list[Any]) -> None:
        for group in groups:
            AuditEvent.record(request.user, "group.deleted", detail={
                "group": group.name, "group_id": group.pk,
                "members": sorted(u.get_username() for u in group.user_set.all()),
            })


# "View site" leads to the user's own start page: an admin may not open the queue.
admin.site.site_url = reverse_lazy("review_ui:home")
admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.register(User, AuditedUserAdmin)
admin.site.register(Group, AuditedGroupAdmin)
# API tokens are printed by `tutorwatch token USER`, which audits them; DRF's admin page would
# list every key in clear and change them without an audit row.
admin.site.unregister(TokenProxy)


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys (``config.list.links``), so a change names its key."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


class AuditedFields(AuditedDeletions):
    """Rows whose ``audit_fields`` are listed, old → new, in the audit row of each change made
    in the admin (in its transaction), under ``audit_label``'s actions (``source.added``...)."""

    audit_fields: tuple[str, ...] = ()
    audit_label = ""

    def _values(self, obj: Any) -> dict[str, Any]:
        return _flat({name: getattr(obj, name) for name in self.audit_fields})

    def _changes(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict]:
        return {key: {"old": before.get(key), "new": after.get(key)}
                for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}

    def _detail(self, obj: Any, **extra: Any) -> dict[str, Any]:
        return {self.audit_label: str(obj), f"{self.audit_label}_id": obj.pk, **extra}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = self._values(type(obj).objects.get(pk=obj.pk)) if change else {}
        super().save_model(request, obj, form, change)
        changes = self._changes(before, self._values(obj))
        if change and not changes:
            return
        action = f"{self.audit_label}.{'changed' if change else 'added'}"
        AuditEvent.record(request.user, action, detail=self._detail(obj, changes=changes))

    def _record_deletions(self, request: HttpRequest, objects: list[Any]) -> None:
        for obj in objects:
            AuditEvent.record(request.user, f"{self.audit_label}.deleted",
                              detail=self._detail(obj, values=self._values(obj)))


@admin.register(Source)
class SourceAdmin(AuditedFields, admin.ModelAdmin):
    form = SourceAdminForm
    list_display = ["name", "kind", "config_path", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["kind", "created_at", "updated_at"]
    audit_fields = ("name", "kind", "config", "config_path")
    audit_label = "source"


@admin.register(Institution)
class InstitutionAdmin(AuditedFields, admin.ModelAdmin):
    form = InstitutionAdminForm
    list_display = ["name", "kind", "region", "address", "updated_at"]
    list_filter = ["kind", "region"]
    search_fields = ["name", "address", "note"]
    audit_fields = ("name", "kind", "region", "address", "phones", "wechat_ids", "note",
                    "credit_code", "scope")
    audit_label = "institution"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: no one can add, change or delete an audit row through the application."""

    list_display = ["at", "actor", "action", "ad_id", "item_id"]
    list_filter = ["action"]
    search_fields = ["action", "actor__username"]
    date_hierarchy = "at"
    readonly_fields = ["prev_hash", "hash"]  # the hash chain (review_ui.audit_chain)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Search terms (issue 18 point 3): supervisors extend the default terms; every change audited.
from review_ui.search_terms import SearchTerm  # noqa: E402


@admin.register(SearchTerm)
class SearchTermAdmin(AuditedFields, admin.ModelAdmin):
    list_display = ["term", "active", "note", "added_by", "created_at"]
    list_filter = ["active"]
    search_fields = ["term", "note"]
    readonly_fields = ["added_by", "created_at"]
    audit_fields = ("term", "active", "note")
    audit_label = "search_term"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.added_by = request.user
        super().save_model(request, obj, form, change)
