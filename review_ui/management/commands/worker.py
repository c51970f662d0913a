"""``tutorwatch worker``: on the other machines of a distributed deployment, join every shared
crawl that the scheduler starts (through Redis), until stopped.

Needs ``TUTORWATCH_REDIS_URL`` and the same store (``TUTORWATCH_DB``) as the scheduler. Exit
status 1 when either cannot be reached at start.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from review_ui.management.commands.crawl import check_redis


class Command(BaseCommand):
    help = "Join the shared crawls under way in Redis, until stopped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--max-crawls", type=int, default=4,
                            help="shared crawls this machine joins at once (default 4)")
        parser.add_argument("--poll", type=float, default=2.0, metavar="SECONDS",
                            help="how often to look for new shared crawls (default 2)")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.scheduling import JoinWorker, environment
        from review_ui.store import Store, StoreNotReady

        if not settings.TUTORWATCH_REDIS_URL:
            raise CommandError("tutorwatch worker needs TUTORWATCH_REDIS_URL: the shared crawls "
                               "live in Redis")
        try:
            Store().check()
        except StoreNotReady as exc:
            raise CommandError(str(exc)) from None
        check_redis(settings.TUTORWATCH_REDIS_URL)
        worker = JoinWorker(settings.TUTORWATCH_REDIS_URL, settings.TUTORWATCH_REDIS_PREFIX,
                            max_crawls=options["max_crawls"], poll=options["poll"],
                            env=environment())
        self.stdout.write("waiting for shared crawls (stop with Ctrl-C or SIGTERM)")
        self.stdout.flush()
        worker.run_forever()
        self.stdout.write("worker stopped")
