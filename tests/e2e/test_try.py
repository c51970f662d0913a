"""`tutorwatch try`: what a source config extracts from the sandbox sites, with the source's own
spider, storing nothing and never opening the database."""

from __future__ import annotations

import json

import pytest

from crawler.trial import DetailReport, ListReport, TrialReport, format_report, shown
from tests.crawler.store_view import query

pytestmark = [pytest.mark.slow, pytest.mark.once]  # try stores nothing

# Nothing listens on port 1: a command that opened this store would fail.
UNREACHABLE_DB = "postgresql://nobody@127.0.0.1:1/no_such_store"


@pytest.fixture
def try_source(tutorwatch):
    tutorwatch.env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"

    def run(path, *args: str):
        done = tutorwatch("try", "--source", str(path), *args, check=False)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    return run


def store_is_untouched(db_url: str) -> bool:
    """The store was never created (SQLite) or still holds no table (PostgreSQL)."""
    if db_url.startswith("sqlite:///"):
        from pathlib import Path

        return not Path(db_url[len("sqlite:///"):]).exists()
    tables = query(db_url, "SELECT count(*) FROM information_schema.tables "
                           "WHERE table_schema = 'public'")
    return tables == [(0,)]


def test_try_prints_what_the_config_extracts_from_the_first_pages_and_stores_nothing(
    try_source, source_file, sandbox, tutorwatch
):
    base = sandbox.urls["classified"]

    status, out, err = try_source(source_file("classified"))

    assert status == 0, out + err
    assert "nothing is stored" in out
    assert f"list page  {base}/jiaoyu/pn1/" in out
    assert "status     200, charset gb18030 (as declared; declared: gb18030)" in out
    assert "14 detail links, the first 5:" in out and f"{base}/post/1.shtml" in out
    assert f"next page  {base}/jiaoyu/pn2/ (not followed" in out
    assert out.count("detail ") >= 3 and "detail 3 of 3" in out and "detail 4 of" not in out
    assert "title      幼小衔接秋季班插班中" in out
    assert "posted_at  2026-09-21 08:15 → 2026-09-21T08:15:00+08:00" in out
    assert "phones     17700008899" in out
    assert "verdict    score 0.999, flagged, category preschool" in out
    assert "matched nothing" not in out
    assert out.rstrip().endswith("3 of 3 detail pages gave an ad")
    assert store_is_untouched(tutorwatch.env["TUTORWATCH_DB"])


def test_try_names_the_selectors_that_matched_nothing_without_any_store(
    try_source, source_file, tutorwatch
):
    path = source_file("classified")
    path.write_text(path.read_text(encoding="utf-8")
                    .replace("span.pubtime::text", "span.posted::text")
                    .replace("div.pager a.next", "div.pages a.nxt"), encoding="utf-8")
    tutorwatch.env["TUTORWATCH_DB"] = UNREACHABLE_DB

    status, out, err = try_source(path, "--limit", "1")

    assert status == 0, out + err
    assert "next page  none: list.next matched nothing" in out
    assert "  matched nothing: list.next" in out
    assert "detail 1 of 1" in out and "  matched nothing: detail.posted_at" in out
    assert "posted_at  - → -" in out
    assert out.rstrip().endswith(
        "1 of 1 detail page gave an ad; matched nothing: detail.posted_at on 1 of 1")


def test_try_reads_a_json_url_that_is_no_list_page_as_a_detail_page(
    try_source, source_file, sandbox, tutorwatch
):
    url = f"{sandbox.urls['app']}/api/v1/post/p7ab6e1"

    status, out, err = try_source(source_file("app"), "--url", url, "--json")

    assert status == 0, out + err
    report = json.loads(out)
    assert report["list_page"]["read_as_detail"] is True
    assert report["list_page"]["unmatched"] == ["list.items"]
    [detail] = report["details"]
    assert detail["url"] == url and detail["status"] == 200
    assert detail["title"].startswith("📢 教育局提醒")
    assert detail["posted_at"] == "2026-09-29T17:45:00+08:00"
    assert detail["flagged"] is False and detail["category"] == "news_or_notice"
    assert detail["unmatched"] == ["detail.contact"]  # this post gives no contact
    assert report["ads"] == 1
    assert store_is_untouched(tutorwatch.env["TUTORWATCH_DB"])


def test_try_obeys_robots_txt_and_exits_1_when_nothing_was_extracted(
    try_source, source_file, sandbox
):
    url = f"{sandbox.urls['classified']}/private/1.shtml"

    status, out, err = try_source(source_file("classified"), "--url", url, "--detail")

    assert status == 1
    assert "failed     robots_txt (not fetched)" in out
    assert "no ad was extracted" in err


def test_try_reports_an_invalid_config_in_one_line_with_exit_status_2(try_source, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nkind: html\nstart_urls: ['http://127.0.0.1:1/']\n"
                    "list: {links: 'a[[['}\ndetail: {title: h1, body: div}\n", encoding="utf-8")

    status, out, err = try_source(path)

    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "list.links" in err
    assert out == ""


def test_crawled_text_is_shown_without_control_characters():
    hostile = "补课\x1b[2J\x1b]0;pwned\x07\u009b31m\nline two"
    assert shown(hostile) == ("补课\\u001b[2J\\u001b]0;pwned\\u0007\\u009b31m ⏎ line two")
    report = TrialReport("s", "html", "s.yaml", ListReport("http://x/\x1b[1A", status=200),
                         [DetailReport("http://x/1", status=200, title=hostile, body=hostile,
                                       score=0.5, flagged=True, category="open_tutoring")])
    text = format_report(report, 1)
    assert "\x1b" not in text and "\x07" not in text and "\u009b" not in text
    assert "score 0.500, flagged, category open_tutoring" in text
