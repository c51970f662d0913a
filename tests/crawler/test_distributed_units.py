"""Pieces of distributed mode that need no Redis: request serialisation, URL masking, cron."""

from __future__ import annotations

import datetime

import pytest
import scrapy

from crawler.config import ConfigError, cron_trigger, parse_source
from crawler.distributed import JsonSerializer, safe_url

BASE = {"name": "county_forum", "kind": "html", "start_urls": ["http://127.0.0.1/"],
        "list": {"links": "a::attr(href)"}, "detail": {"title": "h1", "body": "div"}}


def test_requests_survive_the_json_serializer_with_bytes_and_headers():
    request = scrapy.Request(
        "http://127.0.0.1/ad/1.html", method="POST", body=b"\x00\xffbody",
        headers={"X-Test": "值"}, meta={"tutorwatch_known": "http://127.0.0.1/ad/1.html",
                                        "handle_httpstatus_list": [404, 410], "depth": 2},
        cb_kwargs={"page": 3}, priority=-2,
    )
    data = request.to_dict()
    encoded = JsonSerializer.dumps(data)
    assert encoded.startswith(b"{") and b"pickle" not in encoded
    assert JsonSerializer.loads(encoded) == data


def test_something_json_cannot_hold_is_refused_loudly():
    with pytest.raises(TypeError, match="cannot keep object"):
        JsonSerializer.dumps({"meta": {"x": object()}})


def test_a_redis_password_never_appears_in_messages():
    assert safe_url("redis://:s3cret@db.example:6379/2") == "redis://:***@db.example:6379/2"
    assert safe_url("redis://user:s3cret@db.example/0") == "redis://user:***@db.example/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("expr, field", [
    ("61 * * * *", "field 1 (minute)"),
    ("0 25 * * *", "field 2 (hour)"),
    ("0 3 32 * *", "field 3 (day of month)"),
    ("0 3 * 13 *", "field 4 (month)"),
    ("0 3 * * mon-xx", "field 5 (day of week)"),
    ("0 3 * *", "it has 4 fields"),
])
def test_an_invalid_cron_is_refused_naming_the_source_and_field(expr, field):
    with pytest.raises(ConfigError) as caught:
        parse_source({**BASE, "schedule": expr})
    message = str(caught.value)
    assert "key 'schedule'" in message and "'county_forum'" in message and field in message


def test_a_recheck_cron_is_checked_too():
    with pytest.raises(ConfigError, match="key 'recheck'"):
        parse_source({**BASE, "recheck": "every night"})
    assert parse_source({**BASE, "recheck": "0 4 * * *"}).recheck == "0 4 * * *"


def test_cron_weekdays_count_from_sunday_as_in_crontab():
    start = datetime.datetime(2026, 11, 23, tzinfo=datetime.UTC)  # a Monday
    sunday = cron_trigger("0 9 * * 0", "UTC").get_next_fire_time(None, start)
    assert sunday.weekday() == 6
    friday = cron_trigger("0 9 * * 5", "UTC").get_next_fire_time(None, start)
    assert friday.weekday() == 4
    weekdays = cron_trigger("0 9 * * 1-5", "UTC").get_next_fire_time(None, start)
    assert weekdays.weekday() == 0
    assert cron_trigger("0 9 * * 7", "UTC").get_next_fire_time(None, start).weekday() == 6


@pytest.fixture
def redis_server():
    """The real Redis of TUTORWATCH_TEST_REDIS, with a key prefix of this test's own."""
    import os
    import uuid

    import redis

    url = os.environ.get("TUTORWATCH_TEST_REDIS")
    if not url:
        pytest.skip("TUTORWATCH_TEST_REDIS is not set (a Redis URL, e.g. redis://127.0.0.1:6379/15)")
    server = redis.Redis.from_url(url)
    try:
        server.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is not reachable: {exc}")
    prefix = f"twtest-{uuid.uuid4().hex[:8]}"
    yield server, prefix
    keys = list(server.scan_iter(f"{prefix}:*"))
    if keys:
        server.delete(*keys)
    server.close()


def test_a_crawl_whose_workers_are_idle_with_an_empty_frontier_has_no_work_to_join(redis_server):
    from crawler.distributed import SharedCrawl

    server, prefix = redis_server
    first = SharedCrawl(server, prefix, "bulk", "elsewhere:1")
    joiner = SharedCrawl(server, prefix, "bulk", "elsewhere:2")
    assert not joiner.has_work()  # nobody crawls
    first.enter()  # busy from the start
    assert joiner.has_work()
    first.heartbeat(False)  # idle, frontier empty: only waiting to close
    assert joiner.under_way() and not joiner.has_work()
    server.zadd(first.queue_key, {b"a request": 0})
    assert joiner.has_work()


def test_a_spider_that_is_not_a_source_keeps_scrapys_own_scheduler_without_redis():
    from scrapy.core.scheduler import Scheduler
    from scrapy.crawler import Crawler
    from scrapy.settings import Settings
    from scrapy.utils.request import RequestFingerprinter

    from crawler.distributed import RedisScheduler

    class Bare(scrapy.Spider):
        name = "bare"

    # Nothing listens on port 1: a shared crawl would fail to connect.
    crawler = Crawler(Bare, Settings({"REDIS_URL": "redis://127.0.0.1:1/0"}))
    crawler.request_fingerprinter = RequestFingerprinter(crawler)
    assert type(RedisScheduler.from_crawler(crawler)) is Scheduler


# --- slot leases (crawler/leases.py) ----------------------------------------------------------
def test_leases_of_a_slot_are_granted_up_to_its_limit_for_all_workers_together(redis_server):
    from crawler.leases import POLL_SECONDS, SlotLeases

    server, prefix = redis_server
    one = SlotLeases(server, f"{prefix}:busy", "host:1")
    two = SlotLeases(server, f"{prefix}:busy", "host:2")
    first, _ = one.take("site.example", 2, 0)
    second, _ = one.take("site.example", 2, 0)
    assert first and second and first != second
    assert two.take("site.example", 2, 0) == (None, POLL_SECONDS)
    assert two.take("other.example", 2, 0)[0]  # another slot has its own limit
    one.release("site.example", [first])
    assert two.take("site.example", 2, 0)[0]
    assert one.held == {second: "site.example"}


def test_a_waiting_worker_gets_its_share_of_the_limit(redis_server):
    from crawler.leases import SlotLeases

    server, prefix = redis_server
    one = SlotLeases(server, f"{prefix}:busy", "host:1")
    two = SlotLeases(server, f"{prefix}:busy", "host:2")
    leases = [one.take("site.example", 4, 0)[0] for _ in range(4)]
    assert two.take("site.example", 4, 0)[0] is None  # full: host:2 now waits
    one.release("site.example", leases[:2])
    # host:1 may keep 2 of the 4 while host:2 waits; the 2 given back go to host:2.
    assert one.take("site.example", 4, 0)[0] is None
    assert two.take("site.example", 4, 0)[0] and two.take("site.example", 4, 0)[0]


def test_a_lease_that_is_not_refreshed_expires(redis_server):
    import time

    from crawler.leases import SlotLeases

    server, prefix = redis_server
    dead = SlotLeases(server, f"{prefix}:busy", "host:1", ttl=0.3)
    alive = SlotLeases(server, f"{prefix}:busy", "host:2", ttl=0.3)
    assert dead.take("site.example", 1, 0)[0] and alive.take("other.example", 1, 0)[0]
    time.sleep(0.2)
    alive.refresh()
    time.sleep(0.2)
    # host:1's lease is gone, host:2's refreshed one still holds its slot.
    assert alive.take("site.example", 1, 0)[0]
    assert dead.take("other.example", 1, 0)[0] is None


def test_a_download_delay_spaces_the_starts_of_all_workers(redis_server):
    import time

    from crawler.leases import SlotLeases

    server, prefix = redis_server
    one = SlotLeases(server, f"{prefix}:busy", "host:1")
    two = SlotLeases(server, f"{prefix}:busy", "host:2")
    started = time.monotonic()
    assert one.take("site.example", 8, 0.5)[0]
    lease, wait = two.take("site.example", 8, 0.5)
    assert lease is None and 0.3 < wait <= 0.5
    time.sleep(wait)
    assert two.take("site.example", 8, 0.5)[0]
    assert time.monotonic() - started >= 0.5


def test_the_last_worker_deletes_the_slot_keys(redis_server):
    from crawler.distributed import SharedCrawl

    server, prefix = redis_server
    shared = SharedCrawl(server, prefix, "busy", "host:1")
    shared.enter()
    lease, _ = shared.leases.take("site.example", 2, 1.0)
    shared.leases.take("site.example", 1, 0)  # refused: host:1 is now waiting as well
    shared.heartbeat(True)  # refreshes the lease
    assert len(list(server.scan_iter(f"{prefix}:busy:slot*"))) == 4
    assert shared.leave()
    shared.reset()
    assert list(server.scan_iter(f"{prefix}:*")) == []
