"""Try a source config without a store: what ``tutorwatch try`` shows.

:func:`run_trial` crawls a little of one source in this process with the source's own spider
(``crawler.spiders``: the same selectors, the same code), the crawl's settings (robots.txt,
timeouts, retries, redirects, the charset decision) and its text stages (clean text, contacts,
classify), but without the incremental middleware and the store stage: nothing is read from or
written to the database, and no run is recorded. It fetches the source's first list page (or a
given URL), follows none of its next pages, and fetches the first ``limit`` detail pages that
page links to. The :class:`TrialReport` says, per page, the status, the charset decision, what
was extracted (title, body, posted_at raw and parsed, phones, WeChat ids, score, category,
flagged) and which selectors of the config matched nothing; :func:`format_report` prints it.

A given URL is read as a list page; when the config's list selectors find no link there, as a
detail page (``as_detail`` reads it as a detail page at once).

Settings: those of a crawl (``crawler/settings.py``), with the log at WARNING; ``overrides``
change any of them, as ``-s`` does for ``tutorwatch crawl``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import jmespath
import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse

from crawler.config import SourceConfig
from crawler.spiders import spider_for
from crawler.spiders.html import select

BODY_EXCERPT = 200  # characters of the body shown
LINKS_SHOWN = 5  # detail links listed for the list page

CHARSET_BASES = {
    "config": "set by the config's encoding",
    "bom": "byte-order mark",
    "declared": "as declared",
    "overruled": "the declarations did not fit the bytes",
    "detected": "nothing declared; read from the bytes",
    "ascii": "plain ASCII",
    "lossy": "nothing decodes cleanly; fewest replacement characters",
}


@dataclass
class PageReport:
    """One page fetched (or not): what every page shows."""

    url: str
    status: int | None = None
    charset: dict[str, Any] | None = None
    failed: str = ""  # why nothing came of it: http_404, robots_txt, timeout …
    unmatched: list[str] = field(default_factory=list)  # config keys that matched nothing


@dataclass
class ListReport(PageReport):
    links: list[str] = field(default_factory=list)  # every detail link found, absolute
    offsite: list[str] = field(default_factory=list)  # links outside allowed_domains
    next_url: str = ""
    next_note: str = ""  # why there is no next page, or that it was not followed
    read_as_detail: bool = False


@dataclass
class DetailReport(PageReport):
    final_url: str = ""  # after redirects
    title: str = ""
    body: str = ""
    posted_at_raw: str = ""
    posted_at: str | None = None
    phones: list[str] = field(default_factory=list)
    wechat_ids: list[str] = field(default_factory=list)
    score: float | None = None
    flagged: bool | None = None
    category: str = ""
    extraction: str = ""  # how the text was found when not by the selectors
    dropped: str = ""  # why the ad was dropped after extraction (no title and no body)

    @property
    def extracted(self) -> bool:
        return self.score is not None


@dataclass
class TrialReport:
    source: str
    kind: str
    path: str
    list_page: ListReport | None = None
    details: list[DetailReport] = field(default_factory=list)

    @property
    def ads(self) -> int:
        return sum(1 for detail in self.details if detail.extracted)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ads"] = self.ads
        return data


# --- what matched nothing ---------------------------------------------------------------------
def _nothing(value: Any) -> bool:
    if value is None or value == "" or value == []:
        return True
    return isinstance(value, list) and all(_nothing(v) for v in value)


def unmatched_selectors(config: SourceConfig, response: Response, section: str) -> list[str]:
    """Keys of ``section`` (``list`` or ``detail``) whose selector matched nothing on
    ``response``: CSS/XPath for ``kind: html``, JMESPath on the JSON for ``kind: json``."""
    selectors = getattr(config, section)
    if config.kind == "json":
        data = _json(response)
        if data is None:
            return []  # counted as not_json by the spider
        keys = ["items"] if section == "list" else list(selectors)
        return [f"{section}.{key}" for key in keys
                if key in selectors and _nothing(jmespath.search(selectors[key], data))]
    if not isinstance(response, TextResponse):
        return []
    return [f"{section}.{key}" for key, expr in selectors.items()
            if isinstance(expr, str) and not select(response, expr)]


def _json(response: Response) -> Any:
    try:
        return json.loads(response.text if isinstance(response, TextResponse) else response.body)
    except (ValueError, UnicodeDecodeError):
        return None


def _next_note(config: SourceConfig, response: Response, unmatched: list[str]) -> str:
    """Why a list page gave no next page."""
    nxt = config.list.get("next")
    if not nxt:
        return "none: the config has no list.next"
    if config.kind == "html" and "list.next" in unmatched:
        return "none: list.next matched nothing"
    if config.kind == "json":
        if "list.items" in unmatched:
            return "none: list.items found no array here"
        data = _json(response)
        if data is not None and not jmespath.search(nxt["while"], data):
            return f"none: list.next.while {nxt['while']!r} is false here"
    return "none: a crawl would stop here (max_pages, or no new links)"


# --- the spider -------------------------------------------------------------------------------
def first_search_url(config: SourceConfig) -> str:
    """A search source's first result page: its first term's, page 1 (``crawler.search``)."""
    from crawler.search import merged_terms, search_url

    term = merged_terms(config.search["terms"], [])[0]
    return search_url(config.search["url"], term, 1)


def trial_spider_for(config: SourceConfig, url: str = "", limit: int = 3,
                     as_detail: bool = False) -> type[scrapy.Spider]:
    """The source's spider, made to report what it extracts from one list page and ``limit``
    detail pages. Extraction is the source spider's own: only which requests go on changes."""
    base = spider_for(config)

    class TrialSpider(base):  # type: ignore[valid-type, misc]
        own_start = True  # its start() is tutorwatch's: the text and classify stages run

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.report = TrialReport(config.name, config.kind, config.path or "")
            self.pending: dict[str, DetailReport] = {}  # requested URL → report
            self.by_final_url: dict[str, DetailReport] = {}

        async def start(self) -> AsyncIterator[scrapy.Request]:
            target = url or (config.start_urls[0] if config.start_urls
                             else first_search_url(config))
            if as_detail:
                yield self._detail_request(target)
            else:
                self.report.list_page = ListReport(target)
                yield self.request(target, self.parse_list, page=1)

        def _track(self, target: str) -> None:
            """Give the detail page ``target`` a report, in the order the pages were asked."""
            report = DetailReport(target)
            self.report.details.append(report)
            self.pending[target] = report

        def _detail_request(self, target: str) -> scrapy.Request:
            self._track(target)
            return self.request(target, self.parse_detail)

        def parse_list(self, response: Response, page: int, stale: int = 0) -> Any:
            report = self.report.list_page
            assert report is not None
            report.url, report.status = response.url, response.status
            report.charset = response.meta.get("charset")
            report.unmatched = unmatched_selectors(config, response, "list")
            details, pages = [], []
            for output in super().parse_list(response, page, stale) or ():
                if isinstance(output, scrapy.Request):
                    is_detail = getattr(output.callback, "__name__", "") == "parse_detail"
                    (details if is_detail else pages).append(output)
            report.links = [request.url for request in details]
            if pages:
                report.next_url = pages[0].url
                report.next_note = "not followed: tutorwatch try reads one list page"
            else:
                report.next_note = _next_note(config, response, report.unmatched)
            if not details and url and not as_detail:
                report.read_as_detail = True
                self._track(response.url)
                yield from self.parse_detail(response)
                return
            for request in details[:limit]:
                self._track(request.url)
                yield request

        def parse_detail(self, response: Response) -> Any:
            requested = (response.meta.get("redirect_urls") or [response.url])[0]
            report = self.pending.get(requested) or self.pending.get(response.url)
            if report is None:  # not one we asked for
                return
            report.final_url, report.status = response.url, response.status
            report.charset = response.meta.get("charset")
            report.unmatched = unmatched_selectors(config, response, "detail")
            self.by_final_url[response.url] = report
            yield from super().parse_detail(response) or ()

        def record_failure(self, url: str, reason: str, tally: str = "failed") -> None:
            super().record_failure(url, reason, tally)
            listed = self.report.list_page
            report: PageReport | None = self.pending.get(url) or self.by_final_url.get(url)
            if report is None and listed is not None:
                if listed.url == url:
                    report = listed
                elif reason == "offsite":
                    listed.offsite.append(url)
            if report is not None and not report.failed:
                report.failed = reason if tally == "failed" else f"{reason} (not fetched)"

    TrialSpider.__name__ = f"Trial{base.__name__}"
    return TrialSpider


class TrialPipeline:
    """The last stage of a trial, in place of the store: it notes each ad on its report."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TrialPipeline:
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    def _report(self, item: dict[str, Any]) -> DetailReport | None:
        spider = self.crawler.spider
        return getattr(spider, "by_final_url", {}).get(item.get("url"))

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        report = self._report(item)
        if report is not None:
            verdict = item.get("verdict") or {}
            report.title = item.get("title") or ""
            report.body = item.get("body_text") or ""
            report.posted_at_raw = item.get("posted_at_raw") or ""
            report.posted_at = item.get("posted_at")
            report.phones = list(item.get("phones") or [])
            report.wechat_ids = list(item.get("wechat_ids") or [])
            report.score = verdict.get("score")
            report.flagged = bool(verdict.get("label"))
            report.category = verdict.get("category") or ""
            report.extraction = item.get("extraction") or ""
        return item

    def item_dropped(self, item: Any, response: Any, exception: BaseException,
                     spider: Any = None) -> None:
        report = self._report(item) if isinstance(item, dict) else None
        if report is not None:
            report.dropped = str(exception)


def trial_settings(overrides: Iterable[tuple[str, str]] = ()) -> Any:
    """A crawl's settings without the store, the run recorder and the incremental middleware
    (which read it)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("ITEM_PIPELINES", {
        "crawler.pipelines.CleanTextPipeline": 100,
        "crawler.pipelines.ContactsPipeline": 200,
        "crawler.pipelines.ClassifyPipeline": 300,
        "crawler.trial.TrialPipeline": 900,
    }, priority="project")
    settings.set("SPIDER_MIDDLEWARES", {"crawler.incremental.IncrementalMiddleware": None},
                 priority="project")
    # No crawl run, and no worker to score and store on.
    settings.set("EXTENSIONS", {**settings.getdict("EXTENSIONS"),
                                "crawler.extensions.runs.CrawlRunRecorder": None,
                                "crawler.extensions.pipeline_worker.PipelineWorkerExtension": None},
                 priority="project")
    # Score each ad at once, in this process: no worker, no batches.
    settings.set("TUTORWATCH_CLASSIFY_IN_BATCHES", False, priority="project")
    # `try` never opens the database: it scores with TUTORWATCH_MODEL or the shipped model,
    # not a version promoted in the store.
    settings.set("TUTORWATCH_ASK_STORE_FOR_MODEL", False, priority="project")
    # This process's own frontier, whatever TUTORWATCH_REDIS_URL says.
    settings.set("SCHEDULER", "scrapy.core.scheduler.Scheduler", priority="project")
    settings.set("LOG_LEVEL", "WARNING", priority="project")
    for name, value in overrides:
        settings.set(name, value, priority="cmdline")
    return settings


def run_trial(config: SourceConfig, settings: Any, url: str = "", limit: int = 3,
              as_detail: bool = False, install_root_handler: bool = True) -> TrialReport:
    """Crawl one list page (or ``url``) and ``limit`` of its detail pages; the report.
    ``install_root_handler``: Scrapy's log handler, unless the caller has its own."""
    from scrapy.crawler import CrawlerProcess

    process = CrawlerProcess(settings, install_root_handler=install_root_handler)
    crawler = process.create_crawler(trial_spider_for(config, url, limit, as_detail))
    process.crawl(crawler)
    process.start()
    spider = crawler.spider
    assert spider is not None
    return spider.report


# --- the report in words ----------------------------------------------------------------------
def shown(text: str, limit: int = 0) -> str:
    """Crawled text made safe for a terminal: line breaks as ⏎, other control characters (an
    escape sequence could rewrite the screen) as \\u escapes; cut at ``limit`` characters."""
    if limit and len(text) > limit:
        text = text[:limit] + "…"
    text = re.sub(r"\s*\n\s*", " ⏎ ", text)
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def describe_charset(charset: dict[str, Any] | None) -> str:
    if not charset:
        return "not decided (not a text response)"
    declared = ", ".join(charset.get("declared") or []) or "nothing"
    basis = CHARSET_BASES.get(charset.get("basis", ""), charset.get("basis", ""))
    return f"{charset.get('encoding')} ({basis}; declared: {declared})"


def _page_lines(page: PageReport) -> list[str]:
    if page.failed:
        return [f"  failed     {shown(page.failed)}"]
    return [f"  status     {page.status}, charset {describe_charset(page.charset)}"]


def format_report(report: TrialReport, limit: int) -> str:
    lines = [f"tutorwatch try: source {report.source} ({report.kind}, {shown(report.path)}); "
             "nothing is stored"]
    page = report.list_page
    if page is not None:
        lines.append(f"list page  {shown(page.url)}")
        lines += _page_lines(page)
        if page.read_as_detail:
            lines.append(f"  no detail links here ({', '.join(page.unmatched) or 'list.links'} "
                         "matched nothing): read as a detail page")
        elif not page.failed and page.status is not None:
            found = len(page.links)
            lines.append(f"  links      {found} detail link{'s' if found != 1 else ''}"
                         + (f", the first {LINKS_SHOWN}:" if found > LINKS_SHOWN else
                            (":" if found else "")))
            lines += [f"               {shown(link)}" for link in page.links[:LINKS_SHOWN]]
            nxt = shown(page.next_url) + f" ({page.next_note})" if page.next_url else \
                page.next_note
            lines.append(f"  next page  {nxt}")
            if page.offsite:
                lines.append(f"  offsite    {len(page.offsite)} more outside allowed_domains, "
                             f"such as {shown(page.offsite[0])}")
            if page.unmatched:
                lines.append(f"  matched nothing: {', '.join(page.unmatched)}")
    for number, detail in enumerate(report.details, 1):
        lines.append(f"detail {number} of {len(report.details)}  {shown(detail.url)}")
        lines += _page_lines(detail)
        if detail.final_url and detail.final_url != detail.url:
            lines.append(f"  redirected {shown(detail.final_url)}")
        if detail.failed or detail.status is None:
            continue
        if detail.dropped:
            lines.append(f"  dropped    {shown(detail.dropped)}")
        if detail.extracted:
            lines += [
                f"  title      {shown(detail.title, 120)}",
                f"  body       {shown(detail.body, BODY_EXCERPT)} ({len(detail.body)} characters)",
                f"  posted_at  {shown(detail.posted_at_raw) or '-'} → {detail.posted_at or '-'}",
                f"  phones     {', '.join(map(shown, detail.phones)) or '-'}",
                f"  wechat ids {', '.join(map(shown, detail.wechat_ids)) or '-'}",
                f"  verdict    score {detail.score:.3f}, "
                f"{'flagged' if detail.flagged else 'not flagged'}, "
                f"category {shown(detail.category) or '-'}",
            ]
            if detail.extraction:
                lines.append(f"  text from  {shown(detail.extraction)} (not the selectors)")
        if detail.unmatched:
            lines.append(f"  matched nothing: {', '.join(detail.unmatched)}")
    lines.append(_summary(report, limit))
    return "\n".join(lines)


def _summary(report: TrialReport, limit: int) -> str:
    tried = len(report.details)
    if not tried:
        return "no detail page was tried: nothing extracted"
    text = f"{report.ads} of {tried} detail page{'s' if tried != 1 else ''} gave an ad"
    counts: dict[str, int] = {}
    for detail in report.details:
        for key in detail.unmatched:
            counts[key] = counts.get(key, 0) + 1
    if counts:
        text += "; matched nothing: " + ", ".join(
            f"{key} on {n} of {tried}" for key, n in counts.items())
    return text


__all__ = [
    "DetailReport", "ListReport", "TrialReport", "format_report", "run_trial", "shown",
    "trial_settings", "trial_spider_for", "unmatched_selectors",
]
