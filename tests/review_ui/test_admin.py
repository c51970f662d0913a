"""The Django admin and the role command: every change to a user or a group is an audit row, and
an admin who is not a superuser has no way up to superuser."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from review_ui.models import AuditEvent
from review_ui.roles import ADMINS, OFFICERS, SUPERVISORS
from tests.review_ui.conftest import PASSWORD, _client

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin_client(admin_user) -> Client:
    return _client(admin_user)


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", password=PASSWORD)


@pytest.fixture
def root_client(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def change_form(user, **changes) -> dict:
    """What the user change form posts: the user as stored, with ``changes``."""
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username, "first_name": user.first_name, "last_name": user.last_name,
        "email": user.email, "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "groups": [str(pk) for pk in user.groups.values_list("pk", flat=True)],
        "user_permissions": [str(pk) for pk in user.user_permissions.values_list("pk", flat=True)],
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def change_url(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def test_an_admin_cannot_make_themselves_superuser(admin_client, admin_user):
    page = admin_client.get(change_url(admin_user)).content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    everything = [str(pk) for pk in Permission.objects.values_list("pk", flat=True)]
    response = admin_client.post(change_url(admin_user), change_form(
        admin_user, is_superuser="on", user_permissions=everything, first_name="Wei"))
    assert response.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.first_name == "Wei"  # the form was saved...
    assert not admin_user.is_superuser  # ...without the fields an admin may not change
    assert not admin_user.user_permissions.exists()


def test_an_admin_cannot_change_a_superusers_account_or_password(admin_client, root):
    response = admin_client.post(change_url(root), change_form(root, is_superuser=None))
    assert response.status_code == 403
    response = admin_client.post(reverse("admin:auth_user_password_change", args=[root.pk]),
                                 {"password1": "taken-over-1234", "password2": "taken-over-1234"})
    assert response.status_code == 403
    root.refresh_from_db()
    assert root.is_superuser and root.check_password(PASSWORD)


def test_a_superuser_can_make_a_superuser_and_it_is_audited(root_client, root, officer):
    response = root_client.post(change_url(officer), change_form(officer, is_superuser="on"))
    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.is_superuser
    event = AuditEvent.objects.get(action="user.changed")
    assert event.actor == root
    assert event.detail["user"] == "officer1" and event.detail["is_superuser"] is True


def test_giving_a_role_in_the_admin_is_audited(admin_client, admin_user, officer):
    supervisors = Group.objects.get(name=SUPERVISORS)
    groups = [str(g.pk) for g in officer.groups.all()] + [str(supervisors.pk)]
    response = admin_client.post(change_url(officer), change_form(officer, groups=groups,
                                                                  is_staff="on"))
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.changed")
    assert event.actor == admin_user and event.detail["groups_added"] == [SUPERVISORS]
    assert event.detail["is_staff"] is True and "is_staff" in event.detail["fields"]
    # Taking it away again.
    officer.refresh_from_db()
    admin_client.post(change_url(officer), change_form(
        officer, groups=[str(Group.objects.get(name=OFFICERS).pk)]))
    removed = AuditEvent.objects.filter(action="user.changed").order_by("-pk").first()
    assert removed.detail["groups_removed"] == [SUPERVISORS]


def test_saving_an_unchanged_user_writes_no_row(admin_client, officer):
    admin_client.post(change_url(officer), change_form(officer))
    assert not AuditEvent.objects.filter(action="user.changed").exists()


def test_creating_deleting_and_resetting_a_password_in_the_admin_are_audited(
    admin_client, admin_user
):
    response = admin_client.post(reverse("admin:auth_user_add"), {
        "username": "new.officer", "usable_password": "true",
        "password1": "a-new-long-password-1", "password2": "a-new-long-password-1",
    })
    assert response.status_code == 302
    created = User.objects.get(username="new.officer")
    event = AuditEvent.objects.get(action="user.created")
    assert event.actor == admin_user and event.detail["user_id"] == created.pk
    assert "a-new-long-password-1" not in str(event.detail)
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[created.pk]),
        {"usable_password": "true", "password1": "another-long-pass-2",
         "password2": "another-long-pass-2"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.password_changed")
    assert event.actor == admin_user and event.detail["user"] == "new.officer"
    assert "another-long-pass-2" not in str(event.detail)
    response = admin_client.post(reverse("admin:auth_user_delete", args=[created.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302 and not User.objects.filter(pk=created.pk).exists()
    event = AuditEvent.objects.get(action="user.deleted")
    assert event.actor == admin_user and event.detail["user"] == "new.officer"


def test_changing_a_groups_permissions_in_the_admin_is_audited(root_client, root):
    officers = Group.objects.get(name=OFFICERS)
    extra = Permission.objects.get(codename="view_dashboard")
    permissions = [str(pk) for pk in officers.permissions.values_list("pk", flat=True)]
    response = root_client.post(reverse("admin:auth_group_change", args=[officers.pk]), {
        "name": OFFICERS, "permissions": permissions + [str(extra.pk)],
    })
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="group.changed")
    assert event.actor == root and event.detail["group"] == OFFICERS
    assert event.detail["permissions_added"] == [str(extra)]


def test_the_role_command_is_audited(officer):
    from review_ui.model_registry import os_user

    call_command("role", "officer1", "supervisor")
    event = AuditEvent.objects.get(action="user.role_granted", detail__role=SUPERVISORS)
    assert event.actor is None and event.detail["user"] == "officer1"
    assert event.detail["is_staff"] is True
    call_command("role", "officer1", "admin")
    call_command("role", "officer1", "supervisor", "--remove")
    event = AuditEvent.objects.get(action="user.role_revoked")
    assert event.detail == {"user": "officer1", "user_id": officer.pk, "role": SUPERVISORS,
                            "is_staff": True, "by": os_user()}
    # Giving a role someone already has changes nothing and writes nothing.
    before = AuditEvent.objects.count()
    call_command("role", "officer1", "admin")
    assert AuditEvent.objects.count() == before
    assert set(officer.groups.values_list("name", flat=True)) == {OFFICERS, ADMINS}
