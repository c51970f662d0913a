"""Source configs: load a site's YAML, check every key, and say exactly what is wrong.

A config that fails any check raises :class:`ConfigError`, whose message is one line naming the
file, the line and the key, so that a broken config crawls nothing. The accepted shape is the one
in ARCHITECTURE.md ("Source config"); see also the README.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jmespath
import jmespath.exceptions
import yaml
from lxml import etree
from parsel.csstranslator import HTMLTranslator

from crawler.engines import EngineError, apply_engine, without_nulls

KINDS = ("html", "json", "feed", "sitemap")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
BUNDLED_DIR = Path(__file__).resolve().parent / "sources"

_TOP_KEYS = {
    "name", "kind", "start_urls", "allowed_domains", "encoding", "schedule", "recheck",
    "max_pages", "list", "detail", "description", "render", "source_type", "engine",
    "backoff", "follow", "search", "region",
}
_HTML_LIST_KEYS = {"links", "next"}
_JSON_LIST_KEYS = {"items", "link", "next"}
_DETAIL_KEYS = {"title", "body", "posted_at", "contact"}
_css_translator = HTMLTranslator()


class ConfigError(ValueError):
    """A source config that cannot be used. ``str(error)`` is one line naming the problem."""

    def __init__(self, message: str) -> None:
        # Keys and values quoted from the file may hold line breaks or other control characters.
        super().__init__("".join(
            ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
            for ch in str(message)
        ))


@dataclass(frozen=True)
class SourceConfig:
    """A checked source config. ``raw`` keeps the mapping as written, for the store, with an
    ``engine`` preset's keys filled in (``crawler.engines``) so that the store holds what is
    crawled."""

    name: str
    kind: str
    start_urls: tuple[str, ...]
    allowed_domains: tuple[str, ...]
    list: dict[str, Any]
    detail: dict[str, str]
    encoding: str | None = None
    schedule: str | None = None
    recheck: str | None = None
    max_pages: int | None = None
    render: bool = False
    # Hours a source rests after its first blocked run, doubled at each one after, at most the
    # second (``review_ui.blocks``).
    backoff: tuple[float, float] = (1.0, 24.0)
    # kind sitemap: regular expressions of its ad URLs (``crawler.spiders.feeds``)
    follow: tuple[str, ...] = ()
    # The site search to run (``crawler.search``): {"url", "terms", "pages"}; None for none.
    search: dict[str, Any] | None = None
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _line_map(text: str) -> dict[str, int]:
    """Map dotted key paths (``list.links``) to 1-based line numbers in the YAML text."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                path = f"{prefix}{key_node.value}"
                lines[path] = key_node.start_mark.line + 1
                walk(value_node, path + ".")

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines
    if root is not None:
        walk(root, "")
    return lines


class _Checker:
    def __init__(self, origin: str, lines: dict[str, int]) -> None:
        self.origin = origin
        self.lines = lines

    def fail(self, key: str, problem: str) -> ConfigError:
        parts = key.split(".")
        line = None
        while parts and line is None:
            line = self.lines.get(".".join(parts))
            parts.pop()
        where = f"{self.origin}:{line}" if line else self.origin
        return ConfigError(f"{where}: key '{key}': {problem}")

    def string(self, data: dict, key: str, path: str, required: bool = True) -> str | None:
        if key not in data or data[key] is None:
            if required:
                raise self.fail(path, "is required")
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"must be a non-empty string, got {type(value).__name__}")
        return value.strip()

    def url_list(self, data: dict, key: str, required: bool) -> tuple[str, ...]:
        value = data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is required")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(key, "must be a non-empty list of strings")
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.fail(key, "must be a non-empty list of strings")
        return tuple(item.strip() for item in value)

    def unknown(self, data: dict, allowed: set[str], prefix: str) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )

    def selector(self, expr: str, path: str) -> None:
        """Check a Scrapy selector: CSS (with ::text / ::attr()) or ``xpath:`` prefixed XPath."""
        if expr.startswith("xpath:"):
            query = expr[len("xpath:"):].strip()
            if not query:
                raise self.fail(path, "empty XPath after 'xpath:'")
            try:
                etree.XPath(query)
            except etree.XPathSyntaxError as exc:
                raise self.fail(path, f"invalid XPath {query!r}: {exc}") from None
            return
        try:
            _css_translator.css_to_xpath(expr)
        except Exception as exc:  # cssselect raises several unrelated types
            raise self.fail(path, f"invalid CSS selector {expr!r}: {exc}") from None

    def jmespath(self, expr: str, path: str) -> None:
        try:
            jmespath.compile(expr)
        except jmespath.exceptions.JMESPathError as exc:
            message = str(exc).splitlines()[0]
            raise self.fail(path, f"invalid JMESPath {expr!r}: {message}") from None


CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
_CRON_ARGS = ("minute", "hour", "day", "month", "day_of_week")


def check_cron(expr: str) -> None:
    """Raise ValueError, naming the field at fault, when ``expr`` is not a five-field crontab
    expression (minute hour day-of-month month day-of-week)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(
            f"it has {len(fields)} fields, a cron expression has 5 ({', '.join(CRON_FIELDS)})"
        )
    named_fields = zip(CRON_FIELDS, _CRON_ARGS, fields, strict=True)
    for number, (label, arg, value) in enumerate(named_fields, 1):
        try:
            CronTrigger(**{arg: value}, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"field {number} ({label}) {value!r}: {exc}") from None
    cron_trigger(expr)


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _crontab_weekdays(field_value: str) -> str:
    """Crontab counts weekdays from Sunday (0 or 7); APScheduler 3 from Monday. Name them."""
    out = []
    for token in field_value.split(","):
        body, slash, step = token.partition("/")
        start, dash, end = body.partition("-")
        if start.isdigit() and (not dash or end.isdigit()) and int(start) <= 7 and (
            not dash or int(end) <= 7
        ):
            first, last = int(start), int(end) if dash else None
            if last is not None and first == 0 and last > 0 and not slash:
                out.append("sun")  # "0-5": Sunday, then Monday to Friday
                first = 1
            named = _WEEKDAYS[first] + (f"-{_WEEKDAYS[last]}" if last is not None else "")
            if last is not None and first == last:
                named = _WEEKDAYS[first]
            out.append(named + (slash + step if slash else ""))
        else:
            out.append(token)
    return ",".join(out)


def cron_trigger(expr: str, timezone: Any = None) -> Any:
    """An APScheduler ``CronTrigger`` for a five-field crontab expression, with crontab's
    weekday numbers (0 and 7 are Sunday)."""
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = expr.split()
    return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                       day_of_week=_crontab_weekdays(weekday), timezone=timezone)


def _backoff(check: _Checker, value: Any) -> tuple[float, float]:
    """``backoff: {first_hours: 1, max_hours: 24}``: how long a blocked source rests."""
    if value is None:
        return SourceConfig.backoff
    if not isinstance(value, dict):
        raise check.fail("backoff", "must be a mapping {first_hours: ..., max_hours: ...}")
    check.unknown(value, {"first_hours", "max_hours"}, "backoff.")
    hours = dict(zip(("first_hours", "max_hours"), SourceConfig.backoff, strict=True))
    for key in hours:
        given = value.get(key, hours[key])
        if isinstance(given, bool) or not isinstance(given, (int, float)) or not given > 0:
            raise check.fail(f"backoff.{key}", f"must be a number of hours above 0, got {given!r}")
        hours[key] = float(given)
    if hours["max_hours"] < hours["first_hours"]:
        raise check.fail("backoff.max_hours", "must not be less than backoff.first_hours")
    return hours["first_hours"], hours["max_hours"]


def _search(check: _Checker, value: Any, kind: str) -> dict[str, Any] | None:
    """``search: {url: "...?key={q}&page={page}", terms: [...], pages: 3}`` (``crawler.search``)."""
    from crawler.search import DEFAULT_PAGES

    if value is None:
        return None
    if kind != "html":
        raise check.fail("search", "is only for kind html (result pages read with list.links)")
    if not isinstance(value, dict):
        raise check.fail("search", "must be a mapping {url: ..., terms: [...], pages: ...}")
    check.unknown(value, {"url", "terms", "pages"}, "search.")
    url = check.string(value, "url", "search.url")
    if "{q}" not in url:
        raise check.fail("search.url", f"URL template {url!r} has no {{q}} for the term")
    filled = url.replace("{q}", "x").replace("{page}", "1")
    if "{" in filled or "}" in filled:
        raise check.fail("search.url", f"URL template {url!r}: only {{q}} and {{page}} are filled")
    parts = urlsplit(filled)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise check.fail("search.url", f"not an http(s) URL: {url!r}")
    terms = value.get("terms")
    if terms is not None:
        if isinstance(terms, str):
            terms = [terms]
        if not isinstance(terms, list) or not terms or not all(
                isinstance(t, str) and t.strip() for t in terms):
            raise check.fail("search.terms", "must be a non-empty list of terms (or leave it "
                             "out for the default terms and those added in the admin)")
    pages = value.get("pages", DEFAULT_PAGES)
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise check.fail("search.pages", f"must be a whole number of at least 1, got {pages!r}")
    if pages > 1 and "{page}" not in url:
        raise check.fail("search.url", f"URL template {url!r} has no {{page}}, and pages is "
                         f"{pages}")
    return {"url": url, "terms": tuple(t.strip() for t in terms or ()), "pages": pages}


def _follow(check: _Checker, data: dict, kind: str) -> tuple[str, ...]:
    """``follow``: the regular expressions a ``kind: sitemap`` source's ad URLs match."""
    if kind != "sitemap":
        if "follow" in data:
            raise check.fail("follow", "is only for kind sitemap (the ad URLs of its sitemaps)")
        return ()
    patterns = check.url_list(data, "follow", required=True)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise check.fail("follow", f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns


def _feed_or_sitemap(check: _Checker, data: dict, kind: str) -> tuple[dict, dict]:
    """The ``detail`` selectors of a feed (optional: without them an entry is the ad) or a
    sitemap (required); neither has list pages, so no ``list``."""
    if data.get("list") is not None:
        what = "its entries" if kind == "feed" else "its URLs matching follow"
        raise check.fail("list", f"kind {kind} has no list pages ({what} are the ads); remove it")
    detail = data.get("detail")
    if detail is None and kind == "feed":
        return {}, {}
    if not isinstance(detail, dict):
        raise check.fail("detail", "is required and must be a mapping" if kind == "sitemap"
                         else "must be a mapping of selectors for the entries' pages")
    check.unknown(detail, _DETAIL_KEYS, "detail.")
    check.string(detail, "title", "detail.title")
    check.string(detail, "body", "detail.body")
    for key in detail:
        check.selector(check.string(detail, key, f"detail.{key}"), f"detail.{key}")
    return {}, dict(detail)


def parse_source(data: Any, origin: str = "<config>", text: str = "") -> SourceConfig:
    """Check a loaded YAML mapping and build a :class:`SourceConfig`."""
    check = _Checker(origin, _line_map(text) if text else {})
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin}: the config must be a YAML mapping of keys, got {type(data).__name__}"
        )
    check.unknown(data, _TOP_KEYS, "")
    try:
        data = apply_engine(data)
    except EngineError as exc:
        raise check.fail(exc.key, str(exc)) from None

    name = check.string(data, "name", "name")
    if not NAME_RE.match(name):
        raise check.fail("name", "must be lower-case letters, digits, '_' or '-' (at most 64)")
    kind = check.string(data, "kind", "kind")
    if kind not in KINDS:
        raise check.fail("kind", f"unknown kind {kind!r} (one of: {', '.join(KINDS)})")

    search = _search(check, data.get("search"), kind)
    start_urls = check.url_list(data, "start_urls", required=search is None)
    for url in start_urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise check.fail("start_urls", f"not an http(s) URL: {url!r}")
    allowed = check.url_list(data, "allowed_domains", required=False)
    if not allowed:
        searched = (search["url"],) if search else ()
        allowed = tuple(dict.fromkeys(urlsplit(url).hostname for url in start_urls + searched))

    encoding = check.string(data, "encoding", "encoding", required=False)
    if encoding:
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise check.fail("encoding", f"unknown encoding {encoding!r}") from None

    crons: dict[str, str | None] = {}
    for key in ("schedule", "recheck"):
        crons[key] = check.string(data, key, key, required=False)
        if crons[key]:
            try:
                check_cron(crons[key])
            except ValueError as exc:
                raise check.fail(
                    key, f"source {name!r}: not a valid cron expression {crons[key]!r}: {exc}"
                ) from None

    max_pages = data.get("max_pages")
    if max_pages is not None and (
        isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1
    ):
        raise check.fail("max_pages", f"must be a whole number of at least 1, got {max_pages!r}")

    source_type = check.string(data, "source_type", "source_type", required=False)
    if source_type:
        from classifier.registers import SOURCE_TYPES  # the registers of the labeled corpus

        if source_type not in SOURCE_TYPES:
            raise check.fail(
                "source_type",
                f"unknown register {source_type!r} (one of: {', '.join(SOURCE_TYPES)})",
            )

    region = check.string(data, "region", "region", required=False)
    if region:
        from review_ui.store import region_problem  # the divisions' data, loaded only here

        problem = region_problem(region)
        if problem:
            raise check.fail("region", problem)

    render = data.get("render", False)
    if not isinstance(render, bool):
        raise check.fail("render", f"must be true or false, got {render!r}")
    if render and kind != "html":
        raise check.fail("render", "rendering with a browser is only for kind html")

    backoff = _backoff(check, data.get("backoff"))

    follow = _follow(check, data, kind)
    if kind in ("feed", "sitemap"):
        listing, detail = _feed_or_sitemap(check, data, kind)
        return SourceConfig(
            name=name, kind=kind, start_urls=start_urls, allowed_domains=allowed,
            list=listing, detail=detail, encoding=encoding, schedule=crons["schedule"],
            recheck=crons["recheck"], max_pages=max_pages, render=render, backoff=backoff,
            follow=follow, path=origin, raw=data,
        )

    listing = data.get("list")
    if not isinstance(listing, dict):
        raise check.fail("list", "is required and must be a mapping")
    detail = data.get("detail")
    if "engine" in data:  # a null there removes one of the preset's selectors
        listing, detail = without_nulls(listing), without_nulls(detail)
    if not isinstance(detail, dict):
        raise check.fail("detail", "is required and must be a mapping")
    check.unknown(detail, _DETAIL_KEYS, "detail.")
    check.string(detail, "title", "detail.title")
    check.string(detail, "body", "detail.body")

    if kind == "html":
        check.unknown(listing, _HTML_LIST_KEYS, "list.")
        check.string(listing, "links", "list.links")
        check.string(listing, "next", "list.next", required=False)
        for key, expr in listing.items():
            if expr is not None:  # an empty optional key ("next:") means none
                check.selector(expr, f"list.{key}")
        for key in detail:
            expr = check.string(detail, key, f"detail.{key}")
            check.selector(expr, f"detail.{key}")
    else:
        check.unknown(listing, _JSON_LIST_KEYS, "list.")
        items = check.string(listing, "items", "list.items")
        check.jmespath(items, "list.items")
        link = check.string(listing, "link", "list.link")
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(link) if f is not None]
        except ValueError as exc:
            raise check.fail("list.link", f"invalid URL template {link!r}: {exc}") from None
        if not fields:
            raise check.fail(
                "list.link", f"URL template {link!r} names no item field, like {{postId}}"
            )
        nxt = listing.get("next")
        if nxt is not None:
            if not isinstance(nxt, dict):
                raise check.fail("list.next", "must be a mapping {param: ..., while: ...}")
            check.unknown(nxt, {"param", "while"}, "list.next.")
            check.string(nxt, "param", "list.next.param")
            check.jmespath(check.string(nxt, "while", "list.next.while"), "list.next.while")
        for key in detail:
            check.jmespath(check.string(detail, key, f"detail.{key}"), f"detail.{key}")

    return SourceConfig(
        search=search,
        name=name,
        kind=kind,
        start_urls=start_urls,
        allowed_domains=allowed,
        list=dict(listing),
        detail=dict(detail),
        encoding=encoding,
        schedule=crons["schedule"],
        recheck=crons["recheck"],
        max_pages=max_pages,
        render=render,
        backoff=backoff,
        path=origin,
        raw=data,
    )


def load_source(path: str | Path) -> SourceConfig:
    """Read and check one source YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return parse_source_text(text, origin=str(path))


def parse_source_text(text: str, origin: str = "<config>") -> SourceConfig:
    """Check a config given as YAML text (JSON is YAML too), as ``load_source`` checks a file:
    errors name ``origin``, the line and the key."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{origin}:{mark.line + 1}" if mark else origin
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    return parse_source(data, origin=origin, text=text)


def load_sources(paths: list[Path]) -> dict[str, SourceConfig]:
    """Load several files; two sources with one name is an error naming both files."""
    sources: dict[str, SourceConfig] = {}
    for path in paths:
        config = load_source(path)
        if config.name in sources:
            raise ConfigError(
                f"{path}: key 'name': duplicate source name {config.name!r} "
                f"(also in {sources[config.name].path})"
            )
        sources[config.name] = config
    return sources


def bundled_sources(directory: Path = BUNDLED_DIR) -> dict[str, SourceConfig]:
    """Every source shipped under ``crawler/sources/``, by name."""
    return load_sources(sorted(directory.glob("*.yaml")))
