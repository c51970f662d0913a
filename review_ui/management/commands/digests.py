"""``tutorwatch digests send``: send every officer's digest that is due (the scheduler's digest
job runs it on ``TUTORWATCH_DIGEST_SCHEDULE``); ``tutorwatch digests list``: the subscriptions.
See ``review_ui.places.digests``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Send the officers' digests that are due (send), or list the subscriptions (list)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["send", "list"])

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.places.digests import send_due_digests
        from review_ui.places.models import DigestSubscription

        if options["action"] == "list":
            for sub in DigestSubscription.objects.select_related("user"):
                self.stdout.write(
                    f"{sub.pk}\t{sub}\t{sub.get_channel_display()}\t{sub.last_outcome or '-'}"
                )
            return
        outcomes = send_due_digests()
        for outcome in outcomes:
            self.stdout.write(
                f"digest {outcome.subscription}: {outcome.items} items, {outcome.outcome}"
            )
        self.stdout.write(f"{len(outcomes)} digests due")
