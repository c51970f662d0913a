"""`tutorwatch demo` on a fresh data directory: the UI comes up, the demo officer logs in and
sees flagged ads from the sandbox sites."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from crawler.sandbox import DEFAULT_PORTS
from review_ui.management.commands.demo import DEMO_PASSWORD, DEMO_USERNAME


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_the_demo_serves_flagged_ads_to_the_demo_officer(tmp_path):
    busy = [port for port in DEFAULT_PORTS.values() if port_in_use(port)]
    if busy:
        pytest.skip(f"the demo's sandbox ports are in use: {busy}")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TUTORWATCH_DB", "TUTORWATCH_TEST_PG")}
    env.update(
        TUTORWATCH_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="review_ui.settings"
    )
    started = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "review_ui.cli", "demo", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
    output = demo.stdout.read().decode(errors="replace")
    demo.stdout.close()
    assert DEMO_USERNAME in output and DEMO_PASSWORD in output
