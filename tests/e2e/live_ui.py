"""A real review UI for end-to-end tests: a fresh store set up through ``tutorwatch``
subprocesses, served by gunicorn on a free loopback port, used over HTTP like a browser would
(log in, carry the CSRF token)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from tests.conftest import ROOT

PASSWORD = "an-e2e-test-password"

SETUP_USERS = """
from django.contrib.auth import get_user_model
from review_ui.roles import grant
users = get_user_model().objects
for name, role in {roles!r}.items():
    user = users.create_user(name, password={password!r})
    grant(user, role)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shell(tutorwatch: Any, code: str) -> str:
    """Run Python in ``tutorwatch shell`` against the test's store; returns its last line."""
    done = tutorwatch("shell", "-c", code)
    lines = done.stdout.decode().strip().splitlines()
    return lines[-1] if lines else ""


def shell_json(tutorwatch: Any, code: str) -> Any:
    return json.loads(shell(tutorwatch, code))


def make_users(tutorwatch: Any, roles: dict[str, str]) -> None:
    shell(tutorwatch, SETUP_USERS.format(roles=roles, password=PASSWORD))


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2, threads: int = 4) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "review_ui.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--log-level", "warning", "--graceful-timeout", "5"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/accounts/login/", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or a loaded machine
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stderr.read().decode()[-2000:]
                raise RuntimeError(f"gunicorn did not start: {output}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def log_in(url: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/accounts/login/", timeout=10)
    response = session.post(f"{url}/accounts/login/", data={
        "username": username, "password": PASSWORD,
        "csrfmiddlewaretoken": session.cookies["csrftoken"],
    }, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:500]
    return session


def post(session: requests.Session, url: str, data: dict[str, str]) -> requests.Response:
    return session.post(url, data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
                        allow_redirects=False, timeout=30)
