"""A failed crawl says what happened: a site that is down or refusing us is not a changed
layout, a selector that stopped matching is named with its counts, and a crawl stopped by a
CLOSESPIDER_* cap is not judged by how much it found."""

from __future__ import annotations

from crawler.monitors import (
    check_crawl,
    describe,
    errors_by_cause,
    failed_urls,
    merge_stats,
    selector_hits,
    weak_selectors,
)


def checks(stats, recent=(), **kwargs) -> list[str]:
    return [f.check for f in check_crawl(stats, recent, **kwargs)]


def test_a_site_answering_500_everywhere_is_down_not_a_changed_layout():
    stats = {
        "response_received_count": 2,
        "downloader/response_status_count/500": 3,
        "downloader/response_status_count/404": 1,
        "tutorwatch/failed/http_500": 1,
    }
    [failure] = check_crawl(stats)
    assert failure.check == "site_down"
    assert failure.detail == {"failed": 1, "pages": 1, "reasons": {"http_500": 1}, "share": 1.0}
    assert describe(failure.as_dict()) == (
        "the site is down or blocking us: 1 of 1 pages failed (http_500 1)"
    )
    assert "layout" not in describe(failure.as_dict())


def test_timeouts_and_refused_connections_are_down_too_and_few_items_is_not_judged():
    stats = {
        "tutorwatch/pages/list": 2,
        "tutorwatch/pages/detail": 3,
        "item_scraped_count": 3,
        "tutorwatch/failed/timeout": 4,
        "tutorwatch/failed/connection_refused": 2,
    }
    assert checks(stats, [30, 30, 30]) == ["site_down"]
    # the same crawl without the failures found far fewer ads than usual: few_items
    assert checks(
        {"tutorwatch/pages/list": 2, "tutorwatch/pages/detail": 3, "item_scraped_count": 3},
        [30, 30, 30],
    ) == ["few_items"]


def test_a_few_failing_pages_among_many_read_are_not_a_site_down():
    stats = {
        "tutorwatch/pages/list": 5,
        "tutorwatch/pages/detail": 45,
        "item_scraped_count": 45,
        "tutorwatch/failed/http_502": 2,
        "tutorwatch/failed/http_404": 1,
    }
    assert checks(stats) == []


def test_a_start_url_gone_404_is_no_page_read_rather_than_a_changed_layout():
    [failure] = check_crawl({"tutorwatch/failed/http_404": 1})
    assert failure.check == "zero_items" and failure.detail["fetched"] == 0
    assert describe(failure.as_dict()).endswith("no page could be read")


def test_a_required_selector_under_half_the_pages_is_named_with_its_counts():
    stats = {
        "tutorwatch/pages/list": 1,
        "tutorwatch/pages/detail": 5,
        "item_scraped_count": 5,
        "tutorwatch/selectors/list.links/pages": 1,
        "tutorwatch/selectors/list.links/matched": 1,
        "tutorwatch/selectors/list.next/pages": 1,
        "tutorwatch/selectors/list.next/matched": 0,
        "tutorwatch/selectors/detail.title/pages": 5,
        "tutorwatch/selectors/detail.title/matched": 2,
        "tutorwatch/selectors/detail.body/pages": 5,
        "tutorwatch/selectors/detail.body/matched": 5,
        "tutorwatch/selectors/detail.posted_at/pages": 5,
        "tutorwatch/selectors/detail.posted_at/matched": 0,
    }
    assert selector_hits(stats) == {
        "detail.body": (5, 5),
        "detail.posted_at": (0, 5),
        "detail.title": (2, 5),
        "list.links": (1, 1),
        "list.next": (0, 1),
    }
    [failure] = check_crawl(stats)
    assert failure.check == "selectors_unmatched"
    assert failure.detail["selectors"] == [{"key": "detail.title", "matched": 2, "pages": 5}]
    assert describe(failure.as_dict()) == (
        "the layout has changed: detail.title matched 2 of 5 pages"
    )
    # the optional posted_at is not a failure, but it is reported with its counts
    assert [w["key"] for w in weak_selectors(stats)] == ["detail.posted_at", "detail.title"]
    assert weak_selectors(stats)[0] == {
        "key": "detail.posted_at",
        "matched": 0,
        "pages": 5,
        "required": False,
    }


def test_a_selector_matching_half_the_pages_or_more_passes():
    stats = {
        "tutorwatch/pages/detail": 4,
        "item_scraped_count": 4,
        "tutorwatch/selectors/detail.body/pages": 4,
        "tutorwatch/selectors/detail.body/matched": 2,
    }
    assert checks(stats) == []


def test_a_crawl_stopped_by_a_closespider_cap_is_not_judged_by_what_it_found():
    stats = {"tutorwatch/pages/list": 1, "tutorwatch/pages/detail": 5, "item_scraped_count": 5}
    assert checks(stats, [40, 40, 40]) == ["few_items"]
    assert checks(stats, [40, 40, 40], capped=True) == []
    # a cap does not hide a site that is down
    down = {"tutorwatch/failed/http_503": 3}
    assert checks(down, capped=True) == ["site_down"]


def test_failing_urls_are_kept_five_per_reason_and_merged_across_workers():
    one = {
        "tutorwatch/failed/http_500": 6,
        "tutorwatch/failed_urls": {"http_500": [f"http://a/{i}" for i in range(6)]},
    }
    two = {"tutorwatch/failed/timeout": 1, "tutorwatch/failed_urls": {"timeout": ["http://a/t"]}}
    merged = merge_stats([one, two])
    assert failed_urls(merged) == {
        "http_500": [f"http://a/{i}" for i in range(5)],
        "timeout": ["http://a/t"],
    }
    assert errors_by_cause(merged) == {"http_500": 6, "timeout": 1}
