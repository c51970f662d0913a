"""Roles as Django groups: officers, who may decide review items; supervisors, who watch the
crawls (the crawl runs page)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

OFFICERS = "officers"
SUPERVISORS = "supervisors"
DECIDE_PERMISSION = "review_ui.add_decision"
VIEW_RUNS_PERMISSION = "review_ui.view_crawlrun"
ROLE_PERMISSIONS = {
    OFFICERS: ["add_decision", "view_ad", "view_reviewitem", "view_auditevent"],
    SUPERVISORS: [
        "view_crawlrun", "view_source", "view_ad", "view_reviewitem", "view_auditevent",
    ],
}


def ensure_roles() -> dict[str, Group]:
    groups = {}
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = Permission.objects.filter(content_type__app_label="review_ui", codename__in=codenames)
        group.permissions.add(*perms)
        groups[name] = group
    return groups
