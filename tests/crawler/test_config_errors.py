# Tables of Chinese text: ruff counts each CJK character as two columns.
# ruff: noqa: E501
"""Broken source configs, table-driven: each is refused by ``tutorwatch crawl`` with exit status 2
and one line naming the file, the key and the problem, and not one request is sent."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.crawler.hostile_site import HostileSite

HTML = """\
name: broken_site
kind: html
start_urls: ["{url}/list/1"]
schedule: "0 */6 * * *"
max_pages: 5
list:
  links: "a.post::attr(href)"
  next: "a.next::attr(href)"
detail:
  title: "h1.title::text"
  body: "div.desc"
"""
JSON = """\
name: broken_api
kind: json
start_urls: ["{url}/api/posts?page=1"]
list:
  items: "data.list"
  link: "{url}/api/post/{{postId}}"
  next: {{param: page, while: "data.hasMore"}}
detail:
  title: "data.title"
  body: "data.content"
"""

# (what is wrong, base config, replace this, with this, fragment the message must contain)
PROBLEMS = [
    ("missing name", HTML, "name: broken_site\n", "", "key 'name': is required"),
    ("name with spaces", HTML, "name: broken_site", "name: Broken Site", "key 'name': must be lower-case"),
    ("missing kind", HTML, "kind: html\n", "", "key 'kind': is required"),
    ("unknown kind", HTML, "kind: html", "kind: rss", "key 'kind': unknown kind 'rss'"),
    ("missing start_urls", HTML, 'start_urls: ["{url}/list/1"]\n', "", "key 'start_urls': is required"),
    ("start_urls a mapping", HTML, 'start_urls: ["{url}/list/1"]', "start_urls: {{a: 1}}",
     "key 'start_urls': must be a non-empty list"),
    ("start URL not http", HTML, 'start_urls: ["{url}/list/1"]', 'start_urls: ["file:///etc/passwd"]',
     "not an http(s) URL"),
    ("allowed_domains a number", HTML, "schedule:", "allowed_domains: 7\nschedule:",
     "key 'allowed_domains'"),
    ("max_pages a word", HTML, "max_pages: 5", "max_pages: lots", "key 'max_pages': must be a whole number"),
    ("max_pages zero", HTML, "max_pages: 5", "max_pages: 0", "key 'max_pages'"),
    ("schedule in words", HTML, '"0 */6 * * *"', '"every morning"', "not a valid cron expression"),
    ("cron minute out of range", HTML, '"0 */6 * * *"', '"61 * * * *"', "not a valid cron expression"),
    ("cron with three fields", HTML, '"0 */6 * * *"', '"* * *"', "not a valid cron expression"),
    ("schedule a number", HTML, '"0 */6 * * *"', "5", "key 'schedule': must be a non-empty string"),
    ("unknown encoding", HTML, "max_pages: 5", "max_pages: 5\nencoding: martian",
     "key 'encoding': unknown encoding 'martian'"),
    ("bad CSS selector", HTML, '"a.post::attr(href)"', '"a.post[[href"', "key 'list.links': invalid CSS"),
    ("bad XPath selector", HTML, '"div.desc"', '"xpath://div[@@class]"', "key 'detail.body': invalid XPath"),
    ("empty XPath", HTML, '"div.desc"', '"xpath:"', "key 'detail.body': empty XPath"),
    ("missing detail.title", HTML, '  title: "h1.title::text"\n', "", "key 'detail.title': is required"),
    ("missing list.links", HTML, '  links: "a.post::attr(href)"\n', "", "key 'list.links': is required"),
    ("list not a mapping", HTML, 'list:\n  links: "a.post::attr(href)"\n  next: "a.next::attr(href)"\n',
     'list: "a.post"\n', "key 'list': is required and must be a mapping"),
    ("misspelt top key", HTML, "detail:", "detial:", "key 'detial': unknown key"),
    ("unknown detail key", HTML, '  body: "div.desc"', '  body: "div.desc"\n  phone: "span"',
     "key 'detail.phone': unknown key"),
    ("detail.body a number", HTML, '"div.desc"', "42", "key 'detail.body': must be a non-empty string"),
    ("render not a boolean", HTML, "max_pages: 5", "max_pages: 5\nrender: sometimes",
     "key 'render': must be true or false"),
    ("render for an API", JSON, "kind: json", "kind: json\nrender: true", "key 'render': rendering"),
    ("source_type not a register", HTML, "max_pages: 5", "max_pages: 5\nsource_type: 贴吧",
     "key 'source_type': unknown register '贴吧' (one of: classified, forum"),
    ("bad JMESPath items", JSON, '"data.list"', '"data.[list"', "key 'list.items': invalid JMESPath"),
    ("bad JMESPath detail", JSON, '"data.title"', '"data.title["', "key 'detail.title': invalid JMESPath"),
    ("link template names no field", JSON, "/api/post/{{postId}}", "/api/post/", "key 'list.link'"),
    ("bad JMESPath while", JSON, '"data.hasMore"', '"data..more"', "key 'list.next.while'"),
    ("next not a mapping", JSON, 'next: {{param: page, while: "data.hasMore"}}', "next: page",
     "key 'list.next': must be a mapping"),
    ("not YAML", HTML, "list:\n", "list: [unclosed\n", "not valid YAML"),
    ("YAML that is a list", HTML, "name: broken_site\n", "- name: broken_site\n", "not valid YAML"),
]


@pytest.fixture(scope="module")
def site():
    site = HostileSite().start()
    yield site
    site.stop()


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(site, *paths) -> str:
    site.hits.clear()
    with pytest.raises(CommandError) as caught:
        call_command("crawl", *[arg for path in paths for arg in ("--source", str(path))])
    assert caught.value.returncode == 2
    assert not site.hits, "a broken config must not crawl anything"
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_table_has_at_least_twenty_distinct_problems():
    assert len({problem for problem, *_ in PROBLEMS}) >= 20


@pytest.mark.parametrize(("problem", "base", "old", "new", "expected"), PROBLEMS,
                         ids=[p[0] for p in PROBLEMS])
def test_a_broken_config_is_refused_with_one_line_and_crawls_nothing(
    site, tmp_path, problem, base, old, new, expected
):
    config = base.format(url=site.url)
    old = old.format(url=site.url)
    assert old in config, problem
    path = _write(tmp_path, "broken.yaml", config.replace(old, new.format(url=site.url), 1))
    message = _refused(site, path)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_two_sources_with_one_name_are_refused_and_crawl_nothing(site, tmp_path):
    config = HTML.format(url=site.url)
    first = _write(tmp_path, "first.yaml", config)
    second = _write(tmp_path, "second.yaml", config)
    message = _refused(site, first, second)
    assert "key 'name': duplicate source name 'broken_site'" in message
    assert message.startswith(str(second))


def test_the_valid_base_configs_are_accepted(site, tmp_path):
    from crawler.config import load_source

    for name, base in (("html.yaml", HTML), ("json.yaml", JSON)):
        load_source(_write(tmp_path, name, base.format(url=site.url)))
