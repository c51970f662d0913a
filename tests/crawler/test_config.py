from pathlib import Path

import pytest

from crawler.config import ConfigError, bundled_sources, load_source, load_sources

VALID_HTML = """\
name: county_forum
kind: html
start_urls: ["https://example.org/forum-36-1.html"]
encoding: gbk
schedule: "0 */6 * * *"
max_pages: 200
list:
  links: "a.xst::attr(href)"
  next: "a.nxt::attr(href)"
detail:
  title: "#thread_subject::text"
  body: "td.t_f"
  posted_at: "em[id^=authorposton]::text"
  contact: "xpath://div[@class='contact']"
"""

VALID_JSON = """\
name: app_posts
kind: json
start_urls: ["https://api.example.org/posts?page=1"]
list:
  items: "data.list"
  link: "https://api.example.org/post/{postId}"
  next: {param: page, while: "data.hasMore"}
detail:
  title: "data.title"
  body: "data.content"
"""


def write(tmp_path: Path, text: str, name: str = "source.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_it_accepts_the_architecture_examples(tmp_path):
    html = load_source(write(tmp_path, VALID_HTML))
    assert html.kind == "html" and html.allowed_domains == ("example.org",)
    assert html.max_pages == 200 and html.encoding == "gbk"
    json_source = load_source(write(tmp_path, VALID_JSON, "json.yaml"))
    assert json_source.list["next"] == {"param": "page", "while": "data.hasMore"}


def test_every_bundled_source_loads():
    sources = bundled_sources()
    assert {"sandbox_classified", "sandbox_forum", "sandbox_app"} <= set(sources)


def test_a_source_may_name_its_register_for_the_examples_its_decisions_become(tmp_path):
    config = load_source(write(tmp_path, VALID_HTML + "source_type: forum\n"))
    assert config.raw["source_type"] == "forum"


BROKEN = [
    # (replace this, with this, expected fragment of the message)
    ("name: county_forum\n", "", "key 'name': is required"),
    ("kind: html", "kind: rss2", "key 'kind': unknown kind 'rss2'"),
    ('start_urls: ["https://example.org/forum-36-1.html"]', "start_urls: []", "key 'start_urls'"),
    ('start_urls: ["https://example.org/forum-36-1.html"]', 'start_urls: ["ftp://x/y"]',
     "not an http(s) URL"),
    ("max_pages: 200", "max_pages: many", "key 'max_pages'"),
    ("max_pages: 200", "max_pages: 0", "key 'max_pages'"),
    ('schedule: "0 */6 * * *"', 'schedule: "every day"', "key 'schedule'"),
    ('schedule: "0 */6 * * *"', 'schedule: "61 * * * *"', "key 'schedule'"),
    ("encoding: gbk", "encoding: klingon", "key 'encoding': unknown encoding"),
    ('links: "a.xst::attr(href)"', 'links: "a[[xst"', "key 'list.links': invalid CSS"),
    ('next: "a.nxt::attr(href)"', 'next: "xpath://a[@class="', "key 'list.next'"),
    ('body: "td.t_f"', 'body: "xpath://td[@@]"', "key 'detail.body': invalid XPath"),
    ('  title: "#thread_subject::text"\n', "", "key 'detail.title': is required"),
    ("  links: \"a.xst::attr(href)\"\n", "", "key 'list.links': is required"),
    ("detail:\n", "detial:\n", "key 'detial': unknown key"),
    ('  posted_at: "em[id^=authorposton]::text"', '  posted: "em"',
     "key 'detail.posted': unknown key"),
    ('body: "td.t_f"', "body: 42", "key 'detail.body': must be a non-empty string"),
    ("name: county_forum", "name: County Forum!", "key 'name'"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN)
def test_a_broken_html_config_names_the_key(tmp_path, old, new, expected):
    assert old in VALID_HTML
    path = write(tmp_path, VALID_HTML.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_source(path)
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith(str(path))


BROKEN_JSON = [
    ('items: "data.list"', 'items: "data.[list"', "key 'list.items': invalid JMESPath"),
    ('link: "https://api.example.org/post/{postId}"', 'link: "https://api.example.org/post"',
     "key 'list.link'"),
    ('link: "https://api.example.org/post/{postId}"', 'link: "https://x/{postId"',
     "key 'list.link'"),
    ('next: {param: page, while: "data.hasMore"}', "next: page", "key 'list.next'"),
    ('next: {param: page, while: "data.hasMore"}', 'next: {param: page, while: "data..x"}',
     "key 'list.next.while'"),
    ('title: "data.title"', 'title: "data.title["', "key 'detail.title': invalid JMESPath"),
]


@pytest.mark.parametrize(("old", "new", "expected"), BROKEN_JSON)
def test_a_broken_json_config_names_the_key(tmp_path, old, new, expected):
    assert old in VALID_JSON
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace("(", r"\(")):
        load_source(write(tmp_path, VALID_JSON.replace(old, new, 1)))


def test_the_message_gives_the_line_of_the_key(tmp_path):
    path = write(tmp_path, VALID_HTML.replace('body: "td.t_f"', 'body: "a[[["'))
    with pytest.raises(ConfigError) as caught:
        load_source(path)
    line = VALID_HTML.splitlines().index('  body: "td.t_f"') + 1
    assert str(caught.value).startswith(f"{path}:{line}: key 'detail.body'")


@pytest.mark.parametrize("text", ["- just\n- a list\n", "name: [unclosed\n", "", "\x00\x01"])
def test_yaml_that_is_not_a_mapping_is_refused(tmp_path, text):
    with pytest.raises(ConfigError):
        load_source(write(tmp_path, text))


def test_two_sources_with_one_name_are_refused(tmp_path):
    first = write(tmp_path, VALID_HTML, "a.yaml")
    second = write(tmp_path, VALID_HTML, "b.yaml")
    with pytest.raises(ConfigError, match="duplicate source name 'county_forum'"):
        load_sources([first, second])


def test_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_source(tmp_path / "nope.yaml")
