"""The ``tutorwatch`` command: Django's management entry point with tutorwatch's settings.

Django's own commands work (``migrate``, ``createsuperuser``, ``runserver``, ``check``), plus
ours: ``crawl``, ``classify``, ``export``, ``train``, ``demo``.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv if argv is not None else sys.argv)


if __name__ == "__main__":
    main()
