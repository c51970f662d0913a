"""Health checks of a crawl when it closes, in the manner of Spidermon's monitors.

A site that changed its layout does not make a crawl crash: its list pages simply yield no links,
or its detail pages no text, and the crawl "finishes" with nothing. These checks turn that into a
failed run with a reason, from the crawl's stats alone (framework-free: plain dicts in, plain
results out; ``review_ui.runs.finish_run`` calls them and records the outcome).

Checks (``Thresholds`` holds their limits; the Django settings ``TUTORWATCH_MONITOR_*`` set them):

- ``zero_items``: a crawl found no ad at all (neither scraped nor skipped as already stored);
- ``parse_failures``: too many pages could not be parsed (list pages without links, detail pages
  without text, re-checked pages that came back empty), judged two ways, either of which fails:

  1. over every page the crawl covered: the share of failures among the pages it parsed plus the
     detail pages it skipped as already stored (above ``max_parse_failure_share``). A skipped
     page counts as parsed because it was: its ad is stored, so its page gave text, and the list
     page that linked to it has just been read again. Leaving skipped pages out would judge a
     re-crawl on a biased sample: pages that parsed are skipped, pages that never parse (a blank
     post still linked from the list) are fetched, and fail, on every crawl, so a quiet
     re-crawl of a healthy site (3 list pages, 1 blank post, 26 known ads) read as "1 of 4
     pages could not be parsed";
  2. over the detail pages the crawl fetched: their share of failures (above the same limit),
     judged only once ``min_detail_pages`` were fetched, since one or two pages give a share
     that means nothing. This catches a changed detail layout on a site whose known ads would
     dilute the new failures in (1): 20 new posts without text beside 500 known ones are 4 %
     of the pages covered but 100 % of those fetched;
- ``selectors_missed``: the share of detail pages whose text the source's selectors did not find
  on any parse, so that the ad is the page's whole visible text (``crawler.spiders.html``), is
  above ``max_parse_failure_share``: those ads are kept, but a site whose layout changed makes
  every page one of them. Pages whose text the selectors found once the page was parsed
  leniently (broken markup, ``tutorwatch/items/extracted/fallback/html.parser``) are neither
  failures nor misses: the selectors still work, on every page if the site's template is broken;
- ``few_items``: a crawl found fewer than ``min_items_ratio`` × the median of the source's recent
  healthy runs (judged only once there are ``min_history`` of them).

- ``blocked``: the site answered some pages with a challenge (a captcha, a slider, a login
  wall, a rate limit page: ``crawler.middlewares.blocks``). The crawl normally stops at the first
  one, with the close reason ``blocked`` (:func:`is_blocked` tells such a run); this check is
  for a crawl that went on (``TUTORWATCH_STOP_ON_BLOCK`` off). A blocked crawl is not judged by
  ``zero_items`` or ``few_items``: it found few ads because the site refused it, not because
  its layout changed, and saying so would send someone to fix selectors that work.

A changed list layout shows under (1) and as ``zero_items``: list pages are fetched on every
crawl, and without their links nothing is found, skipped or not. Re-check runs fetch only ads
already stored, so only ``parse_failures`` applies to them (an ad's page showing only the
site's frame is a takedown there, counted under ``tutorwatch/takedowns/gone_empty``).
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARSE_FAILURE_KEYS = (
    "tutorwatch/pages/list_without_links",
    "tutorwatch/items/dropped/empty",
    "tutorwatch/pages/not_html",
    "tutorwatch/pages/not_json",
    "tutorwatch/takedowns/gone_empty",
)
PARSED_PAGE_KEYS = (
    "tutorwatch/pages/list",
    "tutorwatch/pages/detail",
    "tutorwatch/pages/not_html",
    "tutorwatch/pages/not_json",
)
DETAIL_FAILURE_KEYS = (
    "tutorwatch/items/dropped/empty",
    "tutorwatch/takedowns/gone_empty",
)
DETAIL_PAGE_KEY = "tutorwatch/pages/detail"
SKIPPED_KEY = "tutorwatch/incremental/skipped"
PAGE_TEXT_KEY = "tutorwatch/items/extracted/fallback/page_text"
BLOCKED_KEY = "tutorwatch/failed/blocked"
BLOCKED_KIND_PREFIX = "tutorwatch/blocked/"
BLOCKED_REASON = "blocked"  # the close reason of a crawl stopped by a challenge


@dataclass(frozen=True)
class Thresholds:
    max_parse_failure_share: float = 0.2
    min_items_ratio: float = 0.3
    history: int = 5
    min_history: int = 3
    min_detail_pages: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.max_parse_failure_share <= 1:
            raise ValueError("max_parse_failure_share must be between 0 and 1")
        if not 0 <= self.min_items_ratio <= 1:
            raise ValueError("min_items_ratio must be between 0 and 1")
        if self.history < 1 or self.min_history < 1:
            raise ValueError("history and min_history must be at least 1")
        if self.min_detail_pages < 1:
            raise ValueError("min_detail_pages must be at least 1")


@dataclass(frozen=True)
class HealthFailure:
    """One failed check: ``check`` names it, ``detail`` holds its numbers (JSON-ready)."""

    check: str
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, **self.detail}

    def message(self) -> str:
        """One English line, for logs; the UI and alerts translate ``as_dict()`` instead."""
        return describe(self.as_dict())


def describe(failure: Mapping[str, Any]) -> str:
    check = failure.get("check")
    if check == "zero_items":
        return "the crawl found no ads at all (has the site changed its layout?)"
    if check == "parse_failures":
        return (f"{failure['failed']} of {failure['parsed']} pages could not be parsed "
                f"({failure['share']:.0%}, limit {failure['limit']:.0%})")
    if check == "selectors_missed":
        return (f"the selectors found no text on {failure['missed']} of {failure['pages']} "
                f"detail pages, kept as whole page text ({failure['share']:.0%}, limit "
                f"{failure['limit']:.0%}): has the site changed its layout?")
    if check == "blocked":
        return (f"the site is blocking us: {failure['pages']} pages answered with a challenge "
                f"({', '.join(failure.get('kinds') or ()) or 'challenge'})")
    if check == "few_items":
        return (f"the crawl found {failure['found']} ads, far fewer than the "
                f"{failure['expected']:g} of recent runs (limit {failure['ratio']:.0%})")
    return str(check)


def _int(stats: Mapping[str, Any], key: str) -> int:
    value = stats.get(key, 0)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def block_kinds(stats: Mapping[str, Any]) -> list[str]:
    """The kinds of challenge a crawl met (``slider``, ``captcha``, ``login`` …), sorted."""
    return sorted(key[len(BLOCKED_KIND_PREFIX):] for key in stats
                  if key.startswith(BLOCKED_KIND_PREFIX) and _int(stats, key))


def is_blocked(reason: str, stats: Mapping[str, Any]) -> bool:
    """Whether a crawl that ended with ``reason`` and ``stats`` was blocked by its site."""
    return reason == BLOCKED_REASON or _int(stats, BLOCKED_KEY) > 0


def items_found(stats: Mapping[str, Any]) -> int:
    """Ads a crawl saw: scraped ones plus those skipped because they are stored and not due."""
    return _int(stats, "item_scraped_count") + _int(stats, SKIPPED_KEY)


def parse_failures(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(pages that could not be parsed, pages parsed or attempted plus detail pages skipped as
    already stored): judgement (1) of the module docstring."""
    failed = sum(_int(stats, key) for key in PARSE_FAILURE_KEYS)
    parsed = sum(_int(stats, key) for key in PARSED_PAGE_KEYS) + _int(stats, SKIPPED_KEY)
    return failed, max(parsed, failed)


def detail_failures(stats: Mapping[str, Any]) -> tuple[int, int]:
    """(detail pages fetched that gave no text, detail pages fetched): judgement (2)."""
    failed = sum(_int(stats, key) for key in DETAIL_FAILURE_KEYS)
    return failed, max(_int(stats, DETAIL_PAGE_KEY), failed)


def check_crawl(
    stats: Mapping[str, Any],
    recent_found: Sequence[int] = (),
    thresholds: Thresholds | None = None,
    recheck: bool = False,
) -> list[HealthFailure]:
    """The checks that fail for a crawl that closed normally.

    ``recent_found`` are :func:`items_found` of the source's latest healthy runs, newest first.
    """
    limits = thresholds or Thresholds()
    failures: list[HealthFailure] = []
    found = items_found(stats)
    blocked = _int(stats, BLOCKED_KEY)
    if blocked:
        failures.append(HealthFailure("blocked", {"pages": blocked, "kinds": block_kinds(stats)}))
    if not recheck and found == 0 and not blocked:
        failures.append(HealthFailure("zero_items", {"found": 0}))

    # One parse_failures at most: the pages covered if they fail, else the detail pages fetched.
    for failed, parsed, least in (
        (*parse_failures(stats), 1),
        (*detail_failures(stats), limits.min_detail_pages),
    ):
        if parsed >= least and failed / parsed > limits.max_parse_failure_share:
            failures.append(HealthFailure("parse_failures", {
                "failed": failed, "parsed": parsed, "share": round(failed / parsed, 4),
                "limit": limits.max_parse_failure_share,
            }))
            break

    missed, pages = _int(stats, PAGE_TEXT_KEY), _int(stats, DETAIL_PAGE_KEY)
    if not recheck and pages and missed / pages > limits.max_parse_failure_share:
        failures.append(HealthFailure("selectors_missed", {
            "missed": missed, "pages": pages, "share": round(missed / pages, 4),
            "limit": limits.max_parse_failure_share,
        }))

    history = list(recent_found)[: limits.history]
    if not recheck and found and not blocked and len(history) >= limits.min_history:
        expected = statistics.median(history)
        if found < limits.min_items_ratio * expected:
            failures.append(HealthFailure("few_items", {
                "found": found, "expected": float(expected), "ratio": limits.min_items_ratio,
            }))
    return failures


def errors_logged(stats: Mapping[str, Any]) -> int:
    """Error (and critical) log records of a crawl: its own, not those of other crawls of the
    same process (``crawler.extensions.logcount``)."""
    return _int(stats, "log_count/ERROR") + _int(stats, "log_count/CRITICAL")


def errors_of_no_crawl(stats: Mapping[str, Any]) -> int:
    """Error (and critical) log records that named no crawl, logged while this crawl and
    others ran in one process: whose they were nobody can tell, so no crawl counts them as its
    own (``crawler.extensions.logcount``)."""
    return (_int(stats, "log_count/unattributed/ERROR")
            + _int(stats, "log_count/unattributed/CRITICAL"))


def errors_by_cause(stats: Mapping[str, Any]) -> dict[str, int]:
    """Errors of a crawl by cause, from its stats: HTTP statuses ≥ 400, download exceptions,
    spider exceptions, dropped items by reason, store and Redis failures (a run keeps them as
    ``error_kinds``)."""
    counts: dict[str, int] = {}

    def add(cause: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            counts[cause] = counts.get(cause, 0) + int(value)

    for key, value in stats.items():
        if key.startswith("downloader/response_status_count/"):
            code = key.rsplit("/", 1)[1]
            if code[:1] in "45":
                add(f"http_{code}", value)
        elif key.startswith("downloader/exception_type_count/"):
            name = key.rsplit("/", 1)[1].rsplit(".", 1)[-1]
            if name != "IgnoreRequest":  # robots.txt refusals are not errors
                add(f"download:{name}", value)
        elif key.startswith("spider_exceptions/") and key != "spider_exceptions/count":
            add(f"spider:{key.split('/', 1)[1]}", value)
        elif key.startswith(BLOCKED_KIND_PREFIX):
            add(f"blocked:{key[len(BLOCKED_KIND_PREFIX):]}", value)
        elif key.startswith("tutorwatch/items/dropped/"):
            add(f"dropped:{key.rsplit('/', 1)[1]}", value)
        elif key in ("tutorwatch/store/errors", "tutorwatch/redis/errors"):
            add(key.split("/")[1], value)
    return dict(sorted(counts.items()))


def merge_stats(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Stats of several workers of one shared crawl as one: numbers add up, the earliest start
    and the latest finish are kept, and the finish reason is ``finished`` only if every worker's
    was."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if key == "start_time":
                    merged[key] = min(merged.get(key, value), value)
                elif key == "finish_time":
                    merged[key] = max(merged.get(key, value), value)
                elif key == "finish_reason":
                    if merged.get(key, "finished") == "finished":
                        merged[key] = value
                else:
                    merged.setdefault(key, value)
            elif key in ("memusage/max", "memusage/startup"):
                merged[key] = max(merged.get(key, 0), value)
            else:
                merged[key] = merged.get(key, 0) + value
    return merged
