"""Log lines for dropped items that name the URL and the reason, without dumping the item
(which carries the whole raw page)."""

from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter, LogFormatterResult


class QuietItemsLogFormatter(LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any = None,
                *args: Any, **kwargs: Any) -> LogFormatterResult:
        return {
            "level": logging.WARNING,
            "msg": "Dropped an item: %(exception)s",
            "args": {"exception": exception},
        }

    def scraped(self, item: Any, response: Any, spider: Any = None, *args: Any,
                **kwargs: Any) -> LogFormatterResult:
        url = item.get("url") if isinstance(item, dict) else None
        return {"level": logging.DEBUG, "msg": "Scraped %(url)s", "args": {"url": url}}
