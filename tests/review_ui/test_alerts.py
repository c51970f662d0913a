"""Alerts go out by webhook (the JSON DingTalk and WeCom robots accept) and by email, each
checked against a real receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from urllib.parse import unquote_plus

import pytest

from review_ui import alerts, runs
from review_ui.models import CrawlRun
from tests.receivers import SmtpReceiver

pytestmark = pytest.mark.django_db
EMPTY = {"tutorwatch/pages/list": 3, "tutorwatch/pages/list_without_links": 3}


@pytest.fixture(autouse=True)
def no_channels(settings):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = ""
    settings.TUTORWATCH_ALERT_WEBHOOK_SECRET = ""


def failed_run() -> CrawlRun:
    return runs.finish_run(runs.start_run({"name": "county_forum", "kind": "html"}), EMPTY,
                           "finished")


def test_a_failed_run_is_posted_to_the_robot_webhook_as_a_text_message(settings, webhook):
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    run = failed_run()
    assert run.alerts == {"webhook": "ok"}
    [posted] = webhook.received
    assert posted["path"] == "/robot/send" and posted["query"]["access_token"] == "t0k3n"
    assert posted["content_type"].startswith("application/json")
    assert set(posted["json"]) == {"msgtype", "text"} and posted["json"]["msgtype"] == "text"
    content = posted["json"]["text"]["content"]
    assert content.startswith("tutorwatch") and "county_forum" in content and "布局" in content


def test_a_dingtalk_secret_signs_the_webhook_url(settings, webhook):
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    settings.TUTORWATCH_ALERT_WEBHOOK_SECRET = "SEC-test-secret"
    failed_run()
    query = webhook.received[0]["query"]
    expected = base64.b64encode(hmac.new(
        b"SEC-test-secret", f"{query['timestamp']}\nSEC-test-secret".encode(), hashlib.sha256,
    ).digest()).decode()
    assert unquote_plus(query["sign"]) == expected or query["sign"] == expected


def test_a_robot_that_refuses_the_message_is_recorded_on_the_run(settings, webhook):
    webhook.reply = {"errcode": 310000, "errmsg": "keywords not in content"}
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    run = failed_run()
    assert run.alerts["webhook"].startswith("failed: the robot refused the message: errcode 310000")
    assert run.status == CrawlRun.Status.FAILED


def test_an_unreachable_webhook_is_recorded_and_the_run_still_recorded(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.TUTORWATCH_ALERT_WEBHOOK = f"http://127.0.0.1:{port}/robot/send"
    run = failed_run()
    assert run.alerts["webhook"].startswith("failed:")
    assert CrawlRun.objects.get(pk=run.pk).status == CrawlRun.Status.FAILED


def test_a_failed_run_is_mailed_through_a_real_smtp_server(settings):
    receiver = SmtpReceiver().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", receiver.port
        settings.DEFAULT_FROM_EMAIL = "tutorwatch@bureau.example"
        settings.TUTORWATCH_ALERT_EMAILS = ["a@bureau.example", "b@bureau.example"]
        run = failed_run()
    finally:
        receiver.stop()
    assert run.alerts == {"email": "sent to a@bureau.example, b@bureau.example"}
    [message] = receiver.messages
    assert message["from"] == "tutorwatch@bureau.example"
    assert message["to"] == ["a@bureau.example", "b@bureau.example"]
    assert "county_forum" in message["data"]


def test_an_smtp_server_that_is_down_is_recorded_as_a_failed_alert(settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.TUTORWATCH_ALERT_EMAILS = ["a@bureau.example"]
    run = failed_run()
    assert run.alerts["email"].startswith("failed: ConnectionRefusedError")


def test_with_no_channel_configured_the_alert_is_only_logged(caplog):
    run = failed_run()
    assert run.alerts == {}
    assert "no alert channel is configured" in caplog.text


def test_the_alert_text_names_the_problems_numbers_and_link(settings):
    settings.TUTORWATCH_UI_URL = "https://tw.example/"
    subject, text = alerts.compose(failed_run())
    assert subject.startswith("tutorwatch") and "county_forum" in subject
    assert "3 个页面中有 3 个无法解析" in text
    assert text.rstrip().endswith("https://tw.example/runs/1/") or "/runs/" in text


def test_a_run_whose_selectors_found_no_text_on_most_pages_says_so_in_chinese():
    from django.utils import translation

    stats = {"item_scraped_count": 10, "tutorwatch/pages/list": 1, "tutorwatch/pages/detail": 10,
             "tutorwatch/items/extracted/fallback/page_text": 10}
    run = runs.finish_run(runs.start_run({"name": "county_forum", "kind": "html"}), stats,
                          "finished")
    assert [failure["check"] for failure in run.health] == ["selectors_missed"]
    with translation.override("zh-hans"):
        said = alerts.describe_failure(run.health[0])
    assert said.startswith("10 个详情页中有 10 个") and "改版" in said
