"""A logged-in user without a role may use no page but the one telling them so, and filters do
not tell anyone whether a user name exists."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# Pages any logged-in user may use: logging in and out, the language switch, and the page
# that tells a user without a role what to do.
OPEN_TO_ALL = {"login", "logout", "set_language", "review_ui:home"}
# Values for the URL parameters that patterns take.
SAMPLE_VALUES = {"fmt": "csv", "app_label": "review_ui", "url": "nowhere/"}


def every_pattern(resolver: URLResolver | None = None, namespace: str = "",
                  route: str = "/") -> list[tuple[str | None, URLPattern, str]]:
    """(name, pattern, route) of every URL pattern through every include; the route is the
    patterns' text joined, for those that are not regular expressions."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        text = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            found += every_pattern(pattern, inner, route + text)
        else:
            assert isinstance(pattern, URLPattern)
            name = namespace + pattern.name if pattern.name else None
            found.append((name, pattern, route + text))
    return found


def sample_url(name: str | None, pattern: URLPattern, route: str) -> str:
    """A URL the pattern matches, with the sample values filled in."""
    if name is not None:
        groups = list(pattern.pattern.regex.groupindex)
        return reverse(name, kwargs={g: SAMPLE_VALUES.get(g, "1") for g in groups})
    if "(?P<url>" in route:  # the admin's catch-all
        return route.split("(?P<url>")[0].rstrip("^") + SAMPLE_VALUES["url"]
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES.get(m.group(1), "1"), route)


def test_a_user_without_a_role_is_refused_every_page(outsider_client, flagged):
    checked = []
    for name, pattern, route in every_pattern():
        if name in OPEN_TO_ALL:
            continue
        url = sample_url(name, pattern, route)
        response = outsider_client.get(url, follow=True)
        if response.status_code == 405:
            response = outsider_client.post(url, follow=True)
        assert response.status_code == 403, (url, response.status_code, response.redirect_chain)
        checked.append(url)
    # The review pages, the oversight pages and the whole admin were walked.
    assert {"/", "/audit/", "/work/", "/dashboard/", "/admin/"} <= set(checked)
    assert len(checked) > 40


def without_tokens(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())


@pytest.mark.parametrize("page, field", [("review_ui:audit", "actor"),
                                         ("review_ui:work", "officer")])
def test_a_filter_does_not_tell_an_officer_whether_a_user_name_exists(
    officer_client, supervisor, page, field
):
    url = reverse(page)
    existing = officer_client.get(url, {field: supervisor.username})
    unknown = officer_client.get(url, {field: "no-such-user"})
    assert existing.status_code == unknown.status_code
    assert without_tokens(existing).replace(supervisor.username, "X") == without_tokens(
        unknown).replace("no-such-user", "X")
    # Their own name is a filter they may use.
    assert officer_client.get(url, {field: "officer1"}).status_code == 200


def test_a_supervisor_filters_the_audit_log_by_any_user(supervisor_client, officer):
    response = supervisor_client.get(reverse("review_ui:audit"), {"actor": officer.username})
    assert response.status_code == 200


def test_the_menu_shows_only_pages_the_user_may_open(admin_user, officer_client):
    client = Client()
    client.force_login(admin_user)
    for user_client, start in ((client, "review_ui:audit"), (officer_client, "review_ui:queue")):
        page = user_client.get(reverse(start))
        menu = re.search(r"<nav>(.*?)</nav>", page.content.decode(), re.S)
        for url in re.findall(r'href="(/[^"]*)"', menu.group(1)):
            assert user_client.get(url, follow=True).status_code == 200, url
