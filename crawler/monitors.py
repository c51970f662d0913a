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

- ``site_down``: pages failed because the site answered 5xx, timed out, refused or dropped the
  connection, or its name did not resolve (``crawler.failures``): no page was read, or those
  failures are above ``max_parse_failure_share`` of the pages tried. It is not a layout change:
  a run that fails it is not judged by ``zero_items`` or ``few_items`` either;
- ``selectors_unmatched``: a required selector (``list.links``, ``list.items``,
  ``detail.title``, ``detail.body``) matched on fewer than half the pages it was tried on (a
  detail selector, once tried on ``MIN_DETAIL_SELECTOR_PAGES`` pages), or on none of the list
  pages (a list selector)
  (``tutorwatch/selectors/<key>/matched`` of ``.../pages``, counted by the spiders): the alert
  names it. Every selector's counts are kept in the run's stats (:func:`selector_hits`), the
  optional ones (``detail.posted_at``) too.

A crawl ended by one of Scrapy's ``CLOSESPIDER_ITEMCOUNT``, ``_PAGECOUNT`` or ``_TIMEOUT`` caps
(:data:`CAPPED_REASONS`) finished as asked: it is not judged by ``zero_items`` or ``few_items``,
which would only measure the cap.

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
FAILED_PREFIX = "tutorwatch/failed/"
FAILED_URLS_KEY = "tutorwatch/failed_urls"
SELECTOR_PREFIX = "tutorwatch/selectors/"
# Failures that say the site is down or refusing us, not that its pages changed (besides
# http_5xx): crawler.failures names them.
DOWN_REASONS = frozenset({"timeout", "connection_refused", "connection_lost", "dns"})
# Selectors without which a source yields nothing useful; under this share of pages they fail
# the run, named.
REQUIRED_SELECTORS = ("list.links", "list.items", "detail.title", "detail.body")
MIN_SELECTOR_SHARE = 0.5
# Detail selectors are judged from this many pages on: a re-crawl that fetches only the one new
# page, blank or a deliberate trap, says nothing of the layout. A list selector fails only when
# it matched on none of the list pages: a site's list pages past the last ad, or a calendar's
# empty days, rightly have no links, while a changed list layout loses them all.
MIN_DETAIL_SELECTOR_PAGES = 3
UNJUDGED_SELECTORS = frozenset({"list.next"})  # counted, never reported as missing
# Close reasons of Scrapy's CLOSESPIDER_* caps: the crawl stopped where it was asked to.
CAPPED_REASONS = frozenset({"closespider_itemcount", "closespider_pagecount",
                            "closespider_timeout"})


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
        if failure.get("fetched") == 0:
            return "the crawl found no ads at all: no page could be read"
        return "the crawl found no ads at all (has the site changed its layout?)"
    if check == "site_down":
        return (f"the site is down or blocking us: {failure['failed']} of {failure['pages']} "
                f"pages failed ({reasons_text(failure.get('reasons') or {})})")
    if check == "selectors_unmatched":
        return "the layout has changed: " + "; ".join(
            f"{s['key']} matched {s['matched']} of {s['pages']} pages"
            for s in failure.get("selectors") or ())
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


def reasons_text(counts: Mapping[str, int]) -> str:
    """``http_500 3, timeout 1``."""
    return ", ".join(f"{reason} {n}" for reason, n in counts.items())


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


def failed_by_reason(stats: Mapping[str, Any]) -> dict[str, int]:
    """URLs that yielded no ad, by reason (``crawler.failures``): each URL once, after its
    retries. The crawl summary, the run page and the alert all count failed pages so."""
    return {key[len(FAILED_PREFIX):]: _int(stats, key) for key in sorted(stats)
            if key.startswith(FAILED_PREFIX) and _int(stats, key)}


def failed_urls(stats: Mapping[str, Any], per_reason: int = 5) -> dict[str, list[str]]:
    """Up to ``per_reason`` of the URLs that failed, by reason."""
    kept = stats.get(FAILED_URLS_KEY)
    if not isinstance(kept, Mapping):
        return {}
    return {str(reason): [str(url) for url in urls][:per_reason]
            for reason, urls in sorted(kept.items()) if isinstance(urls, list) and urls}


def down_failures(stats: Mapping[str, Any]) -> dict[str, int]:
    """Failed pages whose reason says the site is down or refusing us: 5xx, timeouts, refused or
    lost connections, unresolved names."""
    return {reason: n for reason, n in failed_by_reason(stats).items()
            if reason in DOWN_REASONS or (reason.startswith("http_5") and len(reason) == 8)}


def pages_read(stats: Mapping[str, Any]) -> int:
    """List and detail pages the spiders parsed (or tried to)."""
    return sum(_int(stats, key) for key in PARSED_PAGE_KEYS)


def selector_hits(stats: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """``{"detail.posted_at": (matched, pages)}``: on how many of the pages each selector of the
    config was tried on it matched."""
    hits: dict[str, tuple[int, int]] = {}
    for key in sorted(stats):
        if key.startswith(SELECTOR_PREFIX) and key.endswith("/pages"):
            name = key[len(SELECTOR_PREFIX):-len("/pages")]
            hits[name] = (_int(stats, f"{SELECTOR_PREFIX}{name}/matched"), _int(stats, key))
    return hits


def weak_selectors(stats: Mapping[str, Any], share: float = MIN_SELECTOR_SHARE,
                   required_only: bool = False) -> list[dict[str, Any]]:
    """Detail selectors that matched on fewer than ``share`` of the pages they were tried on
    (from ``MIN_DETAIL_SELECTOR_PAGES`` pages), and list selectors that matched on none, as
    ``{"key", "matched", "pages", "required"}``. Not ``list.next``: the last list page has no
    next link, so on a site of one or two list pages it is missing half the time or more."""
    weak = []
    for key, (matched, pages) in selector_hits(stats).items():
        if key in UNJUDGED_SELECTORS:
            continue
        required = key in REQUIRED_SELECTORS
        if key.startswith("detail."):
            weak_here = pages >= MIN_DETAIL_SELECTOR_PAGES and matched / pages < share
        else:
            weak_here = pages > 0 and matched == 0
        if weak_here and (required or not required_only):
            weak.append({"key": key, "matched": matched, "pages": pages, "required": required})
    return weak


def check_crawl(
    stats: Mapping[str, Any],
    recent_found: Sequence[int] = (),
    thresholds: Thresholds | None = None,
    recheck: bool = False,
    capped: bool = False,
) -> list[HealthFailure]:
    """The checks that fail for a crawl that closed normally (``capped``: by a CLOSESPIDER_*
    cap, :data:`CAPPED_REASONS`).

    ``recent_found`` are :func:`items_found` of the source's latest healthy runs, newest first.
    """
    limits = thresholds or Thresholds()
    failures: list[HealthFailure] = []
    found = items_found(stats)
    blocked = _int(stats, BLOCKED_KEY)
    if blocked:
        failures.append(HealthFailure("blocked", {"pages": blocked, "kinds": block_kinds(stats)}))
    down = down_failures(stats)
    read = pages_read(stats)
    tried = sum(down.values()) + read
    site_down = bool(down) and (
        read == 0 or sum(down.values()) / tried > limits.max_parse_failure_share)
    if site_down:
        failures.append(HealthFailure("site_down", {
            "failed": sum(down.values()), "pages": tried, "reasons": down,
            "share": round(sum(down.values()) / tried, 4),
        }))
    # Quantity says nothing about the layout when the site refused us or a cap cut the crawl.
    judge_quantity = not (recheck or blocked or site_down or capped)
    if judge_quantity and found == 0:
        failures.append(HealthFailure("zero_items", {"found": 0, "fetched": read}))

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

    unmatched = [] if recheck else weak_selectors(stats, required_only=True)
    if unmatched:
        failures.append(HealthFailure("selectors_unmatched", {
            "selectors": [{k: s[k] for k in ("key", "matched", "pages")} for s in unmatched],
            "limit": MIN_SELECTOR_SHARE,
        }))

    missed, pages = _int(stats, PAGE_TEXT_KEY), _int(stats, DETAIL_PAGE_KEY)
    if not recheck and pages and missed / pages > limits.max_parse_failure_share:
        failures.append(HealthFailure("selectors_missed", {
            "missed": missed, "pages": pages, "share": round(missed / pages, 4),
            "limit": limits.max_parse_failure_share,
        }))

    history = list(recent_found)[: limits.history]
    if judge_quantity and found and len(history) >= limits.min_history:
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
    """Errors of a crawl by cause, from its stats (a run keeps them as ``error_kinds``): failed
    pages by reason, each URL once after its retries, as the crawl summary counts them (a
    robots.txt that is missing or failed is not one: the crawl goes on without it), blocked
    pages by the kind of challenge, then spider exceptions, dropped items by reason, store and
    Redis failures."""
    # A blocked page is told by the kind of challenge (blocked:slider), as the run page shows.
    counts = {reason: n for reason, n in failed_by_reason(stats).items() if reason != "blocked"}

    def add(cause: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value:
            counts[cause] = counts.get(cause, 0) + int(value)

    for key, value in stats.items():
        if key.startswith("spider_exceptions/") and key != "spider_exceptions/count":
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
            if key == FAILED_URLS_KEY and isinstance(value, Mapping):
                kept = merged.setdefault(key, {})
                for reason, urls in value.items():
                    kept[reason] = [*kept.get(reason, []), *urls][:50]
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
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
