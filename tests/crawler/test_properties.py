"""Property tests: arbitrary input never raises anything but the documented errors.

- text cleaning (``crawler.text``) and entity extraction (``crawler.entities``) never raise;
- charset decisions (``crawler.charset``) never raise and always name a usable codec;
- config loading (``crawler.config``) raises only :class:`ConfigError`, with a one-line message.

Normalisation (``classifier.normalize``) has its own file under tests/classifier/.
"""

from __future__ import annotations

import codecs
import re
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.charset import decide_charset, decode, looks_binary
from crawler.config import ConfigError, load_source, parse_source
from crawler.entities import (
    extract_contact_field,
    extract_contacts,
    extract_phones,
    extract_wechat_ids,
)
from crawler.text import clean_text, html_to_text, parse_posted_at

PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# Text that looks like what ad sites send: CJK, ASCII, digits, separators, control and
# zero-width characters, full-width forms, emoji, surrogates excluded (not valid in str from pages).
ad_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from(list("小学数学辅导电话微信薇VvX：:-_. \t\r\n\u200b\u3000\xa0０１２３")),
    ),
    max_size=300,
)
html_fragment = st.lists(
    st.one_of(ad_text, st.sampled_from([
        "<p>", "</p>", "<br>", "<br/>", "<div>", "</div>", "<script>x<y</script>", "<!--", "-->",
        "<style>", "<b>", "</i>", "&nbsp;", "&#0;", "&#x110000;", "<![CDATA[", "<?php ?>", "<",
        ">", "<table><tr><td>", "<svg><g>", "\x00",
    ])),
    max_size=40,
).map("".join)


@PROPERTY
@given(ad_text)
def test_clean_text_never_raises_and_is_idempotent(text):
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert "\r" not in cleaned and "\n\n\n" not in cleaned
    assert cleaned == cleaned.strip()
    assert not any(ch in cleaned for ch in "\u200b\u200c\u200d\u2060\ufeff")


@PROPERTY
@given(html_fragment)
def test_html_to_text_never_raises_and_gives_clean_text(fragment):
    text = html_to_text(fragment)
    assert isinstance(text, str)
    assert clean_text(text) == text


@PROPERTY
@given(ad_text)
def test_parse_posted_at_gives_none_or_an_iso_timestamp(raw):
    from datetime import datetime

    parsed = parse_posted_at(raw)
    assert parsed is None or datetime.fromisoformat(parsed).tzinfo is not None


@PROPERTY
@given(ad_text)
def test_entity_extraction_never_raises_and_finds_well_formed_contacts(text):
    contacts = extract_contacts(text)
    field = extract_contact_field(text)
    for phones in (contacts["phones"], field["phones"], extract_phones(text)):
        assert all(re.fullmatch(r"1[3-9]\d{9}", phone) for phone in phones)
        assert len(phones) == len(set(phones))
    for ids in (contacts["wechat_ids"], field["wechat_ids"], extract_wechat_ids(text)):
        assert all(re.fullmatch(r"[A-Za-z0-9_\-]{6,20}", wechat) for wechat in ids)


@PROPERTY
@given(
    st.text(alphabet="小学数学辅导", max_size=20),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    st.lists(st.sampled_from([" ", "-", ".", "\u200b", ""]), min_size=10, max_size=10),
    st.text(alphabet="招生电话", max_size=20),
)
def test_a_mobile_number_hidden_by_separators_is_found(before, number, separators, after):
    pairs = zip(separators, number[1:], strict=True)
    hidden = number[0] + "".join(sep + digit for sep, digit in pairs)
    assert number in extract_phones(f"{before}{hidden}{after}")


@PROPERTY
@given(st.binary(max_size=2000), st.one_of(st.none(), st.text(max_size=60)),
       st.one_of(st.none(), st.sampled_from(["gbk", "utf-8", "klingon", "", "big5", "utf-16"])))
def test_charset_decisions_never_raise_and_name_a_usable_codec(body, content_type, override):
    decision = decide_charset(body, content_type, override)
    codecs.lookup(decision.encoding)
    body.decode(decision.encoding, errors="replace")
    assert isinstance(decode(body, content_type, override), str)
    assert isinstance(looks_binary(body), bool)


@PROPERTY
@given(ad_text, st.sampled_from(["utf-8", "gb18030", "gbk", "big5"]),
       st.sampled_from([None, "utf-8", "gbk", "gb2312", "iso-8859-1", "shift_jis"]))
def test_text_that_reads_cleanly_in_its_own_charset_decodes_back_intact(text, charset, declared):
    try:
        body = ("<html><body>" + text + "</body></html>").encode(charset)
    except UnicodeEncodeError:
        return
    content_type = f"text/html; charset={declared}" if declared else "text/html"
    decoded = decode(body, content_type)
    if any(ord(ch) > 127 for ch in text) and charset == "utf-8":
        assert decoded == body.decode("utf-8")  # valid UTF-8 always wins


VALID = {
    "name": "county_forum", "kind": "html", "start_urls": ["https://example.org/forum-36-1.html"],
    "schedule": "0 */6 * * *", "max_pages": 20,
    "list": {"links": "a.xst::attr(href)", "next": "a.nxt::attr(href)"},
    "detail": {"title": "#thread_subject::text", "body": "td.t_f"},
}
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
              st.text(max_size=30)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
)


def _only_config_errors(call, *args) -> None:
    try:
        call(*args)
    except ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message


@PROPERTY
@given(yaml_values)
def test_parse_source_of_any_data_raises_only_config_errors(data):
    _only_config_errors(parse_source, data, "any.yaml")


@PROPERTY
@given(st.sampled_from(sorted({*VALID, "list.links", "list.next", "detail.title", "detail.body",
                              "render", "encoding", "allowed_domains"})), yaml_values)
def test_a_valid_config_with_one_value_replaced_raises_only_config_errors(key, value):
    data = {**VALID, "list": dict(VALID["list"]), "detail": dict(VALID["detail"])}
    if "." in key:
        outer, inner = key.split(".")
        data[outer][inner] = value
    else:
        data[key] = value
    _only_config_errors(parse_source, data, "mutated.yaml")


@PROPERTY
@given(st.one_of(st.text(max_size=400), st.builds(yaml.safe_dump, yaml_values),
                 st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_load_source_of_any_file_raises_only_config_errors(text):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "source.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _only_config_errors(load_source, path)
