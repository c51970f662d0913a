"""Engine presets: the selectors of a site engine's default templates, so that a source on a
common engine is ``name``, ``engine`` and ``start_urls`` and nothing else.

``engine: discuz_x3 | dedecms | wordpress | phpwind`` in a source config fills in ``kind``,
``list`` and ``detail`` (:func:`apply_engine`, called by ``crawler.config`` before it checks the
config). Any key the file sets overrides the preset's: a top-level key replaces it, a key under
``list`` or ``detail`` replaces that one selector and keeps the others, and ``null`` under
``list`` or ``detail`` removes an optional selector the preset set (``detail: {posted_at: null}``).

Two engines have a lighter JSON interface beside their pages. Its preset is used when every start
URL is that interface (``api/mobile/index.php?...module=forumdisplay`` for Discuz!,
``/wp-json/wp/v2/posts`` or ``?rest_route=/wp/v2/posts`` for WordPress) or when the file says
``kind: json``; otherwise the HTML preset is.

The selectors were written from each engine's public default templates:

- Discuz! X3 (``template/default/forum/forumdisplay_list.htm``, ``viewthread_node.htm``): thread
  rows ``tbody[id=normalthread_TID|stickthread_TID]`` with the link ``a.s.xst``; the pager
  ``div.pg a.nxt``; the subject ``#thread_subject``; each post's body ``td.t_f#postmessage_PID``
  and date ``em#authorposton_PID`` (a recent date is
  ``<span title="2026-11-1 09:00">3 天前</span>``, hence the title first). The first
  ``td.t_f`` is the thread's own post; replies are not the ad.
  The mobile API (``source/plugin/mobile/api/4/forumdisplay.php``, ``viewthread.php``) answers
  ``Variables.forum_threadlist[].tid`` and ``Variables.thread.subject`` with
  ``Variables.postlist[]`` (``first`` is ``"1"`` on the thread's own post).
- DedeCMS 5.7 (``templets/default/list_article.htm``, ``article_article.htm``): list rows
  ``div.listbox ul.e2 li a.title``, the pager ``ul.pagelist`` whose next link reads 下一页, the
  article ``div.viewbox`` with ``div.title h2``, ``div.info`` (时间:...) and ``div.content``.
  The V5.8 default (``div.list-items tr.article td.line a``, ``div.show-block h4.title``) is
  matched too.
- WordPress: classic themes (``h2.entry-title a``, ``a.next.page-numbers`` or
  ``.nav-previous a``, ``h1.entry-title``, ``div.entry-content``, ``time.entry-date@datetime``) and
  block themes (``.wp-block-post-title``, ``.wp-block-query-pagination-next``,
  ``.wp-block-post-content``, ``.wp-block-post-date time``). REST API: ``GET /wp/v2/posts`` is an
  array of ``{id, date, title.rendered, content.rendered}``, paged by ``page`` (``per_page``
  items, default 10), one post at ``/wp/v2/posts/{id}``.
- phpwind 8 (``template/wind/thread.htm``, ``read.htm``): thread links ``a.subject_t``
  (``name="readlink"``), the pager ``div.pages`` (the current page is a ``<b>``, the next page the
  link after it; ``&raquo;``, class ``b``, is the last page), the subject ``#subject_tpc``, the
  first post's body ``#read_tpc`` (replies are ``#read_PID``) and its date in the first
  ``div.tiptop`` (``发表于: 2026-11-01 09:00``).
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlsplit

ENGINES = ("discuz_x3", "dedecms", "wordpress", "phpwind")

# An XPath test for one class among several in @class.
_CLASS = "contains(concat(' ', normalize-space(@class), ' '), ' {} ')"


def _has_class(name: str) -> str:
    return _CLASS.format(name)


_FIRST_DISCUZ_DATE = "(//em[starts-with(@id, 'authorposton')])[1]"

HTML_PRESETS: dict[str, dict[str, Any]] = {
    "discuz_x3": {
        "list": {
            "links": "#threadlisttableid tbody[id*=thread_] a.xst::attr(href)",
            "next": "div.pg a.nxt::attr(href)",
        },
        "detail": {
            "title": "#thread_subject::text",
            "body": f"xpath:(//td[{_has_class('t_f')}])[1]",
            "posted_at": f"xpath:{_FIRST_DISCUZ_DATE}/span/@title | {_FIRST_DISCUZ_DATE}/text()",
        },
    },
    "dedecms": {
        "list": {
            "links": "div.listbox ul.e2 li a.title::attr(href), "
                     "div.list-items tr.article td.line a::attr(href)",
            "next": f"xpath://*[{_has_class('pagelist')} or {_has_class('pages')}]"
                    "//a[normalize-space() = '下一页']/@href",
        },
        "detail": {
            "title": "div.viewbox div.title h2::text, div.show-block h4.title::text",
            "body": "div.viewbox div.content, div.show-block div.content",
            "posted_at": "div.viewbox div.info, div.show-block div.info",
        },
    },
    "wordpress": {
        "list": {
            "links": ".entry-title a::attr(href), .wp-block-post-title a::attr(href)",
            "next": "a.next.page-numbers::attr(href), .nav-previous a::attr(href), "
                    "a.wp-block-query-pagination-next::attr(href)",
        },
        "detail": {
            "title": f"xpath:(//h1[{_has_class('entry-title')} or "
                     f"{_has_class('wp-block-post-title')}])[1]",
            "body": f"xpath:(//div[{_has_class('entry-content')} or "
                    f"{_has_class('wp-block-post-content')}])[1]",
            "posted_at": f"xpath:(//time[{_has_class('entry-date')}]/@datetime | "
                         f"//div[{_has_class('wp-block-post-date')}]/time/@datetime)[1]",
        },
    },
    "phpwind": {
        "list": {
            "links": "a.subject_t::attr(href)",
            "next": f"xpath:(//div[{_has_class('pages')}])[1]/b/following-sibling::a[1]"
                    "[not(@class = 'b')]/@href",
        },
        "detail": {
            "title": "#subject_tpc::text",
            "body": "#read_tpc",
            "posted_at": f"xpath:(//div[{_has_class('tiptop')}])[1]",
        },
    },
}


def _discuz_json(start_url: str) -> dict[str, Any]:
    return {
        "list": {
            "items": "Variables.forum_threadlist",
            # Relative to .../api/mobile/index.php, so a forum installed under /bbs/ works too.
            "link": "index.php?version=4&module=viewthread&tid={tid}",
            # Discuz says how many threads a page holds (tpp), not whether there are more.
            "next": {"param": "page",
                     "while": "length(Variables.forum_threadlist) >= to_number(Variables.tpp)"},
        },
        "detail": {
            "title": "Variables.thread.subject",
            "body": "Variables.postlist[?first == '1'] | [0].message",
            "posted_at": "Variables.postlist[?first == '1'] | [0].dateline",
        },
    }


def _wordpress_json(start_url: str) -> dict[str, Any]:
    parts = urlsplit(start_url)
    query = parse_qs(parts.query)
    per_page = query.get("per_page", ["10"])[0]
    per_page = per_page if per_page.isdigit() else "10"
    if "/wp-json/" in parts.path:
        base = parts.path[: parts.path.index("/wp/v2/posts") + len("/wp/v2/posts")]
        link = f"{base}/{{id}}"
    else:  # ?rest_route=/wp/v2/posts, for sites without pretty permalinks
        link = f"{parts.path or '/'}?rest_route=/wp/v2/posts/{{id}}"
    return {
        "list": {
            "items": "@",
            "link": link,
            # A full page may have a successor; WordPress sends the page count only in a header.
            "next": {"param": "page", "while": f"length(@) >= `{per_page}`"},
        },
        "detail": {
            "title": "title.rendered",
            "body": "content.rendered",
            "posted_at": "date",
        },
    }


def _is_discuz_api(url: str) -> bool:
    parts = urlsplit(url)
    return parts.path.endswith("api/mobile/index.php") and "module" in parse_qs(parts.query)


def _is_wordpress_api(url: str) -> bool:
    parts = urlsplit(url)
    if "/wp-json/wp/v2/posts" in parts.path:
        return True
    return any(route.startswith("/wp/v2/posts")
               for route in parse_qs(parts.query).get("rest_route", []))


# engine: (does a URL call the JSON interface, the JSON preset for a start URL)
JSON_PRESETS = {
    "discuz_x3": (_is_discuz_api, _discuz_json),
    "wordpress": (_is_wordpress_api, _wordpress_json),
}


class EngineError(ValueError):
    """An ``engine`` the presets cannot serve; ``key`` is the config key at fault."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(problem)
        self.key = key


def preset_for(engine: str, start_urls: list[str], kind: str | None) -> dict[str, Any]:
    """The preset keys (``kind``, ``list``, ``detail``) of ``engine`` for these start URLs."""
    if engine not in ENGINES:
        raise EngineError("engine", f"unknown engine {engine!r} (one of: {', '.join(ENGINES)})")
    is_api, json_preset = JSON_PRESETS.get(engine, (None, None))
    api_urls = [url for url in start_urls if is_api and is_api(url)]
    if kind == "json" or (kind is None and start_urls and len(api_urls) == len(start_urls)):
        if json_preset is None:
            raise EngineError("kind", f"engine {engine!r} has no JSON interface; use kind html")
        if not api_urls:
            raise EngineError("start_urls", f"kind json with engine {engine!r} needs start URLs "
                                            f"of its JSON interface")
        return {"kind": "json", **json_preset(api_urls[0])}
    if api_urls:
        raise EngineError("start_urls", f"mixes {engine!r} pages and its JSON interface "
                                        f"({api_urls[0]}); use one or the other")
    return {"kind": "html", **copy.deepcopy(HTML_PRESETS[engine])}


def _merge_section(preset: dict[str, Any], written: Any) -> Any:
    """A ``list``/``detail`` mapping: the file's keys over the preset's. A ``null`` is kept, so
    that the merge can be applied again; :func:`without_nulls` removes it before use."""
    if not isinstance(written, dict):
        return written  # not a mapping: left for the config check to name
    return {**preset, **written}


def without_nulls(section: Any) -> Any:
    """A merged ``list``/``detail`` mapping without the preset selectors the file removed."""
    if not isinstance(section, dict):
        return section
    return {key: value for key, value in section.items() if value is not None}


def apply_engine(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with its ``engine``'s preset filled in under the keys the file did not set.

    A mapping without ``engine`` comes back unchanged. Raises :class:`EngineError` naming the
    key at fault. Applying it again to its own result changes nothing, so a config stored with
    its preset filled in reads back the same.
    """
    if "engine" not in data:
        return data
    engine = data["engine"]
    if not isinstance(engine, str) or not engine.strip():
        raise EngineError("engine", f"must be one of: {', '.join(ENGINES)}, got {engine!r}")
    urls = data.get("start_urls")
    urls = [urls] if isinstance(urls, str) else urls
    urls = [u.strip() for u in urls if isinstance(u, str)] if isinstance(urls, list) else []
    kind = data.get("kind") if isinstance(data.get("kind"), str) else None
    preset = preset_for(engine.strip(), urls, kind)
    merged = dict(data)
    merged.setdefault("kind", preset["kind"])
    for section in ("list", "detail"):
        merged[section] = (_merge_section(preset[section], data[section])
                           if section in data else preset[section])
    return merged


__all__ = ["ENGINES", "EngineError", "apply_engine", "preset_for", "without_nulls"]
