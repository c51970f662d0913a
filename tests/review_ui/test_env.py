"""The strict readers of environment variables: a malformed value names its variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from review_ui.env import envbool, envchoice, envcron, envfloat, envint, envurl, mask_url

NAME = "TUTORWATCH_TEST_SETTING"


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (lambda: envbool(NAME, False), "maybe", "must be one of 1/0"),
        (lambda: envint(NAME, 5), "5.5", "must be a whole number"),
        (lambda: envfloat(NAME, 0.2, low=0, high=1), "1.5", "must be between 0 and 1"),
        (lambda: envfloat(NAME, 30.0, low=0), "-1", "must be at least 0"),
        (lambda: envfloat(NAME, None, low=0, high=1), "high", "must be a number"),
        (lambda: envfloat(NAME, None, low=0, high=1), "nan", "must be a number"),
        (lambda: envcron(NAME, "30 3 * * *"), "61 * * * *",
         "must be a five-field cron expression (minute hour day month weekday, such as "
         "'30 3 * * *'); got '61 * * * *'"),
        (lambda: envurl(NAME, ("redis", "rediss")), "http://127.0.0.1",
         "must be a URL starting with redis:// or rediss://; got 'http://127.0.0.1'"),
        (lambda: envchoice(NAME, ("text", "json"), "text"), "xml",
         "must be one of text, json; got 'xml'"),
    ],
)
def test_a_malformed_value_is_refused_naming_the_variable(monkeypatch, reader, raw, message):
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ImproperlyConfigured, match=NAME) as caught:
        reader()
    assert message in str(caught.value)


def test_unset_or_empty_values_take_the_default(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    assert envfloat(NAME, None, low=0, high=1) is None
    assert envint(NAME, 5) == 5
    monkeypatch.setenv(NAME, "")
    assert envfloat(NAME, None, low=0, high=1) is None
    assert envbool(NAME, True) is False  # an empty boolean is off, as in the shell
    monkeypatch.setenv(NAME, " 0.85 ")
    assert envfloat(NAME, None, low=0, high=1) == 0.85


def test_a_refused_url_is_named_without_its_password_or_token(monkeypatch):
    monkeypatch.setenv(NAME, "http://bot:pa55@example.org/send?access_token=t0k3n")
    with pytest.raises(ImproperlyConfigured) as caught:
        envurl(NAME, ("redis",))
    message = str(caught.value)
    assert "pa55" not in message and "t0k3n" not in message
    assert "'http://bot:***@example.org/send?access_token=***'" in message
    assert mask_url("postgresql://tw:secret@db:5432/tw") == "postgresql://tw:***@db:5432/tw"


def test_a_choice_is_read_whatever_its_case(monkeypatch):
    monkeypatch.setenv(NAME, " JSON ")
    assert envchoice(NAME, ("text", "json"), "text") == "json"
