"""Feeds and sitemaps end to end with the real command line: an RSS feed whose entries are the
ads, an Atom feed whose entries' pages are read, and a sitemap index reached from robots.txt
whose post URLs (and nothing else) are crawled; a second crawl fetches no stored post again."""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from crawler.sandbox import load_posts
from crawler.sandbox.discovery import FEED_SIZE, start_portal
from crawler.text import clean_text

pytestmark = pytest.mark.slow
CHINA = timezone(timedelta(hours=8))
DETAIL = "detail:\n  title: h1.title\n  body: div.content\n  posted_at: span.date\n"


@pytest.fixture
def portals() -> Iterator[dict]:
    handles = {name: start_portal() for name in ("rss", "atom", "sitemap")}
    yield handles
    for handle in handles.values():
        handle.stop()


def comparable(text: str) -> str:
    return unicodedata.normalize("NFC", clean_text(text))


def test_feeds_and_sitemaps_crawl_their_ads_once_and_incrementally(portals, tutorwatch,
                                                                   tmp_path):
    sources = {
        "rss": f'kind: feed\nstart_urls: ["{portals["rss"].url}/feed/"]\n',
        "atom": f'kind: feed\nstart_urls: ["{portals["atom"].url}/feed/atom/"]\n{DETAIL}',
        "sitemap": (f'kind: sitemap\nstart_urls: ["{portals["sitemap"].url}/robots.txt"]\n'
                    f'follow: ["/post/\\\\d+\\\\.html$"]\n{DETAIL}'),
    }
    args = []
    for name, text in sources.items():
        path = tmp_path / f"portal_{name}.yaml"
        path.write_text(f"name: portal_{name}\n{text}", encoding="utf-8")
        args += ["--source", str(path)]
    tutorwatch("migrate", "-v", "0")
    out = tutorwatch("crawl", *args).stdout.decode()
    assert out.count(": finished;") == 3, out

    ads = [json.loads(line) for line in tutorwatch(
        "export", "--format", "jsonl", "-o", "-").stdout.decode().splitlines()]
    by_source = Counter(ad["source"] for ad in ads)
    posts = load_posts("forum")
    newest = sorted(posts, key=lambda p: p["posted_at"], reverse=True)[:FEED_SIZE]
    assert by_source == {"portal_rss": FEED_SIZE, "portal_atom": FEED_SIZE,
                         "portal_sitemap": len(posts)}
    by_key = {(ad["source"], ad["title"]): ad for ad in ads}
    for source, posts_of in (("portal_rss", newest), ("portal_atom", newest),
                             ("portal_sitemap", posts)):
        for post in posts_of:
            ad = by_key[(source, comparable(post["title"]).replace("\n", " "))]
            # The feed's full content (content:encoded), or the entry's page: never the excerpt.
            assert ad["text"] == comparable(post["body"]), (source, ad["url"])
            when = datetime.strptime(post["posted_at"], "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)
            assert datetime.fromisoformat(ad["posted_at"]) == when, (source, ad["url"])
            assert ad["url"].endswith(f"/post/{post['id']}.html")
    # The RSS source read no page: its entries were the ads. The sitemap's other pages (about,
    # contact, tags) were not fetched, and no post page twice.
    assert [h for h in portals["rss"].hits if h.startswith("/post/")] == []
    sitemap_hits = Counter(portals["sitemap"].hits)
    assert not any(h.startswith(("/about", "/contact", "/tag/")) for h in sitemap_hits)
    assert {"/robots.txt", "/sitemap.xml", "/sitemap-posts.xml"} <= set(sitemap_hits)
    # robots.txt is read twice: for its rules, and as the source's start for its Sitemap line.
    assert sitemap_hits["/robots.txt"] == 2
    assert max(n for h, n in sitemap_hits.items() if h != "/robots.txt") == 1

    # Again: the stored ads are not due, so no post page is fetched a second time.
    before = {name: len(handle.hits) for name, handle in portals.items()}
    again = tutorwatch("crawl", *args).stdout.decode()
    for name in ("atom", "sitemap"):
        new_hits = portals[name].hits[before[name]:]
        assert new_hits and not any(h.startswith("/post/") for h in new_hits), new_hits
    assert again.count("stored earlier and not due 10") == 1, again  # atom
    assert f"stored earlier and not due {len(posts)}" in again  # sitemap
