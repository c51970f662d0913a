"""A crawl run's Scrapy stats as the run page shows them: grouped, named in words, times local.

``CrawlRun.stats`` keeps Scrapy's own keys (``downloader/response_status_count/404``,
``tutorwatch/items/dropped/empty``…) and ISO times in UTC; the page shows them in groups
(the run, requests, pages, ads, the store), each figure named (``HTTP 404 responses``), times in
the local zone to the second, bytes in kB. A key this module does not know is still shown, under
"Other figures" with its code, so a new figure is never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import pgettext_lazy


def _(text: str):
    return pgettext_lazy("run figure", text)


@dataclass
class Figure:
    label: str
    value: str
    code: str = ""  # the part of the key that names something (a status, a reason), shown as is
    value_is_code: bool = False  # a value that is itself a code (Scrapy's finish reason)


@dataclass
class Group:
    title: str
    figures: list[Figure] = field(default_factory=list)


GROUPS = {
    "run": _("The run"), "requests": _("Requests and responses"), "pages": _("Pages"),
    "ads": _("Ads"), "store": _("The store"), "log": _("Log messages"),
    "other": _("Other figures"),
}
# Exact keys: (group, label, kind of value).
EXACT: dict[str, tuple[str, Any, str]] = {
    "start_time": ("run", _("started"), "time"),
    "finish_time": ("run", _("finished"), "time"),
    "elapsed_time_seconds": ("run", _("duration (seconds)"), "seconds"),
    "finish_reason": ("run", _("how it ended"), "code"),
    "memusage/startup": ("run", _("memory at start (MB)"), "mb"),
    "memusage/max": ("run", _("most memory used (MB)"), "mb"),
    "responses_per_minute": ("run", _("responses per minute"), "number"),
    "items_per_minute": ("run", _("ads per minute"), "number"),
    "tutorwatch/run": ("run", _("run no."), "text"),
    "tutorwatch/capture/worker_pid": ("run", _("screenshot worker process"), "text"),
    "downloader/request_count": ("requests", _("requests sent"), "number"),
    "downloader/response_count": ("requests", _("responses received"), "number"),
    "response_received_count": ("requests", _("responses handled"), "number"),
    "downloader/request_bytes": ("requests", _("sent (kB)"), "kb"),
    "downloader/response_bytes": ("requests", _("received (kB)"), "kb"),
    "downloader/exception_count": ("requests", _("failed requests"), "number"),
    "retry/count": ("requests", _("retries"), "number"),
    "retry/max_reached": ("requests", _("given up after retries"), "number"),
    "request_depth_max": ("requests", _("deepest link followed"), "number"),
    "robotstxt/request_count": ("requests", _("robots.txt requests"), "number"),
    "robotstxt/response_count": ("requests", _("robots.txt responses"), "number"),
    "robotstxt/forbidden": ("requests", _("refused by robots.txt"), "number"),
    "scheduler/enqueued": ("requests", _("requests queued"), "number"),
    "scheduler/dequeued": ("requests", _("requests taken from the queue"), "number"),
    "tutorwatch/pages/list": ("pages", _("list pages"), "number"),
    "tutorwatch/pages/detail": ("pages", _("ad pages"), "number"),
    "tutorwatch/failed_urls": ("pages", _("addresses that failed"), "code"),
    "item_scraped_count": ("ads", _("ads read"), "number"),
    "item_dropped_count": ("ads", _("ads left out"), "number"),
    "tutorwatch/items/classified": ("ads", _("classified"), "number"),
    "tutorwatch/items/flagged": ("ads", _("flagged"), "number"),
    "tutorwatch/items/queued": ("ads", _("queued for review"), "number"),
    "tutorwatch/items/with_contact": ("ads", _("with a phone or WeChat id"), "number"),
    "tutorwatch/store/transactions": ("store", _("transactions"), "number"),
}
# Key prefixes whose last part names something: (group, label); the rest is shown as code.
PREFIXES: list[tuple[str, str, Any]] = [
    ("downloader/response_status_count/", "requests", _("HTTP responses with status")),
    ("downloader/request_method_count/", "requests", _("requests by method")),
    ("downloader/exception_type_count/", "requests", _("failed requests by error")),
    ("retry/reason_count/", "requests", _("retries by reason")),
    ("robotstxt/response_status_count/", "requests", _("robots.txt responses with status")),
    ("scheduler/enqueued/", "requests", _("requests queued, by queue")),
    ("scheduler/dequeued/", "requests", _("requests taken, by queue")),
    ("tutorwatch/charset/", "pages", _("pages by how their charset was found")),
    ("tutorwatch/skipped/", "pages", _("pages skipped, by reason")),
    ("tutorwatch/failed/", "pages", _("pages that failed, by reason")),
    ("tutorwatch/items/stored/", "ads", _("ads stored")),
    ("tutorwatch/items/dropped/", "ads", _("ads left out, by reason")),
    ("item_dropped_reasons_count/", "ads", _("ads left out, by exception")),
    ("tutorwatch/store/", "store", _("store")),
    ("log_count/", "log", _("log messages of level")),
]


def _time(value: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _value(kind: str, value: Any) -> str:
    if kind == "time":
        return _time(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if kind == "kb":
            return _number(round(value / 1024, 1))
        if kind == "mb":
            return _number(round(value / 1024 / 1024, 1))
        if kind == "seconds":
            return _number(round(value, 1))
    if kind == "code" and isinstance(value, dict):
        return "; ".join(f"{reason}: {', '.join(map(str, urls))}" for reason, urls in value.items())
    if isinstance(value, dict | list):
        return str(value)
    return _number(value)


def _figure(key: str, value: Any) -> tuple[str, Figure, tuple[int, str]]:
    """The group a stat belongs to, its figure, and its rank within the group."""
    if key in EXACT:
        group, label, kind = EXACT[key]
        figure = Figure(str(label), _value(kind, value), value_is_code=kind == "code")
        return group, figure, (list(EXACT).index(key), "")
    for number, (prefix, group, label) in enumerate(PREFIXES):
        if key.startswith(prefix) and len(key) > len(prefix):
            code = key[len(prefix):]
            return (group, Figure(str(label), _value("number", value), code),
                    (len(EXACT) + number, code))
    return "other", Figure("", _value("number", value), key), (len(EXACT) + len(PREFIXES), key)


def figures(stats: dict[str, Any]) -> list[Group]:
    """The run's stats in GROUPS' order, each group's figures in the order of EXACT and PREFIXES
    (then by code); groups without figures left out."""
    ranked: dict[str, list[tuple[tuple[int, str], Figure]]] = {key: [] for key in GROUPS}
    for key, value in stats.items():
        if key != "workers":
            group, figure, rank = _figure(key, value)
            ranked[group].append((rank, figure))
    return [Group(str(GROUPS[key]), [figure for _rank, figure in sorted(rows, key=lambda r: r[0])])
            for key, rows in ranked.items() if rows]
