"""``tutorwatch demo [--port P]``: the whole pipeline on embedded defaults.

Starts the sandbox sites on 127.0.0.1, migrates the store, crawls every sandbox source (in a
child process, as a scheduled crawl would run), creates the demo officer account, prints its
login, and serves the review UI on http://127.0.0.1:P until Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from crawler.config import bundled_sources
from crawler.sandbox import DEFAULT_PORTS, start_sandbox
from review_ui.roles import OFFICERS, ensure_roles

DEMO_USERNAME = "officer"
DEMO_PASSWORD = "tutorwatch-demo"


class Command(BaseCommand):
    help = "Run the sandbox sites, crawl them, and serve the review UI with a demo officer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000, help="port of the review UI")
        parser.add_argument("--no-serve", action="store_true",
                            help="stop after crawling (for scripts and tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sandbox = start_sandbox(dict(DEFAULT_PORTS))
        except OSError as exc:
            raise CommandError(
                f"cannot start the sandbox sites on ports {sorted(DEFAULT_PORTS.values())}: {exc}"
            ) from None
        try:
            self.stdout.write(f"store: {settings.DATABASES['default']['NAME']}")
            call_command("migrate", interactive=False, verbosity=0)
            names = [name for name in bundled_sources() if name.startswith("sandbox_")]
            self.stdout.write(f"crawling {', '.join(names)} …")
            env = {**os.environ, "DJANGO_SETTINGS_MODULE": "review_ui.settings"}
            env.setdefault("TUTORWATCH_CRAWL_LOG_LEVEL", "WARNING")
            env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"  # the sandbox sites are on 127.0.0.1
            done = subprocess.run(
                [sys.executable, "-m", "review_ui.cli", "crawl", *names], env=env, check=False
            )
            if done.returncode != 0:
                raise CommandError(f"the sandbox crawl failed (exit status {done.returncode})")
            self._demo_officer()
            self.stdout.write(self.style.SUCCESS(
                f"\nReview UI: http://127.0.0.1:{options['port']}/\n"
                f"Log in as  {DEMO_USERNAME}  /  {DEMO_PASSWORD}\n"
            ))
            if not options["no_serve"]:
                call_command(
                    "runserver", f"127.0.0.1:{options['port']}", use_reloader=False,
                    insecure_serving=True,
                )
        finally:
            sandbox.stop()

    def _demo_officer(self) -> None:
        from django.contrib.auth import get_user_model

        groups = ensure_roles()
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.set_password(DEMO_PASSWORD)
        user.save()
        user.groups.add(groups[OFFICERS])
