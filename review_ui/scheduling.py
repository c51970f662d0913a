"""Unattended crawling: the scheduler behind ``tutorwatch schedule`` and the worker behind
``tutorwatch worker``.

:class:`CrawlScheduler` reads each source's ``schedule`` (cron) and fires, with APScheduler, one
crawl process per source (``python -m review_ui.cli crawl --source FILE --trigger scheduled``);
re-checks of flagged and confirmed ads fire on the source's ``recheck`` cron or
``TUTORWATCH_RECHECK_SCHEDULE``, only when some are due; and, on ``TUTORWATCH_TRAIN_SCHEDULE``
(unset: never), one training process (``train --with-decisions --scheduled``, niced, so crawls
keep the CPU) fits a candidate with the officers' decisions and registers it
(:func:`report_candidate`: alert when it beats the current model, promote it only with
``TUTORWATCH_AUTO_PROMOTE``, through the tolerance check); and, on ``TUTORWATCH_PURGE_SCHEDULE``
(daily), the retention purge (``tutorwatch purge --scheduled``, review_ui.retention). Rules:

- never two crawls of one source at once: a crawl or re-check that falls due while another of
  the same source runs waits, and every run missed meanwhile coalesces into one, started when the
  running one ends (APScheduler coalesces runs missed while the scheduler itself was busy);
- never two trainings at once: the scheduler's training waits like a source's crawl, and every
  training holds a lock file (:func:`training_lock`) that a manual ``tutorwatch train`` honours
  too; a training that finds it held is skipped;
- a training that fails is alerted by the training process; one that dies (killed, out of
  memory) by the scheduler;
- a source whose site is blocking us rests: its crawls and re-checks are not started until
  ``review_ui.blocks.resting_until`` (doubling after each blocked run, up to a day by default);
- a crawl process that ends without recording its run (killed, out of memory) has the run marked
  interrupted at once; at start, runs left running by processes that are gone are marked too;
- on SIGTERM or SIGINT no new crawl starts; running ones get ``stop_timeout`` seconds to finish,
  then a SIGTERM (Scrapy stops gracefully; the run is recorded as interrupted), then, after
  ``kill_after`` more seconds, SIGKILL (the run is marked interrupted for them).

:class:`JoinWorker` is for the other machines of a distributed deployment: it watches Redis for
shared crawls under way and runs ``crawl --join NAME`` for each, so every machine helps.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from crawler.config import SourceConfig, cron_trigger

logger = logging.getLogger("tutorwatch.schedule")

CRAWL, RECHECK, TRAIN = "crawl", "recheck", "train"
TRAINING = "(model)"  # the training job's name where a source's name stands in the plan
# Officers' digests (review_ui/places/digests.py), on TUTORWATCH_DIGEST_SCHEDULE.
DIGEST, DIGESTS = "digest", "(digests)"
PURGE, RETENTION = "purge", "(retention)"  # the daily retention purge (review_ui.retention)
ROOT = Path(__file__).resolve().parent.parent
# The exit status of a training that failed and has sent its own alert.
TRAINING_FAILED = 1


def digest_command() -> list[str]:
    """The command line of the digest job's process: send every due digest."""
    return [sys.executable, "-m", "review_ui.cli", "digests", "send"]


def train_command() -> list[str]:
    """The command line of the scheduled training process."""
    return [sys.executable, "-m", "review_ui.cli", "train", "--with-decisions", "--scheduled"]


class TrainingBusy(RuntimeError):
    """Another training holds the lock."""


def purge_command() -> list[str]:
    """The retention purge, in a process of its own (``tutorwatch purge --scheduled``)."""
    return [sys.executable, "-m", "review_ui.cli", "purge", "--scheduled"]


@contextmanager
def training_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` while training, or raise :class:`TrainingBusy` at once
    when another process holds it. The kernel drops the lock when the process ends, however it
    ends: a killed training never leaves it stuck."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise TrainingBusy(f"another training is running ({holder}; lock {path})") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def report_candidate(version: Any, auto_promote: bool) -> tuple[Any, str]:
    """After a scheduled training registered ``version``: compare it with the current model; when
    it beats it, promote it if ``auto_promote`` (through the tolerance check, audited as the
    scheduler) and alert the supervisors either way. Returns (the comparison, what was done) in
    the site's language."""
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    from review_ui import model_registry
    from review_ui.alerts import compose_candidate, send_training_alert

    with translation.override(settings.LANGUAGE_CODE):
        allowed = model_registry.tolerance()
        comparison = model_registry.compare_with_current(version, model_registry.current(),
                                                         allowed)
        if not comparison.beats:
            return comparison, _("The candidate does not beat the current model: not promoted, "
                                 "no alert.")
        if auto_promote:
            try:
                model_registry.promote(version.version, None, by="scheduler")
                done = _("Promoted automatically (TUTORWATCH_AUTO_PROMOTE): crawls, re-checks "
                         "and rescoring now use it; `tutorwatch model rollback` returns to the "
                         "previous model.")
            except model_registry.RegistryError as exc:
                done = _("Not promoted automatically: %(reason)s") % {"reason": exc}
        else:
            done = _("Not promoted: a supervisor may promote it on the model versions page or "
                     "with `tutorwatch model promote %(version)s`.") % {"version": version.version}
    send_training_alert(*compose_candidate(version.version, comparison, done))
    return comparison, done


def _training_died(code: int) -> None:
    """The training process ended without its own report (killed, or an exit status other than
    a reported failure): alert about it."""
    if code in (0, TRAINING_FAILED):
        return
    from django.conf import settings
    from django.utils import translation
    from django.utils.translation import gettext as _

    from review_ui.alerts import compose_training_failed, send_training_alert

    how = (f"killed by {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals()
           else f"exit status {code}")
    with translation.override(settings.LANGUAGE_CODE):
        reason = _("The training process ended without finishing (%(how)s).") % {"how": how}
    try:
        send_training_alert(*compose_training_failed(reason))
    except Exception as exc:  # an alert channel's failure must not stop the scheduler
        logger.error("could not send the training alert: %s", exc)


def crawl_command(config: SourceConfig, purpose: str) -> list[str]:
    """The command line of one scheduled crawl process."""
    command = [sys.executable, "-m", "review_ui.cli", "crawl", "--source", str(config.path),
               "--trigger", "scheduled"]
    return [*command, "--recheck"] if purpose == RECHECK else command


def _resting_until(config: SourceConfig) -> Any:
    from django.db import connection

    from review_ui.blocks import resting_until

    try:
        return resting_until(config)
    finally:
        connection.close()  # this runs on a scheduler thread


def _recheck_due(config: SourceConfig) -> bool:
    from django.conf import settings
    from django.db import connection

    from review_ui.store.rechecks import due_rechecks

    after = timedelta(hours=settings.TUTORWATCH_RECHECK_HOURS)
    try:
        return bool(due_rechecks(config.name, after, limit=1))
    finally:
        connection.close()  # this runs on a scheduler thread


@dataclass
class _Running:
    process: subprocess.Popen
    purpose: str
    started: float = field(default_factory=time.monotonic)


class CrawlScheduler:
    def __init__(
        self,
        sources: dict[str, SourceConfig],
        *,
        recheck_schedule: str | None = None,
        timezone: Any = None,
        stop_timeout: float = 60.0,
        kill_after: float = 60.0,
        command: Callable[[SourceConfig, str], Sequence[str]] = crawl_command,
        env: dict[str, str] | None = None,
        trigger_for: Callable[[str], Any] | None = None,
        recheck_due: Callable[[SourceConfig], bool] = _recheck_due,
        on_exit: Callable[[], None] | None = None,
        train_schedule: str | None = None,
        train: Callable[[], Sequence[str]] = train_command,
        on_train_exit: Callable[[int], None] = _training_died,
        resting_until: Callable[[SourceConfig], Any] | None = None,
        digest_schedule: str | None = None,
        digests: Callable[[], Sequence[str]] = digest_command,
        purge_schedule: str | None = None,
        purge: Callable[[], Sequence[str]] = purge_command,
    ) -> None:
        self.purge_schedule = purge_schedule
        self.purge = purge
        self.sources = sources
        self.digest_schedule = digest_schedule
        self.digests = digests
        self.recheck_schedule = recheck_schedule
        self.train_schedule = train_schedule
        self.train = train
        self.on_train_exit = on_train_exit
        self.timezone = timezone
        self.stop_timeout = stop_timeout
        self.kill_after = kill_after
        self.command = command
        self.env = env
        self.trigger_for = trigger_for or (lambda expr: cron_trigger(expr, timezone))
        self.recheck_due = recheck_due
        self.on_exit = on_exit or self._mark_dead
        self.resting_until = resting_until or _resting_until
        self.scheduler = BackgroundScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self.scheduler.add_listener(self._job_failed, EVENT_JOB_ERROR)
        self.running: dict[str, _Running] = {}
        self.pending: dict[str, set[str]] = {}
        self.started: list[tuple[str, str]] = []  # (source, purpose) of every process started
        self.lock = threading.RLock()
        self.stopping = False
        self._stop = threading.Event()

    # --- plan ---------------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, str, str]]:
        """(source, purpose, cron) of every job."""
        jobs = []
        for name, config in sorted(self.sources.items()):
            if config.schedule:
                jobs.append((name, CRAWL, config.schedule))
            recheck = config.recheck or self.recheck_schedule
            if recheck:
                jobs.append((name, RECHECK, recheck))
        if self.train_schedule:
            jobs.append((TRAINING, TRAIN, self.train_schedule))
        if self.digest_schedule:
            jobs.append((DIGESTS, DIGEST, self.digest_schedule))
        if self.purge_schedule:
            jobs.append((RETENTION, PURGE, self.purge_schedule))
        return jobs

    def next_runs(self, now: datetime | None = None) -> list[tuple[str, str, str, datetime]]:
        """(name, purpose, cron, next run) of every job, from now (for ``schedule --check``)."""
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(str(self.timezone)) if self.timezone else None
        now = now or datetime.now(zone).astimezone(zone)
        return [(name, purpose, cron, self.trigger_for(cron).get_next_fire_time(None, now))
                for name, purpose, cron in self.plan()]

    def start(self, run_now: bool = False) -> None:
        for name, purpose, cron in self.plan():
            self.scheduler.add_job(
                self.request, self.trigger_for(cron), args=[name, purpose],
                id=f"{purpose}:{name}", name=f"{purpose} {name} ({cron})",
            )
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            logger.info("scheduled %s; next at %s", job.name, job.next_run_time)
        if run_now:
            for name, config in sorted(self.sources.items()):
                if config.schedule:
                    self.request(name, CRAWL)

    def _job_failed(self, event: JobExecutionEvent) -> None:
        logger.error("scheduled job %s failed: %s", event.job_id, event.exception)

    # --- firing -------------------------------------------------------------------------------
    def request(self, name: str, purpose: str) -> None:
        """A crawl (or re-check) of ``name`` is due: start it, or queue it behind the running
        one of the same source, where repeated requests coalesce into one."""
        with self.lock:
            if self.stopping:
                return
            if name in self.running:
                if purpose not in self.pending.setdefault(name, set()):
                    logger.info("%s of %s is due while a %s of it runs: it will start after",
                                purpose, name, self.running[name].purpose)
                self.pending[name].add(purpose)
                return
            self._launch(name, purpose)

    def _launch(self, name: str, purpose: str) -> None:
        if purpose == TRAIN:
            self._start(name, purpose, list(self.train()))
            return
        if purpose == DIGEST:
            self._start(name, purpose, list(self.digests()))
            return
        if purpose == PURGE:
            self._start(name, purpose, list(self.purge()))
            return
        config = self.sources[name]
        if self._resting(config, purpose):
            return
        if purpose == RECHECK:
            try:
                due = self.recheck_due(config)
            except Exception as exc:
                logger.error("cannot tell which ads of %s are due for a re-check: %s", name, exc)
                return
            if not due:
                logger.info("no ad of %s is due for a re-check", name)
                return
        self._start(name, purpose, list(self.command(config, purpose)))

    def _start(self, name: str, purpose: str, command: list[str]) -> None:
        logger.info("starting %s of %s: %s", purpose, name, " ".join(command))
        process = subprocess.Popen(command, env=self.env, cwd=ROOT, start_new_session=True)
        self.running[name] = _Running(process, purpose)
        self.started.append((name, purpose))
        threading.Thread(target=self._wait, args=(name, process), daemon=True,
                         name=f"crawl-{name}").start()

    def _wait(self, name: str, process: subprocess.Popen) -> None:
        code = process.wait()
        with self.lock:
            entry = self.running.get(name)
            purpose = entry.purpose if entry else "?"
            seconds = time.monotonic() - entry.started if entry else 0.0
        level = logging.INFO if code == 0 else logging.WARNING
        logger.log(level, "%s of %s ended with exit status %s after %.0f s", purpose, name, code,
                   seconds)
        if purpose == TRAIN:
            if self.stopping:
                logger.info("the training was stopped with the scheduler (exit status %s)", code)
            else:
                self.on_train_exit(code)
        elif purpose not in (DIGEST, PURGE):
            self.on_exit()
        with self.lock:
            self.running.pop(name, None)
            waiting = self.pending.pop(name, set())
            if waiting and not self.stopping:
                # A crawl before a re-check: the crawl may have found changes already.
                first = next(p for p in (CRAWL, RECHECK, TRAIN, DIGEST, PURGE) if p in waiting)
                rest = waiting - {first}
                if rest:
                    self.pending[name] = rest
                self._launch(name, first)

    def _resting(self, config: SourceConfig, purpose: str) -> bool:
        """Whether ``config``'s site blocked us lately and its back-off has not run out."""
        try:
            until = self.resting_until(config)
        except Exception as exc:  # the store may be down: crawl as scheduled
            logger.error("cannot tell whether %s is backing off: %s", config.name, exc)
            return False
        if until is None or until <= datetime.now(UTC):
            return False
        logger.warning("%s of %s skipped: the site is blocking us; backing off until %s",
                       purpose, config.name, f"{until:%Y-%m-%d %H:%M} UTC")
        return True

    @staticmethod
    def _mark_dead() -> None:
        from django.db import connection

        from review_ui.runs import mark_dead_runs

        try:
            for run in mark_dead_runs():
                logger.warning("run %s of %s marked interrupted: %s", run.pk, run.source.name,
                               run.finish_reason)
        except Exception as exc:  # the store may be down; the next start tries again
            logger.error("could not check for dead crawl runs: %s", exc)
        finally:
            connection.close()

    # --- stopping -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Start no new crawl; let running ones finish for ``stop_timeout`` s, then SIGTERM them
        (Scrapy stops gracefully and records the run as interrupted), and SIGKILL what is left
        ``kill_after`` s later."""
        with self.lock:
            self.stopping = True
            self.pending.clear()
            processes = {name: entry.process for name, entry in self.running.items()}
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if processes:
            logger.info("stopping: waiting up to %.0f s for %s", self.stop_timeout,
                        ", ".join(sorted(processes)))
        deadline = time.monotonic() + self.stop_timeout
        for signum in (signal.SIGTERM, signal.SIGKILL):
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            alive = {n: p for n, p in processes.items() if p.poll() is None}
            if not alive:
                break
            logger.warning("sending %s to the crawls of %s", signal.Signals(signum).name,
                           ", ".join(sorted(alive)))
            for process in alive.values():
                try:
                    process.send_signal(signum)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + self.kill_after
            processes = alive
        for process in processes.values():
            process.wait()
        self.on_exit()

    def run_forever(self, run_now: bool = False) -> None:
        """Run until SIGTERM or SIGINT, then :meth:`stop`."""
        def on_signal(signum: int, frame: Any) -> None:
            logger.info("received %s", signal.Signals(signum).name)
            self._stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start(run_now=run_now)
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class JoinWorker:
    """Joins every shared crawl announced in Redis with a local ``crawl --join`` process."""

    def __init__(self, redis_url: str, prefix: str, max_crawls: int = 4, poll: float = 2.0,
                 env: dict[str, str] | None = None, stop_timeout: float = 60.0) -> None:
        from crawler.distributed import connect

        self.server = connect(redis_url)
        self.prefix = prefix
        self.max_crawls = max_crawls
        self.poll = poll
        self.env = env
        self.stop_timeout = stop_timeout
        self.running: dict[str, subprocess.Popen] = {}
        self.joined: list[str] = []
        self._stop = threading.Event()

    def tick(self) -> None:
        from crawler.distributed import SharedCrawl, active_sources, worker_id

        for name, process in list(self.running.items()):
            if process.poll() is not None:
                logger.info("left the shared crawl of %s (exit status %s)", name,
                            process.returncode)
                del self.running[name]
        for name in active_sources(self.server, self.prefix):
            if name in self.running or len(self.running) >= self.max_crawls:
                continue
            if not SharedCrawl(self.server, self.prefix, name, worker_id()).has_work():
                continue
            command = [sys.executable, "-m", "review_ui.cli", "crawl", "--join", name,
                       "--trigger", "scheduled"]
            logger.info("joining the shared crawl of %s", name)
            self.running[name] = subprocess.Popen(command, env=self.env, cwd=ROOT,
                                                  start_new_session=True)
            self.joined.append(name)

    def run_forever(self) -> None:
        def on_signal(signum: int, frame: Any) -> None:
            self._stop.set()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception as exc:  # Redis may come back; keep watching
                    logger.error("cannot look for shared crawls: %s", exc)
                self._stop.wait(self.poll)
        finally:
            for process in self.running.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in self.running.values():
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def environment() -> dict[str, str]:
    """The environment crawl processes inherit."""
    return dict(os.environ)
