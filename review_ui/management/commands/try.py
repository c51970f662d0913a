"""``tutorwatch try --source FILE.yaml [--url URL] [--detail] [--limit N] [--json]``: what a
source config extracts, storing nothing.

Fetches the source's first list page (or ``--url``) and the first N detail pages it links to
(default 3) with the source's own spider and the crawl's settings, and prints per page: status,
charset decision, detail links and next page, title, body excerpt, posted_at (raw and parsed),
phones, WeChat ids, score, category, flagged, and the selectors that matched nothing
(``crawler.trial``). The database is never opened: no store is needed, no run is recorded.

``--url`` is read as a list page, or as a detail page when the list selectors find no link there
(``--detail``: at once). ``-s NAME=VALUE`` overrides a Scrapy setting as for ``tutorwatch crawl``.

Exit status: 0 when at least one ad was extracted (with ``--limit 0``: when the list page gave
detail links); 1 otherwise (the report says why); 2 for an invalid config or argument (one line
naming it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from crawler.config import ConfigError, load_source


class Command(BaseCommand):
    help = "Show what a source config extracts from its first pages, storing nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--source", required=True, metavar="FILE.yaml",
                            help="the source config to try")
        parser.add_argument("--url", default="",
                            help="fetch this page instead of the source's first start URL")
        parser.add_argument("--detail", action="store_true",
                            help="read --url as a detail page, not as a list page")
        parser.add_argument("--limit", type=int, default=3, metavar="N",
                            help="detail pages to fetch from the list page (default 3)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument("-s", "--set", dest="overrides", action="append", default=[],
                            metavar="NAME=VALUE", help="override a Scrapy setting (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = load_source(Path(options["source"]))
        except ConfigError as exc:
            raise CommandError(str(exc), returncode=2) from None
        url = options["url"].strip()
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise CommandError(f"--url must be an http:// or https:// URL; got {url!r}",
                               returncode=2)
        if options["detail"] and not url:
            raise CommandError("--detail needs --url (the page to read as a detail page)",
                               returncode=2)
        if options["limit"] < 0:
            raise CommandError(f"--limit must be 0 or more; got {options['limit']}",
                               returncode=2)
        overrides = []
        for override in options["overrides"]:
            name, sep, value = override.partition("=")
            if not sep or not name.strip():
                raise CommandError(f"-s expects NAME=VALUE, got {override!r}", returncode=2)
            overrides.append((name.strip(), value))

        from crawler.trial import format_report, run_trial, trial_settings
        from review_ui.logs import set_level

        settings = trial_settings(overrides)
        set_level(settings.get("LOG_LEVEL"))  # through our root handler alone: no line twice
        report = run_trial(config, settings, url=url, limit=options["limit"],
                           as_detail=options["detail"], install_root_handler=False)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(format_report(report, options["limit"]))
        listed = report.list_page
        list_only = (options["limit"] == 0 and listed is not None and not listed.failed
                     and bool(listed.links))
        if not report.ads and not list_only:
            raise CommandError("no ad was extracted (the report above says why)")
