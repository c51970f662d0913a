"""Personas and stored ads for the UI tests: an officer, a second officer, a supervisor, an
admin and an outsider (logged in, no role)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from review_ui.roles import ADMINS, OFFICERS, SUPERVISORS, grant
from review_ui.store import IngestResult
from review_ui.store.ingest import ingest

PASSWORD = "a-long-test-password"
CONFIRM = {"decision": "confirmed", "reason": "open_tutoring"}
DISMISS = {"decision": "dismissed", "reason": "adult"}


_WORDS = ("春夏秋冬东南西北山水田林花草鱼鸟风云雷雨星月日天金木火土红黄蓝白青紫"
          "甲乙丙丁子丑寅卯辰巳午未申酉戌亥梅兰竹菊松柏桃李")


def _distinct(url: str) -> str:
    """A few words that differ from one URL to the next, so that test ads are not grouped as
    near-copies of each other (review_ui.duplicates) unless a test wants them to be."""
    import hashlib

    digest = hashlib.sha256(url.encode()).digest()
    return "".join(_WORDS[b % len(_WORDS)] for b in digest[:24])


def make_item(url: str = "http://127.0.0.1/post/1", title: str = "小学数学一对一辅导",
              text: str | None = None, score: float = 0.93,
              label: int = 1, **extra) -> IngestResult:
    if text is None:
        text = f"周末上门辅导，提分快。电话 13912345678\n{_distinct(url)}"
    item = {
        "url": url, "source": "test_site", "title": title, "body_text": text,
        "fetched_at": "2026-11-01T10:00:00+08:00", "posted_at": "2026-10-30T09:00:00+08:00",
        "phones": ["13912345678"], "wechat_ids": ["tutor_abc"], "raw_body": b"<html>raw</html>",
        "raw_content_type": "text/html; charset=utf-8", "raw_encoding": "utf-8",
        "verdict": {"score": score, "label": label, "category": "open_tutoring",
                    "evidence": ["一对一辅导", "提分"], "model_version": "test-model"},
    }
    item.update(extra)
    return ingest([item])[0]


def _user(username: str, role: str | None = None):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    if role is not None:
        grant(user, role)
    return user


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def officer(db):
    return _user("officer1", OFFICERS)


@pytest.fixture
def second_officer(db):
    return _user("officer2", OFFICERS)


@pytest.fixture
def supervisor(db):
    return _user("supervisor1", SUPERVISORS)


@pytest.fixture
def admin_user(db):
    return _user("admin1", ADMINS)


@pytest.fixture
def outsider(db):
    """Logged in, but holds no role."""
    return _user("outsider")


@pytest.fixture
def officer_client(officer) -> Client:
    return _client(officer)


@pytest.fixture
def second_officer_client(second_officer) -> Client:
    return _client(second_officer)


@pytest.fixture
def supervisor_client(supervisor) -> Client:
    return _client(supervisor)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client(outsider)


@pytest.fixture
def flagged(db) -> IngestResult:
    return make_item()
