"""tutorwatch's log: one line per event on standard error, as text or as JSON for log shippers.

Every process (the UI, ``tutorwatch schedule``, each crawl) logs through one handler on the root
logger (:func:`logging_config`, Django's ``LOGGING``): tutorwatch's own loggers (``tutorwatch.*``,
``crawler.*``, ``review_ui.*``, ``classifier.*``) only propagate to it, so that no line is
written twice. A crawl does not install Scrapy's root handler; it sets this one's level from
its ``LOG_LEVEL`` (:func:`set_level`).

Scrapy's start-up and close dumps (versions, enabled components, overridden settings, the stats
dump: about a hundred lines per crawl) are shown only at DEBUG (``-s LOG_LEVEL=DEBUG`` or
``TUTORWATCH_CRAWL_LOG_LEVEL=DEBUG``): the run keeps the stats, the summary line says the rest.

Settings: ``TUTORWATCH_LOG_FORMAT`` (``text``, the default, or ``json``: one object a line with
``time``, ``level``, ``logger``, ``message``, and ``crawl`` and ``exception`` when there are).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s [%(name)s] %(levelname)s: %(message)s"
HANDLER = "console"
OWN_LOGGERS = ("tutorwatch", "crawler", "review_ui", "classifier")
ROBOTS_TXT_LOGGERS = (
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.robotstxt",
)

# (logger, start of the message) of Scrapy's start-up and close dumps.
STARTUP_DUMPS = (
    ("scrapy.utils.log", ""),
    ("scrapy.addons", "Enabled addons"),
    ("scrapy.middleware", "Enabled "),
    ("scrapy.crawler", "Overridden settings"),
    ("scrapy.statscollectors", "Dumping Scrapy stats"),
    ("scrapy.extensions.telnet", ""),
)


def is_startup_dump(record: logging.LogRecord) -> bool:
    message = str(record.msg)
    return any(record.name == name and message.startswith(start) for name, start in STARTUP_DUMPS)


def crawl_name(record: logging.LogRecord) -> str:
    """The name of the crawl's spider (the source) a record names through ``extra``, or ""."""
    spider = getattr(record, "spider", None)
    if spider is None:
        crawler = getattr(record, "crawler", None)
        spider = getattr(crawler, "spider", None)
    return str(getattr(spider, "name", "") or "")


class RobotsTxtFilter(logging.Filter):
    """A robots.txt that cannot be fetched is not an error of the crawl (Scrapy then crawls as
    if there were none; the pages themselves fail, and are counted, if the site is down): its
    "Gave up retrying" and "Error downloading" records become one-line warnings, without the
    traceback. Set on Scrapy's retry and robots.txt loggers, so the crawl's error count agrees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and (
            record.name == "scrapy.downloadermiddlewares.robotstxt"
            or "/robots.txt" in record.getMessage()
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


class ConsoleHandler(logging.StreamHandler):
    """Standard error, with Scrapy's dumps demoted to DEBUG (shown only at that level)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.DEBUG and is_startup_dump(record):
            if self.level > logging.DEBUG:
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return bool(super().filter(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        crawl = crawl_name(record)
        if crawl:
            entry["crawl"] = crawl
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def logging_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """Django's ``LOGGING``: one handler on the root logger, in ``log_format``."""
    formatter = (
        {"()": "review_ui.logs.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"tutorwatch": formatter},
        "filters": {"robots_txt": {"()": "review_ui.logs.RobotsTxtFilter"}},
        "handlers": {
            HANDLER: {
                "()": "review_ui.logs.ConsoleHandler",
                "formatter": "tutorwatch",
                "level": level,
            }
        },
        "root": {"handlers": [HANDLER], "level": "WARNING"},
        "loggers": {
            **{name: {"level": "INFO"} for name in OWN_LOGGERS},
            **{name: {"filters": ["robots_txt"]} for name in ROBOTS_TXT_LOGGERS},
            # Django's own console handler prints only with DEBUG on, and Django's "django"
            # logger would pass these to the root too: they stop here, printed once, with their
            # traceback (a 500, a refused suspicious request).
            "django.request": {"handlers": [HANDLER], "level": "ERROR", "propagate": False},
            "django.security": {"handlers": [HANDLER], "level": "ERROR", "propagate": False},
        },
    }


def console_handler() -> logging.Handler | None:
    """The root logger's tutorwatch handler, if installed."""
    return next((h for h in logging.root.handlers if isinstance(h, ConsoleHandler)), None)


def set_level(level: str | int) -> None:
    """Show records from ``level`` up (a crawl's ``LOG_LEVEL``): every logger's records reach
    the handler, which keeps those at ``level`` or above."""
    handler = console_handler()
    if handler is None:
        return
    handler.setLevel(level)
    logging.root.setLevel(min(handler.level, logging.WARNING))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(min(handler.level, logging.INFO))
