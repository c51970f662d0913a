"""The spider for ``kind: html`` sources: list pages with detail links, paged by a next link.

Selectors are CSS by default and XPath with an ``xpath:`` prefix. ``detail.body`` names an
element: its text is kept with paragraphs and ``<br>`` as line breaks (``crawler.text``).
Charsets are decided by ``crawler.middlewares.charset`` (a source's ``encoding`` overrides the
decision). A page that is empty, binary or needs JavaScript is counted under its reason
(``crawler.failures``), never stored as an empty ad.

When the ``detail`` selectors find no body on a detail page, the ad is not lost to broken
markup: the page is parsed again by Python's ``html.parser`` (an unclosed ``<title>`` makes lxml,
as browsers, read the whole document as the title) and the same selectors applied; if they
still find no body, the ad's text is the page's whole visible text. The item says which fallback
found the text (``extraction``: ``"html.parser"`` or ``"page_text"``; empty when the selectors
did), and each is counted as ``tutorwatch/items/extracted/fallback`` and
``tutorwatch/items/extracted/fallback/<extraction>``. Only a page with no visible text at all is
left empty (and dropped by the pipelines, ``tutorwatch/items/dropped/empty``). The raw page is
kept with the ad either way.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from parsel import Selector, SelectorList
from scrapy.http import Response, TextResponse

from crawler.failures import page_is_script_only
from crawler.spiders.base import DETAIL_KEYS, SourceSpider
from crawler.text import clean_text, html_to_text, lenient_parse, page_text, parsed_element_text

# Ad.extraction: which fallback found an ad's text (empty: the source's selectors did).
LENIENT_PARSE = "html.parser"
PAGE_TEXT = "page_text"


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
        if isinstance(sel.root, etree._Element) and not _is_text_selector(expr):
            # The element as the page's parse has it: no serialising it to read it again.
            parts.append(parsed_element_text(sel.root))
            continue
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
        self.count_selectors("list", {"links": links})
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
            self.count_selectors("list", {"next": next_href and next_href.strip()})
            if next_href and next_href.strip() and self.may_follow_page(page, stale):
                if request := self.follow(response, next_href.strip(), self.parse_list,
                                          page=page + 1, stale=stale):
                    yield request

    def detail_fields(self, node: Any) -> dict[str, str]:
        """What the source's ``detail`` selectors find on a page (or on a parse of it)."""
        detail = self.source.detail
        fields = {
            "title": extract_text(node, detail["title"]).replace("\n", " "),
            "body_text": extract_text(node, detail["body"]),
        }
        if "posted_at" in detail:
            fields["posted_at_raw"] = extract_text(node, detail["posted_at"]).replace("\n", " ")
        if "contact" in detail:
            fields["contact_raw"] = extract_text(node, detail["contact"])
        return fields

    def parse_detail(self, response: Response) -> Any:
        response = self._readable(response)
        if response is None:
            return
        self.count("pages/detail")
        fields, extraction = self.detail_fields(response), ""
        lenient = None
        if not fields["body_text"]:
            lenient = lenient_parse(response.text)
            found = self.detail_fields(Selector(root=lenient, type="html"))
            if found["body_text"]:
                fields, extraction = found, LENIENT_PARSE
            else:
                fields = {name: value or found[name] for name, value in fields.items()}
        # Before the page's whole text stands in for what the selectors did not find.
        self.count_selectors("detail", {DETAIL_KEYS[name]: value for name, value in fields.items()})
        if not fields["title"] and not fields["body_text"] and page_is_script_only(response):
            self.record_failure(response.url, "js_only")
            return
        if not fields["body_text"] and lenient is not None:
            title, text = page_text(lenient)
            if text:
                fields["title"] = fields["title"] or title
                fields["body_text"], extraction = text, PAGE_TEXT
        if extraction:
            self.count("items/extracted/fallback")
            self.count(f"items/extracted/fallback/{extraction}")
        yield self.build_item(response, extraction=extraction, **fields)


__all__ = ["HtmlSourceSpider", "extract_text", "select"]
