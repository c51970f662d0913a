"""``tutorwatch envfile -o FILE [--set NAME=VALUE ...] [--force]``: write a settings file with a new
secret key (``TUTORWATCH_SECRET_KEY``) and the values given, quoted so that systemd's
``EnvironmentFile=`` and a shell read them alike (review_ui.envfile). ``-o -`` prints it. A new
file gets mode 0640; an existing one is kept unless ``--force``.

Exit status: 0 written; 1 a value that cannot be written safely, or the file exists.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Write a settings (env) file with a new secret key, safely quoted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("-o", "--output", required=True, metavar="FILE",
                            help="the file to write, or - for stdout")
        parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                            help="another setting (repeatable); TUTORWATCH_SECRET_KEY=… gives "
                                 "your own key instead of a new one")
        parser.add_argument("--force", action="store_true", help="replace an existing file")

    def handle(self, *args: Any, **options: Any) -> None:
        from review_ui.envfile import EnvFileError, new_secret_key, render

        values = {"TUTORWATCH_SECRET_KEY": new_secret_key()}
        for pair in options["set"]:
            name, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"--set {pair!r}: expected NAME=VALUE")
            values[name.strip()] = value
        try:
            text = render(values)
        except EnvFileError as exc:
            raise CommandError(str(exc)) from None
        out = options["output"]
        if out == "-":
            self.stdout.write(text, ending="")
            return
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if options["force"] else os.O_EXCL)
        try:
            fd = os.open(out, flags, 0o640)
        except FileExistsError:
            raise CommandError(f"{out} exists: give --force to replace it") from None
        except OSError as exc:
            raise CommandError(f"cannot write {out}: {exc.strerror}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        self.stderr.write(f"written {out}: {', '.join(values)}")
