"""``kind: feed`` and ``kind: sitemap`` configs: what they take, and errors naming the key."""

from __future__ import annotations

import pytest

from crawler.config import ConfigError, parse_source
from crawler.spiders import spider_for
from crawler.spiders.feeds import FeedSourceSpider, SitemapSourceSpider

DETAIL = {"title": "h1.title", "body": "div.content"}


def config(**keys):
    return parse_source({"name": "portal", "start_urls": ["https://portal.example/feed/"],
                         **keys})


def test_a_feed_needs_only_its_url_and_may_read_each_entrys_page():
    feed = config(kind="feed")
    assert (feed.kind, feed.detail, feed.list) == ("feed", {}, {})
    assert issubclass(spider_for(feed), FeedSourceSpider)
    assert config(kind="feed", detail=DETAIL).detail == DETAIL


def test_a_sitemap_takes_follow_patterns_and_detail_selectors():
    sitemap = config(kind="sitemap", follow=[r"/post/\d+\.html$", "/thread-"], detail=DETAIL)
    assert sitemap.follow == (r"/post/\d+\.html$", "/thread-")
    assert issubclass(spider_for(sitemap), SitemapSourceSpider)
    assert config(kind="sitemap", follow="/post/", detail=DETAIL).follow == ("/post/",)


@pytest.mark.parametrize(("keys", "key", "words"), [
    ({"kind": "feed", "list": {"links": "a::attr(href)"}}, "list", "no list pages"),
    ({"kind": "feed", "detail": "h1"}, "detail", "must be a mapping"),
    ({"kind": "feed", "detail": {"title": "h1"}}, "detail.body", "is required"),
    ({"kind": "feed", "detail": {**DETAIL, "body": "div[["}}, "detail.body", "invalid CSS"),
    ({"kind": "feed", "follow": ["/post/"]}, "follow", "only for kind sitemap"),
    ({"kind": "sitemap", "detail": DETAIL}, "follow", "is required"),
    ({"kind": "sitemap", "follow": ["/post/("], "detail": DETAIL}, "follow",
     "invalid regular expression"),
    ({"kind": "sitemap", "follow": ["/post/"]}, "detail", "is required"),
    ({"kind": "sitemap", "follow": [], "detail": DETAIL}, "follow", "non-empty list"),
    ({"kind": "html", "follow": ["/post/"], "list": {"links": "a::attr(href)"},
      "detail": DETAIL}, "follow", "only for kind sitemap"),
    ({"kind": "feed", "render": True}, "render", "only for kind html"),
    ({"kind": "rss"}, "kind", "one of: html, json, feed, sitemap"),
])
def test_a_bad_feed_or_sitemap_config_names_the_key(keys, key, words):
    with pytest.raises(ConfigError, match=f"key '{key}'.*{words}"):
        config(**keys)
