"""Clean text out of HTML fragments and crawled strings.

Paragraph-level elements become blank-line breaks and ``<br>`` a line break, so officers read a
post as its author laid it out; scripts, styles and comments are dropped; runs of spaces inside a
line are folded. For pages whose markup defeats lxml (an unclosed ``<title>`` swallows the whole
document, as in browsers), :func:`lenient_parse` parses them as Python's ``html.parser`` does,
and :func:`page_text` gives a page's whole visible text. Plain functions, no Scrapy.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from typing import Any

import bs4
import lxml.html
from lxml import etree
from lxml.html import soupparser

_BLOCK_TAGS = {
    "p", "div", "section", "article", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4",
    "h5", "h6", "blockquote", "pre", "dd", "dt", "dl", "header", "footer", "form",
}
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "svg")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u3000]+")
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_MANY_BREAKS = re.compile(r"\n{3,}")
_ZWJ = "\u200d"
# Characters that take part in emoji ZWJ sequences (👩‍🍳, ❤️‍🔥, 🏳️‍🌈): the pictographic
# blocks; Python's unicodedata has no Extended_Pictographic property, these ranges cover it.
_EMOJI = re.compile(
    "[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21aa\u231a-\u23ff\u24c2\u25aa-\u27bf"
    "\u2934\u2935\u2b05-\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001faff]"
)
# What may stand between an emoji and its joiner: the emoji presentation selector, skin tones.
_EMOJI_MODIFIERS = frozenset("\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
# A subdivision flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿): the black flag, tag letters, the cancel tag; the tags are format
# characters that the control-character rule would drop, leaving a plain black flag.
_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def _joins_emoji(text: str, at: int) -> bool:
    """Whether the zero-width joiner at ``at`` joins two emoji (it is part of the picture, as in
    👩‍🍳) rather than hiding inside a word (补\u200d习, to slip past keyword matching)."""
    before = at - 1
    while before >= 0 and text[before] in _EMOJI_MODIFIERS:
        before -= 1
    return (before >= 0 and at + 1 < len(text) and _EMOJI.match(text[before]) is not None
            and _EMOJI.match(text[at + 1]) is not None)


# Python's "printable" is every character but the "Other" (C*: control, format, surrogate,
# private use, unassigned) and "Separator" (Z*) categories, from the same Unicode database as
# unicodedata: a text that is printable once its separators, newlines and tabs are taken out has
# nothing that _visible drops (the zero-width characters are all format characters).
_SEPARATORS_GONE = dict.fromkeys(
    map(ord, "\n\t \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
            "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"))


def _visible(text: str) -> str:
    """``text`` without control, format and zero-width characters, except those that hold an
    emoji sequence together (ZWJ sequences, subdivision flags): dropping them splits one
    picture into several (👩‍🍳 into 👩🍳)."""
    if text.translate(_SEPARATORS_GONE).isprintable():
        return text  # nothing to drop: the common case, without a look at each character
    kept = {i for m in _TAG_SEQUENCE.finditer(text) for i in range(m.start() + 1, m.end())}
    kept.update(i for i, ch in enumerate(text) if ch == _ZWJ and _joins_emoji(text, i))
    return "".join(
        ch for i, ch in enumerate(text)
        if i in kept or ch == "\n" or ch == "\t"
        or (ch not in _ZERO_WIDTH and unicodedata.category(ch)[0] != "C")
    )


def clean_text(text: str) -> str:
    """Normalise a plain string: line endings, control characters, spaces, blank lines."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _visible(text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    return _MANY_BREAKS.sub("\n\n", text).strip()


def html_to_text(fragment: str) -> str:
    """Text of an HTML fragment with paragraphs and ``<br>`` kept as line breaks."""
    if not fragment or not fragment.strip():
        return ""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return clean_text(fragment)
    return element_text(root)


# Elements that html_to_text, given their markup, reads otherwise than element_text reads the
# element: parsed as a fragment, a <script> or <style> is dropped whole and <html> loses its <head>.
_READ_AS_MARKUP = frozenset({*_DROP_TAGS, "html", "head"})


def parsed_element_text(element: Any) -> str:
    """``html_to_text`` of an element's markup, read from the element itself: what a selector
    found on a parsed page, without serialising it and parsing the markup again."""
    if isinstance(element.tag, str) and element.tag not in _READ_AS_MARKUP:
        return element_text(element)
    return html_to_text(etree.tostring(element, method="html", encoding="unicode",
                                       with_tail=False))


def element_text(root: Any, own_text_skipped: tuple[str, ...] = ()) -> str:
    """Text of an lxml element with paragraphs and ``<br>`` kept as line breaks, without
    scripts, styles, comments and other invisible elements (the tree is left as it is). The own
    text of elements named in ``own_text_skipped`` is left out, not their children's."""
    parts: list[str] = []

    def walk(element: Any) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "br":
            parts.append("\n")
        elif tag in _BLOCK_TAGS:
            parts.append("\n\n")
        if element.text and tag not in own_text_skipped:
            parts.append(element.text)
        for child in element:
            # Comments, processing instructions and invisible elements: only their tail shows.
            if isinstance(child.tag, str) and child.tag not in _DROP_TAGS:
                walk(child)
            if child.tail:
                parts.append(child.tail)
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")

    walk(root)
    # Source newlines inside a paragraph are layout, not content; <br> and blocks carry breaks.
    joined = "".join(
        p if p in ("\n", "\n\n") else p.replace("\r", " ").replace("\n", " ") for p in parts
    )
    return clean_text(joined)


def lenient_parse(html: str) -> Any:
    """The root element of ``html`` parsed by Python's ``html.parser`` (through BeautifulSoup),
    as an lxml tree for Scrapy's selectors. Unlike lxml and browsers, it reads an unclosed
    ``<title>`` (a template bug legacy sites have) as an ordinary element, so the rest of the
    page stays markup, nested inside it."""
    with warnings.catch_warnings():
        # A page that looks like XML, or like a file name, is still parsed as HTML on purpose.
        warnings.simplefilter("ignore", bs4.XMLParsedAsHTMLWarning)
        warnings.simplefilter("ignore", bs4.MarkupResemblesLocatorWarning)
        return soupparser.fromstring(html, features="html.parser")


def page_text(root: Any) -> tuple[str, str]:
    """(title, text) of a whole parsed page: the ``<title>``'s own text, and every visible text
    of the page but that, with paragraphs and ``<br>`` as line breaks (for pages whose
    selectors found nothing)."""
    titles = root.xpath("//title")
    title = clean_text(titles[0].text or "").replace("\n", " ") if titles else ""
    return title, element_text(root, own_text_skipped=("title",))


_DATE_PATTERNS = [
    re.compile(
        r"(?P<y>20\d\d)\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
        r"(?:[T\s]*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
        r"(?P<tz>Z|[+-]\d\d:?\d\d)?"
    ),
]


def parse_posted_at(raw: str) -> str | None:
    """An ISO 8601 timestamp from a date as sites show it, or None.

    Understands ``2026-10-03 14:22``, ``2026/10/3``, ``2026年10月3日 14:22``, ISO with an offset;
    a time without an offset is China time (+08:00).
    """
    if not raw:
        return None
    match = _DATE_PATTERNS[0].search(unicodedata.normalize("NFKC", raw))
    if not match:
        return None
    parts = {k: int(v) for k, v in match.groupdict().items() if v and k != "tz"}
    try:
        from datetime import datetime

        moment = datetime(
            parts["y"], parts["m"], parts["d"],
            parts.get("H", 0), parts.get("M", 0), parts.get("S", 0),
        )
    except ValueError:
        return None
    tz = match.group("tz") or "+08:00"
    if tz == "Z":
        tz = "+00:00"
    elif ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:]}"
    return moment.isoformat() + tz
