"""The stored page made safe to look at: nothing in it may reach the advertiser's servers.

Opening a stored ad must not tell its author that the bureau looked, so the page view never
loads anything from elsewhere. Two guards, each enough on its own:

- the response's Content-Security-Policy (``FRAME_CSP``): a sandbox with no script, no form,
  nothing fetched (``default-src 'none'``) except inline styles and ``data:`` images;
- :func:`inert_page` rewrites the HTML before it is served: scripts, frames, plugins, links to
  style sheets or icons, ``<base>`` and ``<meta>`` (a refresh would navigate away) are removed;
  every attribute that names an address (``src``, ``srcset``, ``href``, ``action``, ``poster``,
  ``ping``…) is taken out, except ``data:`` images; ``url(…)`` and ``@import`` in
  styles are disabled. A link keeps its address as a tooltip, so the officer can read it.

A page that is not HTML (a JSON API's answer) is shown as its text, formatted.
"""

from __future__ import annotations

import json
import re

import lxml.html
from lxml import etree

# The framed snapshot: nothing fetched, nothing run, nothing posted; framed by our page only.
FRAME_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)

DROPPED_TAGS = frozenset({
    "script", "noscript", "iframe", "frame", "frameset", "object", "embed", "applet", "link",
    "base", "portal", "template", "audio", "video", "source", "track", "bgsound", "param",
})
ADDRESS_ATTRIBUTES = frozenset({
    "src", "srcset", "href", "action", "formaction", "data", "poster", "background", "ping",
    "codebase", "cite", "longdesc", "lowsrc", "dynsrc", "manifest", "profile", "archive",
    "classid", "imagesrcset", "attributionsrc",
})
_CSS_URL = re.compile(r"url\s*\([^)]*\)?", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_CSS_FETCHING = re.compile(r"image-set\s*\(|expression\s*\(|src\s*\(", re.IGNORECASE)
_DATA_IMAGE = re.compile(r"^\s*data:image/(png|gif|jpeg|webp);", re.IGNORECASE)


def _local(name: str) -> str:
    """An attribute's name without its namespace (``xlink:href`` → ``href``), lower case."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _neutral_css(text: str) -> str:
    """Styles without addresses: ``url(…)`` becomes ``none``, ``@import`` goes, other fetching
    functions are broken (an unknown function voids the declaration)."""
    return _CSS_FETCHING.sub("blocked(", _CSS_URL.sub("none", _CSS_IMPORT.sub("", text)))


def _clean(element: etree._Element) -> None:
    for name in list(element.attrib):
        local = _local(name)
        value = element.attrib[name]
        if local.startswith("on") or local == "http-equiv":
            del element.attrib[name]
        elif local in ADDRESS_ATTRIBUTES:
            del element.attrib[name]
            if local == "src" and element.tag == "img" and _DATA_IMAGE.match(value):
                element.attrib["src"] = value
            elif local == "href" and element.tag in ("a", "area") and value.strip():
                element.attrib["title"] = value.strip()[:500]
        elif local == "style":
            element.attrib[name] = _neutral_css(value)
    if element.tag == "style" and element.text:
        element.text = _neutral_css(element.text)


def _is_html(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:1]
    return head not in ("{", "[")


def inert_page(text: str) -> str:
    """``text`` (a stored page, decoded) as an HTML document that refers to nothing outside it."""
    if not _is_html(text):
        try:
            shown = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        except ValueError:
            shown = text
        pre = etree.Element("pre")
        pre.text = shown
        return "<!DOCTYPE html>\n" + lxml.html.tostring(pre, encoding="unicode")
    if not text.strip():
        return "<!DOCTYPE html>\n<html><body></body></html>"
    try:
        root = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        pre = etree.Element("pre")
        pre.text = text
        return "<!DOCTYPE html>\n" + lxml.html.tostring(pre, encoding="unicode")
    for element in list(root.iter()):
        if not isinstance(element.tag, str):  # comments and processing instructions
            if element.getparent() is not None:
                element.drop_tree()
            continue
        tag = element.tag.rsplit("}", 1)[-1].lower()
        if tag in DROPPED_TAGS or tag == "meta":
            element.drop_tree()
            continue
        _clean(element)
    return "<!DOCTYPE html>\n" + lxml.html.tostring(root, encoding="unicode")
