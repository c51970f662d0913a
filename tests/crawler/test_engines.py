"""Engine presets as config (``crawler.engines`` through ``crawler.config``): what ``engine:``
fills in, which of a site's interfaces it picks, what the file overrides, and the one-line error
for a bad value. The presets crawling each engine's sandbox site are in
tests/e2e/test_engine_presets.py."""

from __future__ import annotations

import pytest
import yaml

from crawler.config import ConfigError, parse_source_text
from crawler.engines import ENGINES, HTML_PRESETS


def county(engine: str, url: str = "http://bbs.example.cn/forum.php?mod=forumdisplay&fid=2",
           extra: str = ""):
    return parse_source_text(f"name: county\nengine: {engine}\nstart_urls: [\"{url}\"]\n{extra}",
                             origin="county.yaml")


@pytest.mark.parametrize("engine", ENGINES)
def test_name_engine_and_start_urls_are_a_whole_config(engine):
    config = county(engine)
    assert config.kind == "html"
    assert config.list == HTML_PRESETS[engine]["list"]
    assert config.detail == HTML_PRESETS[engine]["detail"]
    assert set(config.detail) == {"title", "body", "posted_at"}
    assert config.allowed_domains == ("bbs.example.cn",)


@pytest.mark.parametrize(("engine", "url", "link"), [
    ("discuz_x3", "http://bbs.example.cn/bbs/api/mobile/index.php?version=4&module=forumdisplay"
                  "&fid=2&page=1", "index.php?version=4&module=viewthread&tid={tid}"),
    ("wordpress", "https://jy.example.cn/news/wp-json/wp/v2/posts?categories=3",
     "/news/wp-json/wp/v2/posts/{id}"),
    ("wordpress", "https://jy.example.cn/?rest_route=/wp/v2/posts",
     "/?rest_route=/wp/v2/posts/{id}"),
])
def test_a_start_url_of_the_engines_json_interface_picks_its_json_preset(engine, url, link):
    config = county(engine, url)
    assert config.kind == "json"
    assert config.list["link"] == link


def test_the_wordpress_json_preset_pages_while_a_page_is_full():
    assert county("wordpress", "https://x.cn/wp-json/wp/v2/posts").list["next"]["while"] == \
        "length(@) >= `10`"
    assert county("wordpress", "https://x.cn/wp-json/wp/v2/posts?per_page=50") \
        .list["next"]["while"] == "length(@) >= `50`"


def test_keys_the_file_sets_override_the_preset_and_null_removes_one():
    config = county("discuz_x3", extra="max_pages: 3\nlist: {next: \"a.next::attr(href)\"}\n"
                                       "detail: {posted_at: null, contact: \"div.contact\"}\n")
    preset = HTML_PRESETS["discuz_x3"]
    assert config.max_pages == 3
    assert config.list == {"links": preset["list"]["links"], "next": "a.next::attr(href)"}
    assert config.detail == {"title": preset["detail"]["title"],
                             "body": preset["detail"]["body"], "contact": "div.contact"}


def test_kind_json_in_the_file_asks_for_the_json_preset():
    url = "http://bbs.example.cn/api/mobile/index.php?version=4&module=forumdisplay&fid=2"
    assert county("discuz_x3", url, extra="kind: json\n").kind == "json"


def test_the_stored_config_reads_back_the_same():
    # The store keeps raw (admin edits, workers joining a shared crawl): the preset filled in,
    # "engine" and the file's nulls kept.
    config = county("phpwind", extra="detail: {posted_at: null}\n")
    assert config.raw["kind"] == "html" and config.raw["engine"] == "phpwind"
    again = parse_source_text(yaml.safe_dump(config.raw, allow_unicode=True), origin="county.yaml")
    assert again == config


BAD = [
    ("engine: discuz\n", "county.yaml:2: key 'engine': unknown engine 'discuz' (one of: "
                         "discuz_x3, dedecms, wordpress, phpwind)"),
    ("engine: 3\n", "county.yaml:2: key 'engine': must be one of: discuz_x3, dedecms, "
                    "wordpress, phpwind, got 3"),
    ("engine: [discuz_x3]\n", "key 'engine': must be one of"),
    ("engine: dedecms\nkind: json\n", "county.yaml:3: key 'kind': engine 'dedecms' has no JSON "
                                      "interface; use kind html"),
    ("engine: wordpress\nkind: json\n", "key 'start_urls': kind json with engine 'wordpress' "
                                        "needs start URLs of its JSON interface"),
    ("engine: discuz_x3\nlist: 5\n", "key 'list': is required and must be a mapping"),
]


@pytest.mark.parametrize(("lines", "message"), BAD)
def test_a_bad_engine_is_one_line_naming_the_key(lines, message):
    with pytest.raises(ConfigError) as caught:
        parse_source_text(f"name: county\n{lines}start_urls: [\"http://x.cn/f\"]\n",
                          origin="county.yaml")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_mixing_pages_and_the_json_interface_is_refused():
    with pytest.raises(ConfigError, match="key 'start_urls': mixes 'discuz_x3' pages and its "
                                          "JSON interface"):
        parse_source_text(
            "name: county\nengine: discuz_x3\nstart_urls:\n  - http://x.cn/forum-2-1.html\n"
            "  - http://x.cn/api/mobile/index.php?module=forumdisplay&fid=2\n")
