"""``tutorwatch role USERNAME officer|supervisor|admin [--remove]``: give or take a role.

``tutorwatch role --list`` shows every user with a role. Supervisors and admins are made staff,
since they use the Django admin (sources; users and institution lists). The audit row names
the operating-system user who ran the command (``by``), as the model commands' rows do."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from review_ui.model_registry import os_user
from review_ui.roles import ADMINS, OFFICERS, SUPERVISORS, ensure_roles, grant, revoke

ROLES = {"officer": OFFICERS, "supervisor": SUPERVISORS, "admin": ADMINS}


class Command(BaseCommand):
    help = "Give a user a role (officer, supervisor, admin), or take it away with --remove."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument("role", nargs="?", choices=sorted(ROLES))
        parser.add_argument("--remove", action="store_true", help="take the role away")
        parser.add_argument("--list", action="store_true", help="list users and their roles")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if options["list"]:
            ensure_roles()
            holders = users.filter(groups__name__in=ROLES.values()).distinct()
            for user in holders.order_by("username"):
                names = sorted(g.name for g in user.groups.all())
                self.stdout.write(f"{user.get_username()}\t{', '.join(names)}")
            return
        if not options["username"] or not options["role"]:
            raise CommandError(
                "give a user name and a role (officer, supervisor, admin), or --list"
            )
        user = users.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(
                f"no user {options['username']!r}; create it with `tutorwatch createsuperuser` "
                "or in the admin first"
            )
        role = ROLES[options["role"]]
        if options["remove"]:
            revoke(user, role, by=os_user())
            self.stdout.write(f"{user.get_username()} is no longer in {role}")
        else:
            grant(user, role, by=os_user())
            self.stdout.write(f"{user.get_username()} is now in {role}")
