"""Honest blocks end to end, with the real command line: a crawl that meets a challenge (a 429
"访问过于频繁" page, a redirect to a login form) stops, is recorded as blocked, alerts "the site
is blocking us", and never asks again for the page that challenged it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from crawler.sandbox.blocking import source_yaml, start_blocking_site

pytestmark = pytest.mark.slow

RUNS = ("import json; from review_ui.models import CrawlRun, Ad; print(json.dumps({'runs': list("
        "CrawlRun.objects.values('status', 'finish_reason', 'stats', 'alerts')), 'titles': list("
        "Ad.objects.values_list('title', flat=True))}))")


@pytest.fixture
def blocking() -> Iterator:
    handle = start_blocking_site()
    yield handle
    handle.stop()


@pytest.mark.parametrize(("mode", "kind", "challenge"), [
    ("rate", "rate_limit", "/rate/post/2.html"),
    ("login", "login", "/passport/login?redirect=/login/post/2.html"),
])
def test_a_blocked_crawl_stops_is_recorded_as_blocked_and_alerts(
    mode, kind, challenge, blocking, tutorwatch, tmp_path, webhook
):
    path = tmp_path / f"county_{mode}.yaml"
    path.write_text(source_yaml(f"county_{mode}", blocking.url, mode), encoding="utf-8")
    tutorwatch.env["TUTORWATCH_ALERT_WEBHOOK"] = webhook.url
    tutorwatch("migrate", "-v", "0")
    done = tutorwatch("crawl", "--source", str(path), check=False)
    out = done.stdout.decode()
    assert done.returncode == 1, out
    assert f"county_{mode}: blocked;" in out and "(blocked " in out

    store = json.loads(tutorwatch("shell", "-c", RUNS).stdout.decode().strip().splitlines()[-1])
    [run] = store["runs"]
    assert (run["status"], run["finish_reason"]) == ("failed", "blocked")
    assert run["stats"][f"tutorwatch/blocked/{kind}"] >= 1
    assert run["alerts"] == {"webhook": "ok"}
    [alert] = webhook.received
    text = alert["json"]["text"]["content"]
    assert "网站在阻止我们抓取" in text and "layout" not in text and "布局" not in text
    # No challenge page was stored as an ad, and none was asked for twice: the 429 with its
    # Retry-After was not retried, the login form not fetched again.
    assert not any("验证" in title or "登录" in title for title in store["titles"])
    assert store["titles"] and len(store["titles"]) <= 1
    hits = Counter(blocking.hits)
    assert hits[challenge] == 1, blocking.hits
    assert max(hits.values()) == 1, blocking.hits
