"""The scheduler's rules with real APScheduler triggers and real processes (a stand-in crawl
that records when it starts and ends)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from apscheduler.triggers.interval import IntervalTrigger

from crawler.config import parse_source
from review_ui.scheduling import (
    CRAWL,
    RECHECK,
    TRAIN,
    TRAINING,
    CrawlScheduler,
    crawl_command,
    train_command,
)


def source(name: str, **extra) -> object:
    return parse_source({"name": name, "kind": "html", "start_urls": ["http://127.0.0.1/"],
                         "list": {"links": "a::attr(href)"}, "detail": {"title": "h1", "body": "p"},
                         **extra}, origin=f"/srv/sources/{name}.yaml")


def stand_in(log: Path, seconds: float):
    def command(config, purpose: str) -> list[str]:
        code = (f"import time; f = open({str(log)!r}, 'a'); "
                f"f.write('start {config.name} {purpose} %f\\n' % time.time()); f.flush(); "
                f"time.sleep({seconds}); "
                f"f.write('end {config.name} {purpose} %f\\n' % time.time())")
        return [sys.executable, "-c", code]
    return command


def intervals(log: Path, name: str) -> list[tuple[float, float]]:
    starts, ends = [], []
    for line in log.read_text().splitlines():
        event, source_name, _, at = line.split()
        if source_name == name:
            (starts if event == "start" else ends).append(float(at))
    return list(zip(starts, ends, strict=True))


def wait_for_line(log: Path, start: str, count: int = 1, seconds: float = 30) -> None:
    """Wait until ``count`` lines of ``log`` start with ``start`` (the machine may be busy)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        lines = log.read_text().splitlines() if log.exists() else []
        if sum(line.startswith(start) for line in lines) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} {start!r} in {log} after {seconds} s")


def test_missed_runs_coalesce_and_a_source_never_runs_twice_at_once(tmp_path):
    log = tmp_path / "runs.log"
    scheduler = CrawlScheduler(
        {"a": source("a", schedule="* * * * *"), "b": source("b", schedule="* * * * *")},
        command=stand_in(log, 1.0), trigger_for=lambda expr: IntervalTrigger(seconds=0.2),
        recheck_due=lambda config: False, on_exit=lambda: None, stop_timeout=10,
    )
    scheduler.start()
    # a fires every 0.2 s while its first run takes 1 s; the missed runs start as one after it.
    wait_for_line(log, "start a", count=2)
    scheduler.stop()
    runs_a = intervals(log, "a")
    # The first run, then the ~4 runs missed meanwhile as one; stop lets it finish.
    assert len(runs_a) == 2, runs_a
    assert runs_a[1][0] >= runs_a[0][1]  # never two at once
    # Another source runs at the same time as a.
    runs_b = intervals(log, "b")
    assert runs_b and runs_b[0][0] < runs_a[0][1]


def test_a_recheck_waits_for_the_crawl_of_its_source_and_is_skipped_when_nothing_is_due(tmp_path):
    log = tmp_path / "runs.log"
    due = {"a": True, "b": False}
    scheduler = CrawlScheduler(
        {"a": source("a"), "b": source("b")}, recheck_schedule="0 4 * * *",
        command=stand_in(log, 0.5), recheck_due=lambda config: due[config.name],
        on_exit=lambda: None,
    )
    assert scheduler.plan() == [("a", RECHECK, "0 4 * * *"), ("b", RECHECK, "0 4 * * *")]
    scheduler.request("a", CRAWL)
    scheduler.request("a", RECHECK)
    scheduler.request("b", RECHECK)
    time.sleep(1.6)
    scheduler.stop()
    assert scheduler.started == [("a", CRAWL), ("a", RECHECK)]
    crawl, recheck = intervals(log, "a")
    assert recheck[0] >= crawl[1]


def test_a_scheduled_crawl_runs_the_crawl_command_on_the_source_file():
    command = crawl_command(source("county"), CRAWL)
    assert command[1:] == ["-m", "review_ui.cli", "crawl", "--source", "/srv/sources/county.yaml",
                           "--trigger", "scheduled"]
    assert crawl_command(source("county"), RECHECK)[-1] == "--recheck"


def stand_in_training(log: Path, seconds: float):
    def command() -> list[str]:
        code = (f"import time; f = open({str(log)!r}, 'a'); "
                f"f.write('start {TRAINING} train %f\\n' % time.time()); f.flush(); "
                f"time.sleep({seconds}); "
                f"f.write('end {TRAINING} train %f\\n' % time.time())")
        return [sys.executable, "-c", code]
    return command


def test_the_training_job_is_planned_on_its_own_cron_with_its_next_run():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    scheduler = CrawlScheduler({"a": source("a", schedule="0 */6 * * *")},
                               train_schedule="15 2 * * 1", timezone="Asia/Shanghai")
    assert scheduler.plan() == [("a", CRAWL, "0 */6 * * *"), (TRAINING, TRAIN, "15 2 * * 1")]
    now = datetime(2026, 12, 6, 12, 1, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Sunday
    runs = {purpose: at for _, purpose, _, at in scheduler.next_runs(now)}
    assert runs[TRAIN] == datetime(2026, 12, 7, 2, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert runs[CRAWL] == datetime(2026, 12, 6, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert CrawlScheduler({}).plan() == []  # unset: never
    assert train_command()[-3:] == ["train", "--with-decisions", "--scheduled"]




def test_trainings_never_overlap_and_do_not_hold_up_crawls(tmp_path):
    log = tmp_path / "runs.log"
    ended: list[int] = []
    scheduler = CrawlScheduler(
        {"a": source("a", schedule="0 0 1 1 *")}, command=stand_in(log, 0.2),
        train_schedule="* * * * *", train=stand_in_training(log, 2.0),
        trigger_for=lambda expr: IntervalTrigger(seconds=0.2 if expr == "* * * * *" else 3600),
        recheck_due=lambda config: False, on_exit=lambda: None, on_train_exit=ended.append,
        stop_timeout=10,
    )
    scheduler.start()
    wait_for_line(log, f"start {TRAINING}")
    scheduler.request("a", CRAWL)  # while the first training runs
    wait_for_line(log, "end a")
    # The trigger keeps firing while the training runs: the missed runs start as one after it.
    wait_for_line(log, f"start {TRAINING}", count=2)
    scheduler.stop()
    trainings = intervals(log, TRAINING)
    # The first training, then the runs missed meanwhile as one, never two at once.
    assert len(trainings) == 2, trainings
    assert trainings[1][0] >= trainings[0][1]
    [crawl] = intervals(log, "a")
    assert trainings[0][0] < crawl[0] < trainings[0][1]  # the crawl did not wait for it
    assert ended == [0]  # the one stopped with the scheduler is not reported as a failure


def test_a_training_process_that_dies_is_alerted(settings, webhook):
    from review_ui.scheduling import _training_died

    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    settings.TUTORWATCH_ALERT_WEBHOOK_SECRET = ""
    killed = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    scheduler = CrawlScheduler({}, train_schedule="0 3 * * *", train=lambda: killed,
                               on_exit=lambda: None, on_train_exit=_training_died)
    scheduler.request(TRAINING, TRAIN)
    deadline = time.monotonic() + 20
    while not webhook.received and time.monotonic() < deadline:
        time.sleep(0.1)
    scheduler.stop()
    [posted] = webhook.received
    text = posted["json"]["text"]["content"]
    assert text.startswith("tutorwatch：定时训练失败") and "killed by SIGKILL" in text
    # A training that failed sent its own alert (exit status 1); a clean one none.
    _training_died(1)
    _training_died(0)
    assert len(webhook.received) == 1
