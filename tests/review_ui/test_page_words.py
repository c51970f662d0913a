"""Every page in Chinese (issue 20 point 4): each GET page of review_ui/urls.py, opened with
sample objects by each role (and the login page by a visitor), holds no English word outside a
small allow-list.

What a page says is read from its text and from the attributes people read or hear (title,
aria-label, placeholder, alt, button values). Left out, by the page's own markup: ``<code>`` and
``<kbd>`` (codes of the machine interfaces and keys, shown as codes on purpose), and elements
whose ``lang`` names another language (the language menu's "English"). URLs, addresses and
identifiers (any token with a digit, ``_``, ``.``, ``/``, ``@`` or ``:``) are not words, nor
is a command quoted in backticks in a sentence (`tutorwatch model register 文件`). The
sample ads and users are written in Chinese, so an English word found is the page's own.
"""

from __future__ import annotations

import re

import lxml.html
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from tests.review_ui.every_page import ROLES, page_paths, sample_store

pytestmark = pytest.mark.django_db

# Names that stay as they are in the Chinese UI, each for a reason:
ALLOWED = {
    "tutorwatch",  # the product's name, in the header and titles
    "SHA",  # SHA-256, the hash's standard name (the token splits at the hyphen)
    "HTTP",  # the protocol's name, in the run figures (HTTP 响应)
    "robots",  # robots.txt, the file's name (split at the dot when followed by a space)
    "kB", "MB",  # units
    "PDF", "CSV", "XLSX", "JPEG", "PNG", "WebP",  # file formats, by their usual names
    "API",  # the REST API, so called in Chinese too (API 令牌)
}
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
SKIPPED_TAGS = {"code", "kbd", "script", "style"}
WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]")
TOKEN = re.compile(r"\S+")
BACKTICKED = re.compile(r"`[^`]*`")
IDENTIFIER = re.compile(r"[0-9_./@:=?&#%]")


def english_words(html: str) -> list[str]:
    root = lxml.html.document_fromstring(html)
    texts: list[str] = []

    def walk(element, skipped: bool) -> None:
        if not isinstance(element.tag, str):
            return
        lang = element.get("lang")
        skipped = skipped or element.tag in SKIPPED_TAGS or bool(
            lang and not lang.lower().startswith("zh"))
        if not skipped:
            texts.append(element.text or "")
            texts.extend(element.get(name) or "" for name in READ_ATTRIBUTES)
            if element.tag == "input" and element.get("type") in ("submit", "button"):
                texts.append(element.get("value") or "")
        for child in element:
            walk(child, skipped)
            if not skipped:
                texts.append(child.tail or "")

    for part in (root.find("head/title"), root.body):
        if part is not None:
            walk(part, False)
    words = []
    for token in TOKEN.findall(BACKTICKED.sub(" ", " ".join(texts))):
        if IDENTIFIER.search(token.rstrip(".,:;)")):
            continue
        words += [word for word in WORD.findall(token) if word not in ALLOWED]
    return words


def test_the_word_finder_finds_english_and_leaves_codes_and_other_languages():
    html = ('<html><head><title>审核 Queue</title></head><body><p>已确认 escalated '
            '<code>sandbox_forum</code> http://a.example/x?y=1 <kbd>Enter</kbd></p>'
            '<option lang="en">English</option><button aria-label="Search">搜</button>'
            '<p>tutorwatch SHA-256 t_1 用 `tutorwatch model register 文件`</p></body></html>')
    assert english_words(html) == ["Queue", "escalated", "Search"]


@pytest.mark.slow
def test_every_page_speaks_chinese_to_every_role():
    samples = sample_store()
    paths = page_paths(samples)
    assert len(paths) >= 20, paths
    found: dict[str, list[str]] = {}
    visitor = Client()
    clients = {"visitor": visitor}
    for role, (name, _group) in ROLES.items():
        clients[role] = Client()
        clients[role].force_login(get_user_model().objects.get(username=name))
    opened = 0
    for role, client in clients.items():
        for path in paths if role != "visitor" else ["/accounts/login/"]:
            response = client.get(path)
            if response.status_code in (301, 302) or not response["Content-Type"].startswith(
                    "text/html"):
                continue
            assert response.status_code < 500, (role, path)
            opened += 1
            body = response.content.decode()
            words = english_words(body) if body.strip() else ["(an empty page)"]
            if words:
                found[f"{role} {path} ({response.status_code})"] = sorted(set(words))
    assert opened >= 3 * 20
    assert not found, "\n".join(f"{where}: {words}" for where, words in found.items())
