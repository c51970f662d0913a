"""Health checks of a closed crawl, errors by cause, and merged stats of shared crawls."""

from __future__ import annotations

import pytest

from crawler.monitors import (
    Thresholds,
    check_crawl,
    describe,
    errors_by_cause,
    items_found,
    merge_stats,
)

HEALTHY = {
    "item_scraped_count": 90, "tutorwatch/pages/list": 10, "tutorwatch/pages/detail": 90,
    "response_received_count": 101,
}


def checks(stats, recent=(), **kwargs) -> list[str]:
    return [f.check for f in check_crawl(stats, recent, **kwargs)]


def test_a_healthy_crawl_passes():
    assert checks(HEALTHY, [88, 90, 91]) == []


def test_a_crawl_that_found_nothing_fails_with_zero_items():
    stats = {"tutorwatch/pages/list": 1, "tutorwatch/pages/list_without_links": 1}
    failures = check_crawl(stats)
    assert [f.check for f in failures] == ["zero_items", "parse_failures"]
    assert "layout" in failures[0].message()


def test_ads_skipped_as_already_stored_count_as_found():
    stats = {"tutorwatch/pages/list": 10, "tutorwatch/incremental/skipped": 90}
    assert items_found(stats) == 90
    assert checks(stats, [90, 90, 90]) == []


def test_parse_failures_above_the_limit_fail_the_run():
    stats = {**HEALTHY, "tutorwatch/items/dropped/empty": 25}
    failure = check_crawl(stats, thresholds=Thresholds(max_parse_failure_share=0.2))[0]
    assert failure.check == "parse_failures"
    assert failure.detail["failed"] == 25 and failure.detail["parsed"] == 100
    assert "25 of 100 pages" in failure.message()
    assert checks(stats, thresholds=Thresholds(max_parse_failure_share=0.3)) == []


# The sandbox_classified re-crawl of a second `tutorwatch demo`: every ad is stored except the
# blank post, which was dropped the first time and is fetched (and dropped) again.
QUIET_RECRAWL = {
    "tutorwatch/pages/list": 3, "tutorwatch/pages/detail": 1,
    "tutorwatch/items/dropped/empty": 1, "tutorwatch/incremental/skipped": 26,
    "tutorwatch/failed/http_404": 1, "tutorwatch/failed/http_500": 1,
    "response_received_count": 7,
}


def test_a_recrawl_that_found_only_known_ads_and_the_old_blank_post_passes():
    assert checks(QUIET_RECRAWL, [27, 27, 27]) == []


def test_pages_skipped_as_stored_count_as_parsed_pages():
    stats = {**QUIET_RECRAWL, "tutorwatch/items/dropped/empty": 7}
    failure = check_crawl(stats)[0]
    assert failure.check == "parse_failures"
    assert failure.detail["failed"] == 7 and failure.detail["parsed"] == 30  # 3 + 1 + 26


def test_a_changed_detail_layout_fails_a_recrawl_even_beside_many_known_ads():
    stats = {"tutorwatch/pages/list": 20, "tutorwatch/incremental/skipped": 500,
             "tutorwatch/pages/detail": 20, "tutorwatch/items/dropped/empty": 20}
    failure = check_crawl(stats, [520, 515, 510])[0]
    assert failure.check == "parse_failures"
    assert failure.detail["failed"] == 20 and failure.detail["parsed"] == 20
    assert "20 of 20 pages could not be parsed" in failure.message()


def test_a_few_detail_pages_without_text_are_not_judged_on_their_own():
    stats = {"tutorwatch/pages/list": 5, "tutorwatch/incremental/skipped": 100,
             "tutorwatch/pages/detail": 3, "tutorwatch/items/dropped/empty": 3}
    assert checks(stats) == []
    assert checks(stats, thresholds=Thresholds(min_detail_pages=3)) == ["parse_failures"]


def test_a_changed_list_layout_fails_a_recrawl():
    stats = {"tutorwatch/pages/list": 1, "tutorwatch/pages/list_without_links": 1}
    assert checks(stats, [27, 27, 27]) == ["zero_items", "parse_failures"]


def test_far_fewer_items_than_recent_runs_fail_only_with_enough_history():
    stats = {**HEALTHY, "item_scraped_count": 20}
    assert checks(stats, [100, 95]) == []  # two runs are not enough to judge
    failure = check_crawl(stats, [100, 95, 105, 98, 102, 0])[0]  # the 6th is beyond history
    assert failure.check == "few_items"
    assert failure.detail == {"found": 20, "expected": 100.0, "ratio": 0.3}
    assert checks({**HEALTHY, "item_scraped_count": 40}, [100, 95, 105]) == []


def test_a_recheck_run_is_judged_on_parse_failures_only():
    assert checks({"tutorwatch/pages/detail": 0}, recheck=True) == []
    gone = {"tutorwatch/pages/detail": 10, "tutorwatch/takedowns/gone_empty": 9}
    assert checks(gone, recheck=True) == ["parse_failures"]


def test_ads_kept_as_whole_page_text_are_no_parse_failures_but_a_layout_change_fails():
    few = {**HEALTHY, "tutorwatch/items/extracted/fallback": 9,
           "tutorwatch/items/extracted/fallback/page_text": 9}
    assert checks(few, [88, 90, 91]) == []  # 10 %: pages of another template, say
    every = {**HEALTHY, "tutorwatch/items/extracted/fallback": 90,
             "tutorwatch/items/extracted/fallback/page_text": 90}
    [failure] = check_crawl(every, [88, 90, 91])
    assert failure.check == "selectors_missed"
    assert failure.detail == {"missed": 90, "pages": 90, "share": 1.0, "limit": 0.2}
    assert "90 of 90 detail pages" in failure.message() and "layout" in failure.message()
    assert checks(every, recheck=True) == []  # a re-check counts such pages as takedowns


def test_a_broken_template_whose_pages_the_selectors_read_once_parsed_leniently_passes():
    broken = {**HEALTHY, "tutorwatch/items/extracted/fallback": 90,
              "tutorwatch/items/extracted/fallback/html.parser": 90}
    assert checks(broken, [88, 90, 91]) == []


def test_a_crawls_errors_are_its_own_error_and_critical_records():
    from crawler.monitors import errors_logged, errors_of_no_crawl

    stats = {"log_count/ERROR": 2, "log_count/CRITICAL": 1, "log_count/WARNING": 5,
             "log_count/unattributed/ERROR": 4}
    assert errors_logged(stats) == 3
    assert errors_of_no_crawl(stats) == 4
    assert errors_logged({}) == errors_of_no_crawl({}) == 0


def test_thresholds_out_of_range_are_refused():
    with pytest.raises(ValueError):
        Thresholds(max_parse_failure_share=1.5)
    with pytest.raises(ValueError):
        Thresholds(history=0)
    with pytest.raises(ValueError):
        Thresholds(min_detail_pages=0)


def test_errors_are_counted_by_url_after_retries_and_robots_txt_is_not_an_error():
    stats = {
        "downloader/response_status_count/200": 50,
        # robots.txt and one page answered 404; one page answered 503 three times (retried)
        "downloader/response_status_count/404": 2,
        "downloader/response_status_count/503": 3,
        "downloader/exception_type_count/twisted.internet.error.TimeoutError": 3,
        "downloader/exception_type_count/scrapy.exceptions.IgnoreRequest": 4,
        "tutorwatch/failed/http_404": 1,
        "tutorwatch/failed/http_503": 1,
        "tutorwatch/failed/timeout": 2,
        "tutorwatch/skipped/robots_txt": 4,
        "spider_exceptions/KeyError": 1,
        "spider_exceptions/count": 1,
        "tutorwatch/items/dropped/empty": 2,
        "tutorwatch/store/errors": 1,
    }
    assert errors_by_cause(stats) == {
        "dropped:empty": 2, "http_404": 1, "http_503": 1, "spider:KeyError": 1, "store": 1,
        "timeout": 2,
    }


def test_stats_of_shared_crawl_workers_merge():
    merged = merge_stats([
        {"item_scraped_count": 40, "start_time": "2026-11-01T10:00:00", "finish_reason": "finished",
         "finish_time": "2026-11-01T10:05:00", "memusage/max": 100},
        {"item_scraped_count": 50, "start_time": "2026-11-01T10:00:02",
         "finish_reason": "redis_unavailable", "finish_time": "2026-11-01T10:04:00",
         "memusage/max": 120, "tutorwatch/run": "7"},
    ])
    assert merged["item_scraped_count"] == 90
    assert merged["start_time"] == "2026-11-01T10:00:00"
    assert merged["finish_time"] == "2026-11-01T10:05:00"
    assert merged["finish_reason"] == "redis_unavailable"
    assert merged["memusage/max"] == 120 and merged["tutorwatch/run"] == "7"


def test_an_unknown_check_is_described_by_its_name():
    assert describe({"check": "something_new"}) == "something_new"
