"""The command line a newcomer and other tools use: Django's own commands, Scrapy's, and errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from crawler.config import BUNDLED_DIR
from crawler.sandbox import DEFAULT_PORTS
from tests.conftest import ROOT, subprocess_env


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
@pytest.mark.once  # the command line's entry points, whatever the store
def test_scrapy_list_and_scrapy_crawl_work_from_the_checkout(sandbox, tutorwatch, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    for site, port in DEFAULT_PORTS.items():
        text = (BUNDLED_DIR / f"sandbox_{site}.yaml").read_text(encoding="utf-8")
        (sources / f"sandbox_{site}.yaml").write_text(
            text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{sandbox.ports[site]}"), encoding="utf-8"
        )
    # python -m scrapy, not the scrapy script: the checkout's code first on the path.
    listed = subprocess.run([sys.executable, "-m", "scrapy", "list"], cwd=ROOT,
                            env=tutorwatch.env, capture_output=True, timeout=60)
    assert listed.stdout.decode().split() == ["sandbox_app", "sandbox_classified", "sandbox_forum"]

    tutorwatch("migrate", "-v", "0")
    crawled = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "sandbox_app",
         "-s", f"TUTORWATCH_SOURCES_DIR={sources}"],
        cwd=ROOT, env=tutorwatch.env, capture_output=True, timeout=120,
    )
    assert crawled.returncode == 0, crawled.stderr.decode()[-2000:]
    exported = tutorwatch("export", "--format", "jsonl").stdout.decode().splitlines()
    assert len(exported) == 24
    assert all(json.loads(line)["source"] == "sandbox_app" for line in exported)


# --- Scrapy's own tools from the checkout ---------------------------------------------------------

BARE_SPIDER = '''\
import scrapy


class Bare(scrapy.Spider):
    name = "bare"
    start_urls = [{url!r}]

    def parse(self, response):
        for link in response.css("a.xst"):
            yield {{"title": link.css("::text").get(), "href": link.attrib["href"]}}
'''


@pytest.fixture
def scrapy_tool(sandbox, tmp_path):
    """Run ``python -m scrapy ARGS`` in the checkout (the worktree's code first on the path)
    with a store that does not exist: nothing may need it. Returns (result, the forum list
    page's URL)."""
    store = tmp_path / "never-created.sqlite3"
    env = {**subprocess_env(f"sqlite:///{store}", tmp_path / "data"),
           "SCRAPY_PYTHON_SHELL": "python", "TUTORWATCH_CRAWL_LOG_LEVEL": "INFO"}
    env.pop("TUTORWATCH_REDIS_URL", None)

    def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "scrapy", *args], cwd=ROOT, env=env,
                              input=stdin, capture_output=True, timeout=90)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        assert not store.exists()
        assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")[-3000:]
        return done

    run.url = f"{sandbox.urls['forum']}/forum-36-1.html"
    return run


@pytest.mark.slow
def test_scrapy_shell_runs_code_on_a_page_from_the_checkout(scrapy_tool):
    done = scrapy_tool("shell", scrapy_tool.url, "-c", "response.css('title::text').get()")
    assert done.stdout.decode().strip() == "亲子教育 - 本地论坛"


@pytest.mark.slow
def test_scrapy_shell_gives_a_prompt_from_the_checkout(scrapy_tool):
    done = scrapy_tool("shell", scrapy_tool.url,
                       stdin=b"print('title:', response.css('title::text').get())\n")
    assert "title: 亲子教育 - 本地论坛" in done.stdout.decode()
    assert b">>>" in done.stdout + done.stderr


@pytest.mark.slow
def test_scrapy_fetch_prints_a_page_from_the_checkout(scrapy_tool):
    done = scrapy_tool("fetch", "--nolog", scrapy_tool.url)
    assert "<title>亲子教育 - 本地论坛</title>" in done.stdout.decode()


@pytest.mark.slow
def test_scrapy_runspider_runs_a_foreign_spider_whose_items_pass_untouched(scrapy_tool, tmp_path):
    spider = tmp_path / "bare.py"
    spider.write_text(BARE_SPIDER.format(url=scrapy_tool.url), encoding="utf-8")
    out = tmp_path / "items.jsonl"
    done = scrapy_tool("runspider", str(spider), "-o", str(out))
    items = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(items) == 8  # the first list page's threads
    assert all(set(item) == {"title", "href"} for item in items)
    assert items[0]["title"] == "求推荐 岳麓区靠谱的初中数学补习 孩子月考考砸了"
    log = done.stderr.decode()
    assert "'log_count/ERROR'" not in log
    assert "Enabled item pipelines:\n[]" in log
