"""Search-driven discovery end to end with the real command line: a source that is only a site
search, with the default terms plus one a supervisor added, crawls each result once however
many terms find it, records which terms found what on its run, and `tutorwatch try` reads its
first result page."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from crawler.sandbox import load_posts
from crawler.sandbox.discovery import start_portal
from crawler.search import DEFAULT_TERMS

pytestmark = pytest.mark.slow
RUN = ("import json; from review_ui.models import CrawlRun; r = CrawlRun.objects.get(); "
       "print(json.dumps([r.status, r.stats]))")


@pytest.fixture
def portal() -> Iterator:
    handle = start_portal()
    yield handle
    handle.stop()


def search_source(tmp_path, portal, extra: str = "") -> str:
    path = tmp_path / "county_search.yaml"
    path.write_text(
        "name: county_search\nkind: html\n"
        f'search:\n  url: "{portal.url}/search?key={{q}}&page={{page}}"\n  pages: 2\n{extra}'
        'list:\n  links: "ul.results a.t::attr(href)"\n'
        "detail:\n  title: h1.title\n  body: div.content\n  posted_at: span.date\n",
        encoding="utf-8")
    return str(path)


def test_a_search_source_crawls_each_result_once_and_records_the_terms(portal, tutorwatch,
                                                                        tmp_path):
    posts = load_posts("forum")
    tutorwatch("migrate", "-v", "0")
    tutorwatch("shell", "-c", "from review_ui.search_terms import SearchTerm; "
               "SearchTerm.objects.create(term='补习')")
    done = tutorwatch("crawl", "--source", search_source(tmp_path, portal))
    assert "county_search: finished;" in done.stdout.decode()

    terms = [*DEFAULT_TERMS, "补习"]
    expected = {p["id"]: {t for t in terms if t in p["title"] or t in p["body"]} for p in posts}
    expected = {pid: found for pid, found in expected.items() if found}
    assert len(expected) >= 10 and any(len(found) >= 3 for found in expected.values())
    hits = Counter(portal.hits)
    # Every term was asked, the supervisor's too; a term with more than one page of results
    # was asked for its second page, and none for a third (pages: 2).
    for term in terms:
        assert hits[f"/search?key={quote(term)}&page=1"] == 1, term
    assert hits[f"/search?key={quote('一对一')}&page=2"] == 1
    assert not any(h.endswith("&page=3") for h in hits)
    # Each result was fetched once, however many terms found it, and nothing else.
    fetched = {h for h in hits if h.startswith("/post/")}
    assert fetched == {f"/post/{pid}.html" for pid in expected}
    assert all(hits[h] == 1 for h in fetched)

    status, stats = json.loads(tutorwatch("shell", "-c", RUN).stdout.decode().splitlines()[-1])
    assert status == "finished"
    found_by = {url.rsplit("/", 1)[1]: set(found) for url, found in
                stats["tutorwatch/search/found_by"].items()}
    assert found_by == {f"{pid}.html": found for pid, found in expected.items()}
    assert stats["tutorwatch/search/results"]["补习"] == sum("补习" in f for f in expected.values())

    tried = tutorwatch("try", "--source", search_source(tmp_path, portal), check=False)
    out = tried.stdout.decode()
    assert tried.returncode == 0, out + tried.stderr.decode()
    assert f"/search?key={quote(DEFAULT_TERMS[0])}&page=1" in out
    first = next(p for p in sorted(expected) if DEFAULT_TERMS[0] in expected[p])
    title = next(p["title"] for p in posts if p["id"] == first)
    assert title[:10] in out
