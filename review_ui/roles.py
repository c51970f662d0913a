"""Roles as Django groups with permissions; the server checks the permissions, never the names.

- **officers** review: work the queue, claim items, decide them, see their own work, export
  confirmed cases.
- **supervisors** do all that, and also reverse decisions, release anyone's claim, see every
  officer's work and the whole audit log (and export it), see the dashboard and crawl health,
  and manage sources (in the admin, so ``tutorwatch role USER supervisor`` marks them staff).
- **admins** run the Django admin: users and groups, sources, institution lists. They are staff;
  the superuser created by ``tutorwatch createsuperuser`` can do everything anyway.

``ensure_roles()`` runs after every ``migrate``, so the groups always hold these permissions.
``grant()`` and ``revoke()`` (``tutorwatch role``) write a ``user.role_granted`` or
``user.role_revoked`` audit row when they change something.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

from review_ui.models import AuditEvent

OFFICERS = "officers"
SUPERVISORS = "supervisors"
ADMINS = "admins"

DECIDE_PERMISSION = "review_ui.add_decision"
VIEW_RUNS_PERMISSION = "review_ui.view_crawlrun"
CLAIM_PERMISSION = "review_ui.claim_reviewitem"
REVERSE_PERMISSION = "review_ui.reverse_reviewitem"
EXPORT_CASES_PERMISSION = "review_ui.export_reviewitem"
DASHBOARD_PERMISSION = "review_ui.view_dashboard"
MODELS_PERMISSION = "review_ui.view_modelversion"
PROMOTE_PERMISSION = "review_ui.promote_modelversion"
AUDIT_PERMISSION = "review_ui.view_auditevent"
EXPORT_AUDIT_PERMISSION = "review_ui.export_auditevent"
ALL_WORK_PERMISSION = "review_ui.view_decision"
SPLIT_OPERATOR_PERMISSION = "review_ui.split_operator"

_OFFICER = [
    "review_ui.view_ad", "review_ui.view_reviewitem", "review_ui.add_decision",
    "review_ui.claim_reviewitem", "review_ui.export_reviewitem",
]
_SUPERVISOR = _OFFICER + [
    "review_ui.reverse_reviewitem", "review_ui.view_decision", "review_ui.view_auditevent",
    "review_ui.export_auditevent", "review_ui.view_dashboard", "review_ui.view_crawlrun",
    "review_ui.view_source", "review_ui.change_source", "review_ui.view_case",
    "review_ui.view_institution", "review_ui.view_modelversion", "review_ui.promote_modelversion",
    "review_ui.view_searchterm", "review_ui.add_searchterm", "review_ui.change_searchterm",
    "review_ui.delete_searchterm",
    "review_ui.split_operator",
]
_ADMIN = [
    "auth.view_user", "auth.add_user", "auth.change_user", "auth.delete_user",
    "auth.view_group", "review_ui.view_source", "review_ui.add_source",
    "review_ui.change_source", "review_ui.delete_source", "review_ui.view_institution",
    "review_ui.add_institution", "review_ui.change_institution",
    "review_ui.delete_institution", "review_ui.view_auditevent", "review_ui.view_crawlrun",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    OFFICERS: _OFFICER,
    SUPERVISORS: _SUPERVISOR,
    ADMINS: _ADMIN,
}
# Roles whose members need the Django admin (it admits only staff).
STAFF_ROLES = {SUPERVISORS, ADMINS}


def _permissions(names: list[str]) -> list[Permission]:
    match = Q()
    for name in names:
        app_label, codename = name.split(".", 1)
        match |= Q(content_type__app_label=app_label, codename=codename)
    return list(Permission.objects.filter(match))


def ensure_roles() -> dict[str, Group]:
    """Create the groups and give each exactly its role's permissions."""
    groups = {}
    for name, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(_permissions(wanted))
        groups[name] = group
    return groups


def grant(user, role: str, actor=None, by: str = "") -> None:
    """Put ``user`` in ``role``'s group (staff roles make them staff), with an audit row by
    ``actor`` (None: from the command line, run by the OS user ``by``) when that changes
    anything."""
    groups = ensure_roles()
    with transaction.atomic():
        changed = not user.groups.filter(pk=groups[role].pk).exists()
        user.groups.add(groups[role])
        if role in STAFF_ROLES and not user.is_staff:
            user.is_staff = changed = True
            user.save(update_fields=["is_staff"])
        if changed:
            _record(actor, "user.role_granted", user, role, by)


def revoke(user, role: str, actor=None, by: str = "") -> None:
    groups = ensure_roles()
    with transaction.atomic():
        if not user.groups.filter(pk=groups[role].pk).exists():
            return
        user.groups.remove(groups[role])
        if role in STAFF_ROLES and not user.is_superuser and not user.groups.filter(
            name__in=STAFF_ROLES
        ).exists():
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        _record(actor, "user.role_revoked", user, role, by)


def _record(actor, action: str, user, role: str, by: str = "") -> None:
    if actor is None and not by:  # from a command or the shell: who ran it, never "the crawler"
        from review_ui.model_registry import os_user

        by = os_user()
    AuditEvent.record(actor, action, detail={
        "user": user.get_username(), "user_id": user.pk, "role": role, "is_staff": user.is_staff,
        **({"by": by} if by and actor is None else {}),
    })
