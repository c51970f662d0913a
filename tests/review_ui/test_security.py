"""Login throttling, session expiry, security headers, and the production settings."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from review_ui.models import AuditEvent, LoginAttempt
from tests.conftest import ROOT
from tests.review_ui.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def log_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=ip)


@override_settings(TUTORWATCH_LOGIN_FAILURES=3)
def test_guessing_a_password_is_throttled_even_when_the_guess_is_right(officer):
    client = Client()
    for _ in range(3):
        assert log_in(client, "officer1", "wrong-guess").status_code == 200
    response = log_in(client, "officer1", PASSWORD)
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="user.login_failed").count() == 3
    assert AuditEvent.objects.filter(action="user.login_refused").count() == 1


@pytest.mark.parametrize("variant", ["officer1 ", " officer1", "ｏｆｆｉｃｅｒ1", "OFFICER1"])
@override_settings(TUTORWATCH_LOGIN_FAILURES=3)
def test_spelling_the_name_differently_does_not_escape_the_throttle(officer, variant):
    client = Client()
    for _ in range(3):
        log_in(client, "officer1", "wrong-guess")
    response = log_in(client, variant, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Guesses under the variants count towards the plain name too.
    LoginAttempt.objects.all().delete()
    for _ in range(3):
        log_in(client, variant, "wrong-guess")
    assert log_in(client, "officer1", PASSWORD).status_code == 429


@override_settings(TUTORWATCH_LOGIN_FAILURES=3)
def test_the_throttle_lifts_after_the_window(officer):
    client = Client()
    for _ in range(3):
        log_in(client, "officer1", "wrong-guess")
    LoginAttempt.objects.update(at=LoginAttempt.objects.first().at.replace(year=2020))
    assert log_in(client, "officer1", PASSWORD).status_code == 302


@override_settings(TUTORWATCH_LOGIN_FAILURES=2)
def test_one_address_trying_many_names_is_throttled(officer):
    client = Client()
    for i in range(8):
        log_in(client, f"nobody{i}", "guess", ip="10.9.9.9")
    assert log_in(client, "officer1", PASSWORD, ip="10.9.9.9").status_code == 429
    # Another address is not affected.
    assert log_in(Client(), "officer1", PASSWORD, ip="10.1.1.1").status_code == 302


def test_a_successful_login_is_audited(officer):
    assert log_in(Client(), "officer1", PASSWORD).status_code == 302
    assert AuditEvent.objects.filter(action="user.logged_in", actor=officer).exists()


@override_settings(TUTORWATCH_SESSION_IDLE_SECONDS=60)
def test_an_idle_session_ends(officer_client, flagged):
    assert officer_client.get(reverse("review_ui:queue")).status_code == 200
    session = officer_client.session
    session["tutorwatch_last_seen"] = int(time.time()) - 120
    session.save()
    response = officer_client.get(reverse("review_ui:queue"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert officer_client.get(reverse("review_ui:queue")).status_code == 302


@override_settings(SESSION_COOKIE_AGE=3600, TUTORWATCH_SESSION_IDLE_SECONDS=600)
def test_a_busy_session_still_ends_its_longest_time_after_login(officer, flagged):
    client = Client()
    assert log_in(client, "officer1", PASSWORD).status_code == 302
    assert client.get(reverse("review_ui:queue")).status_code == 200
    # Busy all along (seen a minute ago), but logged in just over an hour ago.
    session = client.session
    session["tutorwatch_login_at"] = int(time.time()) - 3601
    session["tutorwatch_last_seen"] = int(time.time()) - 60
    session.save()
    response = client.get(reverse("review_ui:queue"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "本次登录已达到最长时限" in page
    # Just under the limit, the session goes on.
    assert log_in(client, "officer1", PASSWORD).status_code == 302
    session = client.session
    session["tutorwatch_login_at"] = int(time.time()) - 3500
    session.save()
    assert client.get(reverse("review_ui:queue")).status_code == 200


def test_a_session_without_a_login_time_is_ended(officer_client, flagged):
    assert officer_client.get(reverse("review_ui:queue")).status_code == 200
    session = officer_client.session
    del session["tutorwatch_login_at"]
    session.save()
    assert officer_client.get(reverse("review_ui:queue")).status_code == 302


def test_sessions_last_a_working_day_and_end_with_the_browser(settings):
    assert settings.SESSION_COOKIE_AGE <= 8 * 3600
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True


def test_every_page_sends_a_strict_content_security_policy(officer_client, flagged):
    for url in (reverse("login"), reverse("review_ui:queue"),
                reverse("review_ui:ad", args=[flagged.ad_id]), reverse("review_ui:audit")):
        response = officer_client.get(url)
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert response["X-Frame-Options"] == "DENY", url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert "Permissions-Policy" in response, url


def tutorwatch(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TUTORWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "review_ui.cli", *args], cwd=ROOT, capture_output=True, text=True,
        env={**base, "DJANGO_SETTINGS_MODULE": "review_ui.settings", **env}, timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    done = tutorwatch(
        "check", "--deploy", "--fail-level", "WARNING",
        TUTORWATCH_DATA_DIR=str(tmp_path), TUTORWATCH_HTTPS="1",
        TUTORWATCH_SECRET_KEY="x7#Qm2-long-random-production-key-9fK2pL0vR8sT4wY6zA1bC3dE5gH7jJ",
        TUTORWATCH_ALLOWED_HOSTS="review.example.gov.cn",
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_without_the_production_settings_check_deploy_warns(tmp_path):
    done = tutorwatch("check", "--deploy", "--fail-level", "WARNING",
                      TUTORWATCH_DATA_DIR=str(tmp_path))
    assert done.returncode != 0
    assert "SECURE_SSL_REDIRECT" in done.stderr or "security.W008" in done.stderr


def test_debug_is_off_unless_asked_for_and_a_bad_value_is_an_error(tmp_path):
    code = "from django.conf import settings; print(settings.DEBUG)"
    off = tutorwatch("shell", "-c", code, TUTORWATCH_DATA_DIR=str(tmp_path))
    assert off.stdout.strip().splitlines()[-1] == "False"
    on = tutorwatch("shell", "-c", code, TUTORWATCH_DATA_DIR=str(tmp_path), TUTORWATCH_DEBUG="1")
    assert on.stdout.strip().splitlines()[-1] == "True"
    bad = tutorwatch("shell", "-c", code, TUTORWATCH_DATA_DIR=str(tmp_path),
                     TUTORWATCH_DEBUG="maybe")
    assert bad.returncode != 0 and "TUTORWATCH_DEBUG" in bad.stderr
