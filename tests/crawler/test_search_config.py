"""``search:`` in a source config: the URL template, the terms, the pages, errors naming the key;
the default terms come from DOMAIN.md's disguises."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import ConfigError, parse_source
from crawler.search import DEFAULT_TERMS, merged_terms, search_url
from crawler.spiders import spider_for
from crawler.spiders.search import SearchMixin

URL = "https://bbs.county.example/search.php?mod=forum&srchtxt={q}&page={page}"
BASE = {"name": "county", "kind": "html", "list": {"links": "h3 a::attr(href)"},
        "detail": {"title": "h1", "body": "td.t_f"}}
DOMAIN = Path("/work/shared/DOMAIN.md")


def config(search, **extra):
    return parse_source({**BASE, "search": search, **extra})


def test_a_search_may_replace_the_start_pages_and_names_its_domain():
    source = config({"url": URL, "terms": ["托管", " 自习室 "], "pages": 2})
    assert source.start_urls == () and source.allowed_domains == ("bbs.county.example",)
    assert source.search == {"url": URL, "terms": ("托管", "自习室"), "pages": 2}
    assert issubclass(spider_for(source), SearchMixin)
    beside = config({"url": URL}, start_urls=["https://bbs.county.example/forum-36-1.html"])
    assert beside.search["terms"] == () and beside.search["pages"] == 3
    assert not issubclass(spider_for(parse_source({**BASE, "start_urls": ["https://x.example/"]})),
                          SearchMixin)


def test_terms_are_encoded_into_the_url_and_default_to_domain_md_disguises():
    assert search_url(URL, "一对一 辅导", 2).endswith("srchtxt=%E4%B8%80%E5%AF%B9%E4%B8%80%20"
                                                   "%E8%BE%85%E5%AF%BC&page=2")
    assert merged_terms((), ["晚辅", "托管"]) == [*DEFAULT_TERMS, "晚辅"]
    assert merged_terms(("托管",), ["家教"]) == ["托管"]  # a source's own terms are its list
    for term in ("托管", "自习室", "一对一", "住家教师", "幼小衔接"):
        assert term in DEFAULT_TERMS
    if DOMAIN.is_file():
        text = DOMAIN.read_text(encoding="utf-8")
        assert [t for t in DEFAULT_TERMS if t not in text] == []


@pytest.mark.parametrize(("search", "key", "words"), [
    ("托管", "search", "must be a mapping"),
    ({"terms": ["托管"]}, "search.url", "is required"),
    ({"url": "https://x.example/search?page={page}"}, "search.url", "no {q}"),
    ({"url": "https://x.example/search?q={q}&p={p}"}, "search.url", "only {q} and {page}"),
    ({"url": "ftp://x.example/{q}"}, "search.url", "not an http"),
    ({"url": "https://x.example/s?q={q}", "pages": 2}, "search.url", "no {page}"),
    ({"url": URL, "pages": 0}, "search.pages", "at least 1"),
    ({"url": URL, "terms": []}, "search.terms", "non-empty list"),
    ({"url": URL, "terms": ["托管", ""]}, "search.terms", "non-empty list"),
    ({"url": URL, "term": ["托管"]}, "search.term", "unknown key"),
])
def test_a_bad_search_names_the_key(search, key, words):
    with pytest.raises(ConfigError, match=f"key '{key}'.*{words}"):
        config(search)


def test_search_is_for_html_sources_and_start_urls_are_needed_without_it():
    with pytest.raises(ConfigError, match="key 'search'.*only for kind html"):
        parse_source({**BASE, "kind": "json", "search": {"url": URL}})
    with pytest.raises(ConfigError, match="key 'start_urls': is required"):
        parse_source(BASE)
