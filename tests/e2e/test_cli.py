"""The command line a newcomer and other tools use: Django's own commands, Scrapy's, and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crawler.config import BUNDLED_DIR
from crawler.sandbox import DEFAULT_PORTS
from tests.conftest import ROOT


@pytest.mark.slow
def test_createsuperuser_takes_its_password_from_the_environment(tutorwatch):
    tutorwatch("migrate", "-v", "0")
    done = subprocess.run(
        [sys.executable, "-m", "review_ui.cli", "createsuperuser", "--noinput",
         "--username", "admin", "--email", "admin@example.org"],
        env={**tutorwatch.env, "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password"},
        capture_output=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_crawling_into_a_store_that_is_not_migrated_is_a_clear_error(source_file, tutorwatch):
    done = tutorwatch("crawl", "--source", str(source_file("forum")), check=False)
    assert done.returncode == 1
    assert b"tutorwatch migrate" in done.stderr


@pytest.mark.slow
def test_scrapy_list_and_scrapy_crawl_work_from_the_checkout(sandbox, tutorwatch, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    for site, port in DEFAULT_PORTS.items():
        text = (BUNDLED_DIR / f"sandbox_{site}.yaml").read_text(encoding="utf-8")
        (sources / f"sandbox_{site}.yaml").write_text(
            text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{sandbox.ports[site]}"), encoding="utf-8"
        )
    listed = subprocess.run(["scrapy", "list"], cwd=ROOT, env=tutorwatch.env, capture_output=True,
                            timeout=60)
    assert listed.stdout.decode().split() == ["sandbox_app", "sandbox_classified", "sandbox_forum"]

    tutorwatch("migrate", "-v", "0")
    crawled = subprocess.run(
        ["scrapy", "crawl", "sandbox_app", "-s", f"TUTORWATCH_SOURCES_DIR={sources}"],
        cwd=ROOT, env=tutorwatch.env, capture_output=True, timeout=120,
    )
    assert crawled.returncode == 0, crawled.stderr.decode()[-2000:]
    exported = tutorwatch("export", "--format", "jsonl").stdout.decode().splitlines()
    assert len(exported) == 24
    assert all(json.loads(line)["source"] == "sandbox_app" for line in exported)
