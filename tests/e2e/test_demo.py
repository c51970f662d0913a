"""`tutorwatch demo`: the UI comes up on every start and the demo officer sees flagged ads from
the sandbox sites; the demo works only in a store it built itself, reusing or rebuilding it; a
re-crawl that finds only known ads passes its health checks."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from crawler.sandbox import DEFAULT_PORTS
from review_ui.management.commands.demo import DEMO_PASSWORD, DEMO_USERNAME, MARKER_TABLE
from tests.conftest import ROOT
from tests.crawler.store_view import query

pytestmark = pytest.mark.slow

REAL_PASSWORD = "a-real-officer's-password-42"


def officer_passwords(db_url: str) -> tuple[bool, bool]:
    """Whether user officer has the real password, and whether the demo password (hashed as
    tutorwatch's settings hash them; the test settings use a faster hasher)."""
    [(encoded,)] = query(db_url, "SELECT password FROM auth_user WHERE username = 'officer'")
    hasher = PBKDF2PasswordHasher()
    return hasher.verify(REAL_PASSWORD, encoded), hasher.verify(DEMO_PASSWORD, encoded)


def skip_on_postgresql_runs() -> None:
    if os.environ.get("TUTORWATCH_TEST_PG"):
        pytest.skip("the demo's own store is a SQLite file: the SQLite run covers this")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def skip_if_sandbox_ports_busy() -> None:
    busy = [port for port in DEFAULT_PORTS.values() if port_in_use(port)]
    if busy:
        pytest.skip(f"the demo's sandbox ports are in use: {busy}")


def demo_env(data_dir: Path) -> dict[str, str]:
    """A newcomer's environment: no TUTORWATCH_DB, only a data directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("TUTORWATCH_DB", "TUTORWATCH_TEST_PG")}
    env.update(TUTORWATCH_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="review_ui.settings",
               TUTORWATCH_CRAWL_LOG_LEVEL="WARNING", TUTORWATCH_ALLOW_NETWORKS="127.0.0.0/8")
    return env


def start_log_in_and_stop(env: dict[str, str]) -> str:
    """Start the demo, wait for the UI, log in as the demo officer, check that the queue shows
    flagged ads, stop the demo with SIGINT (Ctrl-C); its whole output."""
    port = free_port()
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "review_ui.cli", "demo", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    try:
        deadline = started + 120
        while True:
            assert demo.poll() is None, demo.stdout.read().decode(errors="replace")
            try:
                login_page = opener.open(f"{base}/accounts/login/", timeout=5).read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not come up within 120 s"
                time.sleep(0.5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode({
            "username": DEMO_USERNAME, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token,
        }).encode()
        request = urllib.request.Request(f"{base}/accounts/login/", data=form,
                                         headers={"Referer": f"{base}/accounts/login/"})
        queue_page = opener.open(request, timeout=10).read().decode()
        elapsed = time.monotonic() - started
        assert "审核队列" in queue_page
        assert queue_page.count('href="/ads/') >= 10, "expected flagged ads in the queue"
        print(f"demo: flagged ads visible {elapsed:.1f} s after start")
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    output = demo.stdout.read().decode(errors="replace")
    demo.stdout.close()
    assert DEMO_USERNAME in output and DEMO_PASSWORD in output
    return output


@pytest.mark.once  # a newcomer's demo: its own SQLite store whatever the pass
def test_the_demo_serves_flagged_ads_to_the_demo_officer_on_every_start(tmp_path):
    skip_on_postgresql_runs()
    skip_if_sandbox_ports_busy()
    data = tmp_path / "data"
    env = demo_env(data)

    first = start_log_in_and_stop(env)
    assert "built a new demo store" in first
    assert not any(port_in_use(port) for port in DEFAULT_PORTS.values()), \
        "the stopped demo left its sandbox sites running"

    second = start_log_in_and_stop(env)
    assert f"reusing the demo store in the SQLite file {data / 'demo.sqlite3'}" in second
    assert "crawled once" in second
    assert "crawl failed" not in second and "health check failed" not in second, second
    # The demo kept to its own file: the default store was never created.
    assert not (data / "tutorwatch.sqlite3").exists()


def test_a_recrawl_that_finds_only_known_ads_passes_its_health_checks(tutorwatch, source_file):
    tutorwatch("migrate", "-v", "0")
    path = str(source_file("classified"))
    tutorwatch("crawl", "--source", path)
    again = tutorwatch("crawl", "--source", path, check=False)
    out = again.stdout.decode()
    assert "ads 0 (new 0), stored earlier and not due 26" in out, out
    assert again.returncode == 0, out + again.stderr.decode()[-2000:]


def test_the_demo_refuses_a_store_it_did_not_build_and_leaves_its_officer_alone(tutorwatch):
    tutorwatch("migrate", "-v", "0")
    tutorwatch.env["DJANGO_SUPERUSER_PASSWORD"] = REAL_PASSWORD
    tutorwatch("createsuperuser", "--noinput", "--username", "officer",
               "--email", "officer@bureau.example")
    db_url = tutorwatch.env["TUTORWATCH_DB"]
    runs_before = query(db_url, "SELECT count(*) FROM review_ui_crawlrun")

    done = tutorwatch("demo", "--no-serve", check=False)

    assert done.returncode == 2
    err = done.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "refusing to run the demo" in err, err
    assert "no demo marker" in err
    assert "crawling" not in done.stdout.decode()
    assert officer_passwords(db_url) == (True, False)
    assert query(db_url, "SELECT count(*) FROM review_ui_crawlrun") == runs_before
    assert query(db_url, "SELECT count(*) FROM auth_user") == [(1,)]


def test_the_demo_refuses_an_unmigrated_store_that_holds_anything_and_migrates_nothing(
    tutorwatch
):
    db_url = tutorwatch.env["TUTORWATCH_DB"]
    if db_url.startswith("sqlite:///"):
        with sqlite3.connect(db_url[len("sqlite:///"):]) as conn:
            conn.execute("CREATE TABLE notes (body text)")
    else:
        import psycopg

        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE notes (body text)")

    done = tutorwatch("demo", "--no-serve", check=False)

    assert done.returncode == 2, done.stdout.decode() + done.stderr.decode()
    assert "holds 1 tables (notes)" in done.stderr.decode()
    assert query(db_url, "SELECT count(*) FROM notes") == [(0,)]  # still there, still empty
    with pytest.raises(Exception, match="django_migrations"):
        query(db_url, "SELECT count(*) FROM django_migrations")


def test_the_demo_builds_its_store_in_an_empty_database_and_rebuilds_it_on_request(tutorwatch):
    skip_if_sandbox_ports_busy()
    tutorwatch.env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    db_url = tutorwatch.env["TUTORWATCH_DB"]

    built = tutorwatch("demo", "--no-serve")
    assert "built a new demo store" in built.stdout.decode()
    [(store_id, crawls)] = query(db_url, f"SELECT store_id, crawls FROM {MARKER_TABLE}")
    assert crawls == 1

    rebuilt = tutorwatch("demo", "--no-serve", "--fresh")
    assert "rebuilt the demo store" in rebuilt.stdout.decode()
    [(new_id, crawls)] = query(db_url, f"SELECT store_id, crawls FROM {MARKER_TABLE}")
    assert new_id != store_id and crawls == 1
    # Rebuilt means crawled from scratch: every ad is new again.
    assert "ads 26 (new 26)" in rebuilt.stdout.decode()
    assert officer_passwords(db_url) == (False, True)


@pytest.mark.once  # a newcomer's demo: its own SQLite store whatever the pass
def test_a_demo_store_that_cannot_be_read_is_rebuilt_and_kept_aside(tmp_path):
    skip_on_postgresql_runs()
    skip_if_sandbox_ports_busy()
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo.sqlite3").write_bytes(b"not a database " * 100)

    done = subprocess.run(
        [sys.executable, "-m", "review_ui.cli", "demo", "--no-serve"], env=demo_env(data),
        cwd=ROOT, capture_output=True, timeout=180,
    )

    out = done.stdout.decode()
    assert done.returncode == 0, out + done.stderr.decode()[-2000:]
    assert "rebuilt the demo store" in out and "could not be read" in out
    [aside] = data.glob("demo.sqlite3.broken-*")
    assert aside.read_bytes() == b"not a database " * 100
    assert query(f"sqlite:///{data / 'demo.sqlite3'}", "SELECT count(*) FROM auth_user") == [(1,)]
