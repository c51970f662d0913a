"""Pages that need JavaScript: a source with ``render: true`` has them rendered by Debian's
Chromium through scrapy-playwright (no browser is downloaded); skipped when Chromium is missing.
(Detection without rendering is checked by the hostile-site crawl:
``tutorwatch/failed/js_only``.)"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, subprocess_env
from tests.crawler import store_view
from tests.crawler.hostile_site import SCRIPTED, HostileSite, expected_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]


@pytest.fixture
def site():
    site = HostileSite().start()
    yield site
    site.stop()


def test_a_source_with_render_true_stores_a_script_only_page(site, tmp_path, fresh_db_url):
    source = tmp_path / "rendered.yaml"
    config = site.source("rendered", ["/js/list"], extra="render: true\n")
    source.write_text(config, encoding="utf-8")
    env = {**subprocess_env(fresh_db_url, tmp_path / "data"), "TUTORWATCH_CHROMIUM": CHROMIUM}
    cli = [sys.executable, "-m", "review_ui.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
    done = subprocess.run([*cli, "crawl", "--source", str(source)], env=env, cwd=ROOT,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    ads = store_view.ads(fresh_db_url)
    ad = ads[f"{site.url}/post/script-only"]
    assert ad["title"] == SCRIPTED.title
    assert ad["text"] == expected_text(SCRIPTED)
    assert SCRIPTED.phone in ad["phones"]
    _, stats = store_view.last_run_stats(fresh_db_url)
    assert "tutorwatch/failed/js_only" not in stats
    assert site.hits["/robots.txt"] == 1  # robots.txt is still obeyed when rendering
