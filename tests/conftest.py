"""Shared fixtures: the sandbox sites on free ports, source files pointing at them, a fresh
database for subprocess crawls, and a runner for the ``tutorwatch`` command."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.config import BUNDLED_DIR
from crawler.sandbox import DEFAULT_PORTS, SandboxHandle, start_sandbox
from tests.receivers import WebhookReceiver
from tests.settings import pg_url

ROOT = Path(__file__).resolve().parent.parent

# The sandbox sites listen on 127.0.0.1, an inside address no crawl may reach by default
# (crawler.network): crawls in this process and in the subprocesses the tests start may.
# Set before anything reads crawler.settings.
os.environ["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
# The exploration sample draws 3 % of unflagged ads into the queue by default; tests count the
# queue's items, so it is off here (in the subprocesses too) and its own tests turn it on.
os.environ.setdefault("TUTORWATCH_SAMPLE_RATE", "0")
# A crawl that flags an ad starts a screenshot worker process (crawler/extensions/capture.py);
# off here (in the subprocesses too), and the capture tests turn it on.
os.environ.setdefault("TUTORWATCH_CAPTURE", "0")


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    handle = start_sandbox()
    yield handle
    handle.stop()


@pytest.fixture
def source_file(sandbox: SandboxHandle, tmp_path: Path):
    """``source_file(site)`` → a copy of the bundled sandbox source aimed at the running site."""

    def make(site: str) -> Path:
        text = (BUNDLED_DIR / f"sandbox_{site}.yaml").read_text(encoding="utf-8")
        text = text.replace(f"127.0.0.1:{DEFAULT_PORTS[site]}", f"127.0.0.1:{sandbox.ports[site]}")
        path = tmp_path / f"sandbox_{site}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


@contextmanager
def database_for_subprocess(directory: Path) -> Iterator[str]:
    """A new, empty database for commands run as subprocesses: a SQLite file in ``directory``,
    or a new PostgreSQL database when TUTORWATCH_TEST_PG is set (dropped afterwards)."""
    pg = os.environ.get("TUTORWATCH_TEST_PG")
    if not pg:
        yield f"sqlite:///{directory / 'store.sqlite3'}"
        return
    import psycopg

    base = pg_url(pg)
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    name = f"tw_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def subprocess_env(db_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TUTORWATCH_DB": db_url,
        "TUTORWATCH_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "review_ui.settings",
        "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def fresh_db_url(tmp_path: Path) -> Iterator[str]:
    with database_for_subprocess(tmp_path) as url:
        yield url


@pytest.fixture
def tutorwatch(tmp_path: Path, fresh_db_url: str):
    """Run ``tutorwatch ARGS`` in a subprocess against the fresh database."""
    env = subprocess_env(fresh_db_url, tmp_path / "data")

    def run(*args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
            capture_output=True, timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"tutorwatch {' '.join(args)} exited {done.returncode}\n"
                f"{done.stdout.decode(errors='replace')}\n{done.stderr.decode(errors='replace')[-4000:]}"
            )
        return done

    run.env = env
    return run


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A local robot webhook that records every alert POSTed to it."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


# --- The second pass of .ci/run ------------------------------------------------------------------
# .ci/run runs the suite on SQLite, then again on PostgreSQL. A test that never touches the store
# (it has no database fixture, no django_db mark, and its module starts no command against a
# store) would only repeat itself there: with TUTORWATCH_TEST_STORE_ONLY=1 it is deselected.

STORE_FIXTURES = frozenset({"db", "transactional_db", "live_server", "fresh_db_url", "tutorwatch"})
STORE_WORDS = ("TUTORWATCH_TEST_PG", "database_for_subprocess", "TUTORWATCH_DB")


def uses_the_store(item: pytest.Item, sources: dict[Path, str]) -> bool:
    if STORE_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker(
            "django_db"):
        return True
    path = Path(str(item.fspath))
    if path not in sources:
        sources[path] = path.read_text(encoding="utf-8")
    return any(word in sources[path] for word in STORE_WORDS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TUTORWATCH_TEST_LEAVE_PG") == "1":
        # CI's SQLite pass, run beside its PostgreSQL pass: the slow tests marked ``pg`` run
        # there, on PostgreSQL, and once is enough for the CI's time (.ci/run). A plain
        # ``pytest`` runs them on SQLite.
        left = [item for item in items if item.get_closest_marker("pg") is not None]
        if left:
            config.hook.pytest_deselected(items=left)
            items[:] = [item for item in items if item.get_closest_marker("pg") is None]
    if os.environ.get("TUTORWATCH_TEST_STORE_ONLY") != "1":
        return
    sources: dict[Path, str] = {}
    kept, skipped = [], []
    for item in items:
        once = item.get_closest_marker("once") is not None or (
            item.get_closest_marker("slow") is not None and item.get_closest_marker("pg") is None)
        (kept if uses_the_store(item, sources) and not once else skipped).append(item)
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = kept
