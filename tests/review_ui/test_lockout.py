"""Login lock-outs that an attacker cannot stretch: only attempts whose password was checked
count, an office behind one address is not locked out by one person, parallel guesses get no
more checks than the limit, and old attempts are pruned."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from review_ui.models import AuditEvent, LoginAttempt
from tests.review_ui.conftest import PASSWORD, _user

WINDOW = 15 * 60


def log_in(client: Client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password},
                       REMOTE_ADDR=ip)


def age_attempts(seconds: float) -> None:
    """Move every stored attempt ``seconds`` into the past."""
    for attempt in LoginAttempt.objects.all():
        LoginAttempt.objects.filter(pk=attempt.pk).update(
            at=attempt.at - timedelta(seconds=seconds))


class CountingHasher(MD5PasswordHasher):
    """The test suite's MD5 hasher, counting the passwords it checks, each check taking a
    little while so that parallel requests overlap."""

    checks = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.checks += 1
        time.sleep(0.05)
        return super().verify(password, encoded)


@pytest.mark.django_db
@override_settings(TUTORWATCH_LOGIN_FAILURES=3, TUTORWATCH_LOGIN_WINDOW_SECONDS=WINDOW)
def test_refused_attempts_do_not_extend_a_lock_out(officer):
    client = Client()
    for _ in range(3):
        assert log_in(client, "officer1", "wrong-guess").status_code == 200
    # Most of the window later, the attacker keeps knocking while the name is locked...
    age_attempts(WINDOW - 5)
    for _ in range(10):
        assert log_in(client, "officer1", "wrong-guess", ip="10.6.6.6").status_code == 429
    assert AuditEvent.objects.filter(action="user.login_refused").count() == 10
    # ...and once the checked failures leave the window, the officer logs in.
    age_attempts(10)
    assert log_in(client, "officer1", PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(TUTORWATCH_LOGIN_FAILURES=3)
def test_one_person_guessing_behind_an_offices_address_does_not_lock_the_office_out(officer):
    office = "10.20.0.1"
    for name in ("officer2", "officer3"):
        _user(name)
    # Someone in the office keeps guessing one colleague's password, far past 4x the limit,
    # and a few colleagues mistype theirs.
    for _ in range(30):
        log_in(Client(), "officer2", "wrong-guess", ip=office)
    log_in(Client(), "officer3", "typo", ip=office)
    assert log_in(Client(), "officer2", PASSWORD, ip=office).status_code == 429
    # Everyone else in the office still logs in.
    assert log_in(Client(), "officer1", PASSWORD, ip=office).status_code == 302
    assert log_in(Client(), "officer3", PASSWORD, ip=office).status_code == 302


@pytest.mark.django_db
@override_settings(TUTORWATCH_LOGIN_FAILURES=2)
def test_colleagues_who_mistyped_and_then_logged_in_do_not_count_against_the_address(officer):
    office = "10.20.0.1"
    for i in range(10):
        _user(f"colleague{i}")
        log_in(Client(), f"colleague{i}", "typo", ip=office)
        assert log_in(Client(), f"colleague{i}", PASSWORD, ip=office).status_code == 302
    assert log_in(Client(), "officer1", PASSWORD, ip=office).status_code == 302


@pytest.mark.django_db
@override_settings(TUTORWATCH_LOGIN_FAILURES=3, TUTORWATCH_LOGIN_WINDOW_SECONDS=WINDOW)
def test_attempts_older_than_the_window_are_pruned(officer):
    old = timezone.now() - timedelta(seconds=WINDOW + 60)
    for i in range(50):
        LoginAttempt.objects.create(username=f"someone{i}", ip="10.1.1.1", at=old)
    recent = LoginAttempt.objects.create(username="officer1", ip="10.1.1.1", succeeded=False)
    log_in(Client(), "nobody", "guess")
    assert set(LoginAttempt.objects.values_list("username", flat=True)) == {"officer1", "nobody"}
    assert LoginAttempt.objects.filter(pk=recent.pk).exists()


@pytest.mark.skipif(not os.environ.get("TUTORWATCH_TEST_PG"),
                    reason="parallel logins need PostgreSQL (TUTORWATCH_TEST_PG); SQLite "
                           "serialises every write anyway")
@pytest.mark.django_db(transaction=True)
@override_settings(TUTORWATCH_LOGIN_FAILURES=3,
                   PASSWORD_HASHERS=["tests.review_ui.test_lockout.CountingHasher"])
def test_parallel_guesses_get_no_more_password_checks_than_the_limit():
    _user("officer1")
    CountingHasher.checks = 0
    guesses = 16
    barrier = threading.Barrier(guesses)
    codes: list[int] = []

    def guess(i: int) -> None:
        try:
            barrier.wait()
            # Each from its own address: only the limit per name is in play.
            codes.append(log_in(Client(), "officer1", "wrong-guess",
                                ip=f"10.0.{i}.1").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [200] * 3 + [429] * (guesses - 3)
    assert CountingHasher.checks == 3
    assert LoginAttempt.objects.filter(username="officer1", succeeded=False).count() == 3
    assert AuditEvent.objects.filter(action="user.login_failed").count() == 3
