"""Institution lists: the admin's phone and WeChat fields take one contact a line, normalised as
ads' contacts are; whatever shape a stored list has, the ad page still answers; and a 500
leaves a traceback in the log."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from review_ui.models import Institution
from tests.conftest import ROOT
from tests.review_ui.conftest import _client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(admin_user) -> Client:
    return _client(admin_user)


def add_form(**changes: str) -> dict[str, str]:
    form = {"name": "某某托管中心", "kind": "blacklisted", "region": "", "address": "",
            "phones": "", "wechat_ids": "", "note": ""}
    form.update(changes)
    return form


def test_an_institution_stored_with_a_bare_number_does_not_break_the_ad_page(
    officer_client, flagged, caplog
):
    # As the admin's JSON field saved "15900002468" typed without brackets: a number, not a
    # list. Other shapes a hand-edited row or an import could leave behind come along.
    Institution.objects.create(name="数字电话机构", kind="blacklisted", phones=15900002468)
    Institution.objects.create(name="字符串电话机构", kind="blacklisted", phones="13912345678")
    Institution.objects.create(name="嵌套微信机构", kind="licensed", phones=[],
                               wechat_ids=[["tutor_abc"], {"id": "x"}, None])
    with connection.cursor() as cursor:  # NULL, as a raw import might store it
        cursor.execute("UPDATE review_ui_institution SET phones = 'null' "
                       "WHERE name = '嵌套微信机构'")
    url = reverse("review_ui:ad", args=[flagged.ad_id])
    with caplog.at_level(logging.WARNING, logger="tutorwatch"):
        response = officer_client.get(url)
        assert officer_client.get(url).status_code == 200
    assert response.status_code == 200
    page = response.content.decode()
    # The ad's phone is 13912345678 and its WeChat id tutor_abc: both readable shapes match.
    assert "字符串电话机构" in page and "嵌套微信机构" in page and "数字电话机构" not in page
    warnings = [r for r in caplog.records if "institution" in r.getMessage()]
    # One warning per malformed row, not one per page view.
    assert len(warnings) == 3, [r.getMessage() for r in warnings]


def test_the_admin_saves_a_bare_phone_number_as_a_list(admin_client):
    response = admin_client.post(reverse("admin:review_ui_institution_add"),
                                 add_form(phones="15900002468"))
    assert response.status_code == 302
    assert Institution.objects.get().phones == ["15900002468"]


def test_the_admin_normalises_contacts_one_a_line_as_ads_are(admin_client):
    response = admin_client.post(reverse("admin:review_ui_institution_add"), add_form(
        phones="159 0000 2468\r\n\r\n１３８-１２３４-５６７８\r\n15900002468\r\n",
        wechat_ids="微信：tutor_abc\r\n  Math_Home2024 \r\n13912345678",
    ))
    assert response.status_code == 302
    institution = Institution.objects.get()
    assert institution.phones == ["15900002468", "13812345678"]
    assert institution.wechat_ids == ["tutor_abc", "Math_Home2024", "13912345678"]
    # The change form shows them one a line again.
    page = admin_client.get(
        reverse("admin:review_ui_institution_change", args=[institution.pk])).content.decode()
    assert "15900002468\n13812345678" in page


def test_the_admin_still_reads_a_json_list_as_the_field_took_before(admin_client):
    response = admin_client.post(reverse("admin:review_ui_institution_add"), add_form(
        phones='["159 0000 2468", 13812345678]', wechat_ids="[]"))
    assert response.status_code == 302
    institution = Institution.objects.get()
    assert institution.phones == ["15900002468", "13812345678"] and institution.wechat_ids == []


@pytest.mark.parametrize("field, value, message", [
    ("phones", "15900002468\r\n0731-8888888", "第 2 行"),
    ("phones", "15900002468 13812345678", "每行只写一个"),
    ("wechat_ids", "tutor_abc\r\n微信 群", "第 2 行"),
])
def test_a_bad_contact_line_is_named_and_nothing_is_saved(admin_client, field, value, message):
    response = admin_client.post(reverse("admin:review_ui_institution_add"),
                                 add_form(**{field: value}))
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert message in page and "errorlist" in page
    assert not Institution.objects.exists()


def test_clearing_the_wechat_field_saves_an_empty_list(admin_client):
    institution = Institution.objects.create(name="某机构", kind="licensed",
                                             phones=["15900002468"], wechat_ids=["tutor_abc"])
    response = admin_client.post(
        reverse("admin:review_ui_institution_change", args=[institution.pk]),
        add_form(name="某机构", kind="licensed", phones="15900002468", wechat_ids=""))
    assert response.status_code == 302
    institution.refresh_from_db()
    assert institution.wechat_ids == [] and institution.phones == ["15900002468"]
    response = admin_client.post(reverse("admin:review_ui_institution_add"),
                                 add_form(name="空联系方式"))
    assert response.status_code == 302
    assert Institution.objects.get(name="空联系方式").phones == []


SERVER_ERROR = """
import django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False, HTTP_HOST="127.0.0.1")
client.cookies["sessionid"] = "x" * 32
print(client.get("/accounts/login/").status_code)
"""


def test_a_server_error_leaves_a_traceback_in_the_log(tmp_path):
    # A store that was never migrated: reading the session fails, a real 500.
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "review_ui.settings",
           "TUTORWATCH_DB": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
           "TUTORWATCH_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SERVER_ERROR], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "500", done.stderr[-2000:]
    assert "Internal Server Error: /accounts/login/" in done.stderr
    assert "Traceback" in done.stderr and "no such table" in done.stderr
