"""The spider for ``kind: html`` sources: list pages with detail links, paged by a next link.

Selectors are CSS by default and XPath with an ``xpath:`` prefix. ``detail.body`` names an
element: its text is kept with paragraphs and ``<br>`` as line breaks (``crawler.text``).
A source's ``encoding`` overrides charset detection for every page of that source.
"""

from __future__ import annotations

from typing import Any

from parsel import SelectorList
from scrapy.http import Response, TextResponse

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
    def _decoded(self, response: Response) -> Response:
        if self.source.encoding and isinstance(response, TextResponse):
            return response.replace(encoding=self.source.encoding)
        return response

    def parse_list(self, response: Response, page: int) -> Any:
        response = self._decoded(response)
        if not isinstance(response, TextResponse):
            self.count("pages/not_html")
            return
        self.count("pages/list")
        links = select(response, self.source.list["links"]).getall()
        if not links:
            self.logger.warning("list page %s has no detail links", response.url)
            self.count("pages/list_without_links")
        for href in links:
            yield response.follow(href.strip(), callback=self.parse_detail)
        next_expr = self.source.list.get("next")
        if next_expr and self.may_follow_page(page):
            next_href = select(response, next_expr).get()
            if next_href and next_href.strip():
                yield response.follow(
                    next_href.strip(), callback=self.parse_list, cb_kwargs={"page": page + 1}
                )

    def parse_detail(self, response: Response) -> Any:
        response = self._decoded(response)
        if not isinstance(response, TextResponse):
            self.count("pages/not_html")
            return
        self.count("pages/detail")
        detail = self.source.detail
        fields: dict[str, Any] = {
            "title": extract_text(response, detail["title"]).replace("\n", " "),
            "body_text": extract_text(response, detail["body"]),
        }
        if "posted_at" in detail:
            fields["posted_at_raw"] = extract_text(response, detail["posted_at"]).replace("\n", " ")
        if "contact" in detail:
            fields["contact_raw"] = extract_text(response, detail["contact"])
        yield self.build_item(response, **fields)


__all__ = ["HtmlSourceSpider", "extract_text", "select"]
