"""A page rendered by the browser (``render: true``) cannot make it fetch from an inside address
or another site: not with an image, not with a script's fetch, not through a redirect.

A real ``tutorwatch crawl`` with Debian's Chromium (skipped without it), with
``TUTORWATCH_ALLOW_NETWORKS=127.0.0.1/32``: the ad site on 127.0.0.1, 127.0.0.2 standing for a
host inside the bureau's network (among the source's domains: only the network rule stops it)
and 127.0.0.3 for another site.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, subprocess_env
from tests.crawler import store_view
from tests.crawler.guarded_sites import SOURCE, RecordingServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.once,  # the browser's side; the store's is tested on PostgreSQL elsewhere
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]

TITLE = "高中物理一对一 周末上门"
BODY = "高二物理同步辅导，在职老师上门，提分快。电话13800000777"


@pytest.fixture
def servers():
    servers = [RecordingServer(host) for host in ("127.0.0.1", "127.0.0.2", "127.0.0.3")]
    yield servers
    for server in servers:
        server.stop()


def test_a_rendered_page_cannot_make_the_browser_reach_inside_or_off_site(
        servers, tmp_path, fresh_db_url):
    site, inside, other = servers
    script = (f"document.getElementById('app').innerHTML = '<h1>{TITLE}</h1>"
              f"<div class=\"body\">{BODY}</div>';"
              f"fetch('{other.url}/beacon').catch(function () {{}});")
    extra = (f'<div id="app"></div><img src="{inside.url}/pixel.png"><img src="/hop">'
             f"<script>{script}</script>")
    site.pages["/robots.txt"] = (200, {}, b"User-agent: *\nAllow: /\n")
    site.pages["/list"] = (200, {}, b'<html><body><a class="ad" href="/post/1">1</a>'
                                     b'<a class="ad" href="/post/2">2</a></body></html>')
    site.redirect("/post/2", f"{inside.url}/landing")  # the page itself goes inside
    site.pages["/post/1"] = (200, {}, (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title></title></head>'
        f"<body>{extra}</body></html>").encode())
    site.redirect("/hop", f"{inside.url}/after-redirect.png")

    source = tmp_path / "rendered.yaml"
    config = SOURCE.format(base=site.url, domains='"127.0.0.1", "127.0.0.2"')
    source.write_text(config.replace("kind: html\n", "kind: html\nrender: true\n"),
                      encoding="utf-8")
    env = {**subprocess_env(fresh_db_url, tmp_path / "data"), "TUTORWATCH_CHROMIUM": CHROMIUM,
           "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.1/32"}
    cli = [sys.executable, "-m", "review_ui.cli"]
    subprocess.run([*cli, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=120)
    done = subprocess.run([*cli, "crawl", "--source", str(source)], env=env, cwd=ROOT,
                          capture_output=True, timeout=180)
    log = done.stderr.decode(errors="replace")
    assert done.returncode == 0, log[-3000:]

    assert dict(inside.hits) == {}
    assert dict(other.hits) == {}
    assert site.hits["/hop"] == 1  # the browser asked; the redirect's hop was refused
    assert site.hits["/post/2"] == 1
    ads = store_view.ads(fresh_db_url)
    assert ads[f"{site.url}/post/1"]["title"] == TITLE  # the page itself was rendered
    _, stats = store_view.last_run_stats(fresh_db_url)
    assert stats.get("tutorwatch/render/refused/blocked_network") == 1   # the image
    assert stats.get("tutorwatch/render/refused/offsite") == 1           # the script's fetch
    assert stats.get("tutorwatch/render/refused_connections") >= 2       # the redirects' hops
    assert stats.get("tutorwatch/failed/blocked_network") == 1           # /post/2
    assert f"the browser may not fetch {inside.url}/pixel.png" in log
    assert "the browser may not connect to 127.0.0.2" in log
