"""Roles as Django groups. v1 has one: officers, who may decide review items."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

OFFICERS = "officers"
DECIDE_PERMISSION = "review_ui.add_decision"
ROLE_PERMISSIONS = {
    OFFICERS: ["add_decision", "view_ad", "view_reviewitem", "view_auditevent"],
}


def ensure_roles() -> dict[str, Group]:
    groups = {}
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(content_type__app_label="review_ui", codename__in=codenames)
        group.permissions.add(*perms)
        groups[name] = group
    return groups
