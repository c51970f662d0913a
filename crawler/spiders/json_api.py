"""The spider for ``kind: json`` sources: app-style APIs queried with JMESPath.

``list.items`` names the array on a list response; ``list.link`` is a URL template filled from
each item's fields; ``list.next`` ``{param, while}`` increments a query parameter while the
expression holds on the list response. ``detail.*`` are JMESPath expressions on the detail JSON.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jmespath
from scrapy.http import Response, TextResponse

from crawler.spiders.base import DETAIL_KEYS, SourceSpider
from crawler.text import clean_text, html_to_text


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return clean_text("\n".join(_as_text(v) for v in value))
    if isinstance(value, (dict, bool, int, float)):
        if isinstance(value, dict):
            return clean_text(json.dumps(value, ensure_ascii=False))
        return str(value)
    text = str(value)
    return html_to_text(text) if "<" in text and ">" in text else clean_text(text)


def with_query_param(url: str, param: str, value: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != param]
    query.append((param, str(value)))
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Fields(dict):
    """Item fields for ``str.format``; a missing field raises a KeyError naming it."""


class JsonSourceSpider(SourceSpider):
    def _json(self, response: Response) -> Any:
        if not response.body.strip():
            self.record_failure(response.url, "empty_body")
            return None
        try:
            # The charset middleware has decided how to read a text response (GBK APIs exist).
            text = response.text if isinstance(response, TextResponse) else response.body
            return json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            self.logger.warning("not JSON at %s: %s", response.url, exc)
            self.record_failure(response.url, "not_json")
            return None

    def parse_list(self, response: Response, page: int, stale: int = 0) -> Any:
        data = self._json(response)
        if data is None:
            return
        self.count("pages/list")
        items = jmespath.search(self.source.list["items"], data)
        self.count_selectors("list", {"items": isinstance(items, list) and bool(items)})
        if not isinstance(items, list):
            self.logger.warning("list.items found no array at %s", response.url)
            self.count("pages/list_without_links")
            items = []
        template = self.source.list["link"]
        links = []
        for item in items:
            if not isinstance(item, dict):
                self.count("items/unlinkable")
                continue
            try:
                link = template.format_map(_Fields(item))
            except (KeyError, IndexError, ValueError) as exc:
                self.logger.warning(
                    "cannot fill list.link from an item at %s: %s", response.url, exc
                )
                self.count("items/unlinkable")
                continue
            links.append(link)
        fresh = self.new_links(response, links)
        for link in fresh:
            if request := self.follow(response, link, self.parse_detail):
                yield request
        stale = 0 if fresh else stale + 1
        nxt = self.source.list.get("next")
        more = bool(nxt and items and jmespath.search(nxt["while"], data))
        if more and self.may_follow_page(page, stale):
            current = dict(parse_qsl(urlsplit(response.url).query)).get(nxt["param"])
            number = int(current) + 1 if current and current.isdigit() else page + 1
            yield self.request(with_query_param(response.url, nxt["param"], number),
                               self.parse_list, page=page + 1, stale=stale)

    def parse_detail(self, response: Response) -> Any:
        data = self._json(response)
        if data is None:
            return
        self.count("pages/detail")
        detail = self.source.detail
        fields: dict[str, Any] = {
            "title": _as_text(jmespath.search(detail["title"], data)).replace("\n", " "),
            "body_text": _as_text(jmespath.search(detail["body"], data)),
        }
        if "posted_at" in detail:
            fields["posted_at_raw"] = _as_text(jmespath.search(detail["posted_at"], data))
        if "contact" in detail:
            fields["contact_raw"] = _as_text(jmespath.search(detail["contact"], data))
        self.count_selectors("detail", {DETAIL_KEYS[name]: value for name, value in fields.items()})
        yield self.build_item(response, **fields)
