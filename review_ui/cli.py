"""The ``tutorwatch`` command: Django's management entry point with tutorwatch's settings.

Django's own commands work (``migrate``, ``createsuperuser``, ``runserver``, ``check``), plus
ours: ``crawl``, ``classify``, ``export``, ``train``, ``demo``.
"""

from __future__ import annotations

import os
import sys

# Commands that load the classifier in this process.
MODEL_COMMANDS = frozenset({"crawl", "classify", "evaluate", "train"})


def main(argv: list[str] | None = None) -> None:
    argv = argv if argv is not None else sys.argv
    if len(argv) > 1 and argv[1] in MODEL_COMMANDS:
        # skops builds its trusted-type lists when imported, looking up the module of each
        # numpy and scipy function among all the modules loaded so far. Before Django and
        # Scrapy are loaded that takes about 1.5 s instead of 3.5-5 s: a crawl starts sooner.
        import skops.io  # noqa: F401
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
