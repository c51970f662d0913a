"""``tutorwatch token USERNAME [--rotate]``: print the user's API token, creating it the first
time; ``--rotate`` replaces it (the old key stops working at once).

The key goes to stdout alone, for scripts; a warning goes to stderr when the user's role gives
them no access to the API (they would get 403). Creating and rotating are audited, without the
key. An inactive user gets no token: the API refuses them anyway."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from review_ui.auth import QUEUE_PERMISSION
from review_ui.models import AuditEvent


class Command(BaseCommand):
    help = "Print a user's API token (created the first time); --rotate replaces it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true",
                            help="replace the user's token with a new one")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        if not user.is_active:
            raise CommandError(f"user {user.get_username()!r} is inactive: the API refuses "
                               "their token; activate them in the admin first")
        with transaction.atomic():
            had = Token.objects.filter(user=user).exists()
            if options["rotate"]:
                Token.objects.filter(user=user).delete()
            token, created = Token.objects.get_or_create(user=user)
            if created:
                action = "user.token_rotated" if had else "user.token_created"
                AuditEvent.record(None, action, detail={
                    "user": user.get_username(), "user_id": user.pk})
        if not user.has_perm(QUEUE_PERMISSION):
            self.stderr.write(f"warning: {user.get_username()} has no role that opens the "
                              "queue, so the API answers them 403; give one with "
                              "`tutorwatch role USER officer`")
        self.stdout.write(token.key)
