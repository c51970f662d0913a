"""The spider for ``kind: html`` sources: list pages with detail links, paged by a next link.

Selectors are CSS by default and XPath with an ``xpath:`` prefix. ``detail.body`` names an
element: its text is kept with paragraphs and ``<br>`` as line breaks (``crawler.text``).
Charsets are decided by ``crawler.middlewares.charset`` (a source's ``encoding`` overrides the
decision). A page that is empty, binary or needs JavaScript is counted under its reason
(``crawler.failures``), never stored as an empty ad.
"""

from __future__ import annotations

from typing import Any

from parsel import SelectorList
from scrapy.http import Response, TextResponse

from crawler.failures import page_is_script_only
from crawler.spiders.base import SourceSpider
from crawler.text import clean_text, html_to_text


def select(node: Any, expr: str) -> SelectorList:
    """Apply a config selector: ``xpath:...`` for XPath, anything else as CSS."""
    if expr.startswith("xpath:"):
        return node.xpath(expr[len("xpath:"):].strip())
    return node.css(expr)


def _is_text_selector(expr: str) -> bool:
    return "::text" in expr or "::attr(" in expr or expr.rstrip().endswith(("text()", ")"))


def extract_text(node: Any, expr: str) -> str:
    """Text of everything ``expr`` selects: text nodes joined, elements converted with breaks."""
    found = select(node, expr)
    parts = []
    for sel in found:
        value = sel.get()
        if value is None:
            continue
        if isinstance(sel.root, str) or _is_text_selector(expr):
            parts.append(clean_text(value))
        else:
            parts.append(html_to_text(value))
    return clean_text("\n".join(p for p in parts if p))


class HtmlSourceSpider(SourceSpider):
    def _readable(self, response: Response) -> TextResponse | None:
        """The response as text, or None after counting why it cannot be read."""
        if not response.body.strip():
            self.record_failure(response.url, "empty_body")
            return None
        if not isinstance(response, TextResponse):
            self.record_failure(response.url, "binary_body")
            return None
        return response

    def parse_list(self, response: Response, page: int, stale: int = 0) -> Any:
        response = self._readable(response)
        if response is None:
            return
        self.count("pages/list")
        links = [href.strip() for href in select(response, self.source.list["links"]).getall()
                 if href and href.strip()]
        if not links:
            if page_is_script_only(response):
                self.record_failure(response.url, "js_only")
                return
            self.logger.warning("list page %s has no detail links", response.url)
            self.count("pages/list_without_links")
        fresh = self.new_links(response, links)
        for href in fresh:
            if request := self.follow(response, href, self.parse_detail):
                yield request
        stale = 0 if fresh else stale + 1
        next_expr = self.source.list.get("next")
        if next_expr:
            next_href = select(response, next_expr).get()
            if next_href and next_href.strip() and self.may_follow_page(page, stale):
                if request := self.follow(response, next_href.strip(), self.parse_list,
                                          page=page + 1, stale=stale):
                    yield request

    def parse_detail(self, response: Response) -> Any:
        response = self._readable(response)
        if response is None:
            return
        self.count("pages/detail")
        detail = self.source.detail
        fields: dict[str, Any] = {
            "title": extract_text(response, detail["title"]).replace("\n", " "),
            "body_text": extract_text(response, detail["body"]),
        }
        if not fields["title"] and not fields["body_text"] and page_is_script_only(response):
            self.record_failure(response.url, "js_only")
            return
        if "posted_at" in detail:
            fields["posted_at_raw"] = extract_text(response, detail["posted_at"]).replace("\n", " ")
        if "contact" in detail:
            fields["contact_raw"] = extract_text(response, detail["contact"])
        yield self.build_item(response, **fields)


__all__ = ["HtmlSourceSpider", "extract_text", "select"]
