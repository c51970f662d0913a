"""The ``tutorwatch`` command: Django's management entry point with tutorwatch's settings.

Django's own commands work (``migrate``, ``createsuperuser``, ``runserver``, ``check``), plus
ours: ``crawl``, ``classify``, ``export``, ``train``, ``model``, ``rescore``, ``demo``, ``try``,
``capture``, ``evidence``, ``leads``, and the others the README lists.

``tutorwatch demo`` without ``TUTORWATCH_DB`` uses its own store, ``<data dir>/demo.sqlite3``,
never the default one: it gives user ``officer`` a public password.
"""

from __future__ import annotations

import os
import sys

# Commands that load the classifier in this process. Not ``crawl``: its pipeline worker, a
# child process, loads the model while the crawl starts (crawler/pipelines/classify.py).
MODEL_COMMANDS = frozenset({"classify", "evaluate", "model", "rescore", "train", "try"})
# The demo's own SQLite file in the data directory (review_ui/management/commands/demo.py).
DEMO_STORE_FILE = "demo.sqlite3"


def main(argv: list[str] | None = None) -> None:
    argv = argv if argv is not None else sys.argv
    if len(argv) > 1 and argv[1] in MODEL_COMMANDS:
        # skops builds its trusted-type lists when imported (unless classifier.skops_types
        # reads them from its file), looking up the module of each numpy and scipy function
        # among all the modules loaded so far. Before Django and Scrapy are loaded that takes
        # about 1.5 s instead of 3.5-5 s: a crawl starts sooner.
        import classifier.skops_types  # noqa: F401
    if len(argv) > 1 and argv[1] == "demo" and not os.environ.get("TUTORWATCH_DB", "").strip():
        from review_ui.env import data_dir

        # Before the settings read it, and inherited by the demo's crawl process.
        data_dir().mkdir(parents=True, exist_ok=True)
        os.environ["TUTORWATCH_DB"] = f"sqlite:///{data_dir() / DEMO_STORE_FILE}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:  # a malformed environment variable: one line naming it
        sys.stderr.write(f"{exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
