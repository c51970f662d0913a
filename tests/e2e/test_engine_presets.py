"""Engine presets end to end: a source that is only ``name``, ``engine`` and ``start_urls`` crawls
each engine's sandbox site (its default markup, or its JSON interface) into a fresh store with the
real command line, and every post comes out once with its title, text and date; ``tutorwatch
try`` shows what such a source extracts; a bad ``engine`` crawls nothing."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from crawler.sandbox import load_posts
from crawler.sandbox.engines import EngineSandbox, start_engine_sandbox
from crawler.text import clean_text

pytestmark = [pytest.mark.slow, pytest.mark.pg]  # CI runs it in its PostgreSQL pass

CHINA = timezone(timedelta(hours=8))
PRESETS = [("discuz_x3", "html"), ("discuz_x3", "json"), ("dedecms", "html"),
           ("wordpress", "html"), ("wordpress", "json"), ("phpwind", "html")]


@pytest.fixture(scope="module")
def engines() -> Iterator[EngineSandbox]:
    handle = start_engine_sandbox()
    yield handle
    handle.stop()


def county_source(tmp_path, engines: EngineSandbox, engine: str, kind: str = "html",
                  extra: str = ""):
    """The whole config of a county site on ``engine``: name, engine, start_urls."""
    path = tmp_path / f"county_{engine}_{kind}.yaml"
    path.write_text(f"name: county_{engine}_{kind}\nengine: {engine}\n"
                    f"start_urls: [\"{engines.start_url(engine, kind)}\"]\n{extra}",
                    encoding="utf-8")
    return path


def export(tutorwatch) -> list[dict]:
    done = tutorwatch("export", "--format", "jsonl", "-o", "-")
    return [json.loads(line) for line in done.stdout.decode().splitlines()]


def comparable(text: str) -> str:
    return unicodedata.normalize("NFC", clean_text(text))


def posted(post: dict) -> datetime:
    return datetime.strptime(post["posted_at"], "%Y-%m-%d %H:%M").replace(tzinfo=CHINA)


@pytest.mark.parametrize(("engine", "kind"), PRESETS)
def test_a_source_of_name_engine_and_start_urls_stores_every_post_once(
    engine, kind, engines, tutorwatch, tmp_path
):
    tutorwatch("migrate", "-v", "0")
    done = tutorwatch("crawl", "--source", str(county_source(tmp_path, engines, engine, kind)))
    assert b"finished" in done.stdout, done.stdout

    posts = load_posts("forum")
    ads = export(tutorwatch)
    by_title = {ad["title"]: ad for ad in ads}
    assert len(ads) == len({ad["url"] for ad in ads}) == len(posts)
    for post in posts:
        ad = by_title[comparable(post["title"]).replace("\n", " ")]
        assert ad["source"] == f"county_{engine}_{kind}"
        # The thread's own post, not its reply ("顶一下"), nor the page around it.
        assert ad["text"] == comparable(post["body"])
        assert datetime.fromisoformat(ad["posted_at"]) == posted(post), ad["url"]
    # Every list page was read: the pager's next link (or the API's page count) was followed.
    assert len(engines.sites[engine].hits) > len(posts)


def test_a_key_the_file_sets_overrides_the_preset(engines, tutorwatch, tmp_path):
    # A site whose theme puts the date elsewhere: the file drops the preset's posted_at and
    # caps the list pages; the preset's other selectors still crawl it.
    path = county_source(tmp_path, engines, "phpwind", extra="max_pages: 1\n"
                         "detail: {posted_at: null}\n")
    tutorwatch("migrate", "-v", "0")
    tutorwatch("crawl", "--source", str(path))
    ads = export(tutorwatch)
    assert len(ads) == 8  # list page 1 only
    assert all(ad["text"] and ad["posted_at"] is None for ad in ads)


def test_try_shows_what_an_engine_source_extracts(engines, tutorwatch, tmp_path):
    tutorwatch.env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    path = county_source(tmp_path, engines, "discuz_x3")
    done = tutorwatch("try", "--source", str(path), "--limit", "2", "--json", check=False)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["kind"] == "html"
    assert len(report["list_page"]["links"]) == 8 and report["list_page"]["unmatched"] == []
    assert report["list_page"]["next_url"].endswith("fid=36&page=2")
    first, second = load_posts("forum")[:2]
    assert [d["title"] for d in report["details"]] == [first["title"], second["title"]]
    # 1001 shows "3 天前" with the date in a title attribute; 1002 shows the date itself.
    assert [d["posted_at"] for d in report["details"]] == [
        posted(first).isoformat(), posted(second).isoformat()]
    assert all(d["unmatched"] == [] for d in report["details"])
    assert report["ads"] == 2


def test_try_uses_the_json_preset_for_a_start_url_of_the_json_interface(
    engines, tutorwatch, tmp_path
):
    tutorwatch.env["TUTORWATCH_ALLOW_NETWORKS"] = "127.0.0.0/8"
    path = county_source(tmp_path, engines, "wordpress", "json")
    done = tutorwatch("try", "--source", str(path), "--limit", "1", "--json", check=False)
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["kind"] == "json"
    [detail] = report["details"]
    assert detail["url"].endswith("/wp-json/wp/v2/posts/1001")
    assert detail["body"].startswith("孩子初二")


def test_an_unknown_engine_exits_2_naming_the_key_and_the_engines_and_crawls_nothing(
    engines, tutorwatch, tmp_path
):
    path = tmp_path / "county.yaml"
    path.write_text(f"name: county\nengine: discuz\nstart_urls: "
                    f"[\"{engines.start_url('discuz_x3')}\"]\n", encoding="utf-8")
    hits = len(engines.sites["discuz_x3"].hits)
    done = tutorwatch("crawl", "--source", str(path), check=False)
    assert done.returncode == 2
    [message] = done.stderr.decode().strip().splitlines()
    assert "county.yaml:2: key 'engine': unknown engine 'discuz'" in message
    assert "discuz_x3, dedecms, wordpress, phpwind" in message
    assert len(engines.sites["discuz_x3"].hits) == hits
