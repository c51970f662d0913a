"""The page language (issue 20 point 4): LANGUAGE_CODE, whatever the browser says, unless the
user chose another in the menu; the menu names each language in its own words."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
ENGLISH_BROWSER = "en-US,en;q=0.9"


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_an_english_browser_gets_the_chinese_ui_by_default():
    response = Client().get(LOGIN, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert html_lang(response) == "zh-hans" and response["Content-Language"] == "zh-hans"
    assert "登录" in response.content.decode()


def test_language_code_decides_the_default_either_way(officer_client):
    with override_settings(LANGUAGE_CODE="en"):
        response = officer_client.get(reverse("review_ui:queue"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert html_lang(response) == "en" and "Log out" in response.content.decode()


def test_the_menu_choice_wins_over_the_default_and_the_browser():
    client = Client()
    response = client.post(reverse("set_language"), {"language": "en", "next": LOGIN},
                           HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 302
    response = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert html_lang(response) == "en" and "Log in" in response.content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": LOGIN},
                HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    assert html_lang(client.get(LOGIN, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)) == "zh-hans"


def test_a_cookie_naming_no_offered_language_falls_back_to_the_default():
    client = Client()
    client.cookies["django_language"] = "fr"
    assert html_lang(client.get(LOGIN, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)) == "zh-hans"


@pytest.mark.parametrize("cookie", [None, "en"])
def test_the_menu_names_each_language_in_its_own_words(officer_client, cookie):
    if cookie:
        officer_client.cookies["django_language"] = cookie
    page = officer_client.get(reverse("review_ui:queue")).content.decode()
    options = dict(re.findall(r'<option value="(en|zh-hans)"[^>]*>([^<]+)</option>', page))
    assert options == {"en": "English", "zh-hans": "简体中文"}
    assert "英语" not in page and "Simplified Chinese" not in page


def test_the_api_still_speaks_the_language_its_client_asks_for(officer):
    """docs/api.md: API messages follow Accept-Language (a program has no language menu)."""
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_login(officer)
    bad = {"status": "no-such-status"}
    english = api.get(reverse("api:items"), bad, HTTP_ACCEPT_LANGUAGE=ENGLISH_BROWSER)
    chinese = api.get(reverse("api:items"), bad)
    assert english.status_code == chinese.status_code == 400
    assert english["Content-Language"] == "en" and chinese["Content-Language"] == "zh-hans"
    assert english.json() != chinese.json()
