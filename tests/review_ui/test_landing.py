"""Where each role lands: after logging in, on a 403 page, and when opening the admin. Every
role lands on a page it may use, no link on a 403 page leads to another 403, and no path
loops."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.test.client import RedirectCycleError
from django.urls import reverse

from tests.review_ui.conftest import PASSWORD

pytestmark = pytest.mark.django_db

# Where each persona lands after logging in, and a page that is refused to them.
LANDINGS = {
    "officer": ("/", "review_ui:dashboard"),
    "supervisor": ("/", "admin:auth_user_changelist"),
    "admin_user": ("/admin/", "review_ui:queue"),
    "outsider": ("/home/", "review_ui:queue"),
}


def log_in(user, **next_url: str):
    client = Client()
    response = client.post(reverse("login") + (f"?next={next_url['next']}" if next_url else ""),
                           {"username": user.username, "password": PASSWORD}, follow=True)
    return client, response


def links(response) -> list[str]:
    """The site's own links on a page: <a href> and the targets of its forms."""
    page = response.content.decode()
    found = re.findall(r'<a [^>]*href="(/[^"]*)"', page)
    return [url.replace("&amp;", "&") for url in found]


@pytest.mark.parametrize("persona", LANDINGS)
@pytest.mark.parametrize("next_url", [None, "/"])
def test_every_role_lands_on_a_page_it_may_use_after_logging_in(request, persona, next_url):
    user = request.getfixturevalue(persona)
    _, response = log_in(user, **({"next": next_url} if next_url else {}))
    assert response.status_code == 200, response.redirect_chain
    assert response.request["PATH_INFO"] == LANDINGS[persona][0]


def test_a_user_without_a_role_is_told_so_and_whom_to_ask(outsider):
    client, response = log_in(outsider)
    page = response.content.decode()
    assert "还没有角色" in page and "管理员" in page and "tutorwatch role outsider officer" in page
    assert f'action="{reverse("logout")}"' in page  # the way out
    for url in links(response):
        assert client.get(url, follow=True).status_code != 403, url


def test_an_officer_opening_the_admin_gets_a_clear_page_not_a_redirect_loop(officer_client):
    try:
        response = officer_client.get(reverse("admin:index"), follow=True)
    except RedirectCycleError as exc:  # ERR_TOO_MANY_REDIRECTS in a browser
        pytest.fail(f"redirect loop: {exc}")
    assert response.status_code == 403
    assert len(response.redirect_chain) <= 1
    assert reverse("review_ui:queue") in links(response)
    assert "管理" in response.content.decode()


@pytest.mark.parametrize("persona", LANDINGS)
def test_no_link_on_a_403_page_leads_to_another_403(request, persona):
    user = request.getfixturevalue(persona)
    client = Client()
    client.force_login(user)
    refused = client.get(reverse(LANDINGS[persona][1]), follow=True)
    assert refused.status_code == 403
    found = links(refused)
    assert found, "a 403 page offers a way on"
    for url in found:
        assert client.get(url, follow=True).status_code != 403, url
    if persona != "outsider":
        # Its "back" link goes where this role lands.
        assert LANDINGS[persona][0] in found


def test_the_admin_links_back_to_a_page_the_user_may_use(admin_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get(reverse("admin:index"))
    view_site = re.search(r'<a href="([^"]+)">(?:查看站点|View site)</a>', page.content.decode())
    assert view_site and client.get(view_site.group(1), follow=True).status_code == 200
