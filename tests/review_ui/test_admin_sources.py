"""Sources and institutions in the admin: a source's config is checked by the loader that checks
YAML files, with the same one-line errors, and nothing invalid is saved; every change to a
source or an institution is an audit row naming each changed field, old and new."""

from __future__ import annotations

import html
import json

import pytest
import yaml
from django.test import Client
from django.urls import reverse

from crawler.config import BUNDLED_DIR, ConfigError, parse_source_text
from review_ui.models import AUDIT_ACTIONS, AuditEvent, Institution, Source
from tests.review_ui.conftest import _client

pytestmark = pytest.mark.django_db
FORUM_YAML = (BUNDLED_DIR / "sandbox_forum.yaml").read_text(encoding="utf-8")


@pytest.fixture
def forum(db) -> Source:
    config = yaml.safe_load(FORUM_YAML)
    return Source.objects.create(name="sandbox_forum", kind="html", config=config,
                                 config_path=str(BUNDLED_DIR / "sandbox_forum.yaml"))


@pytest.fixture
def admin_client(admin_user) -> Client:
    return _client(admin_user)


def change(client: Client, source: Source, config_text: str, **fields: str):
    data = {"name": source.name, "config": config_text, "config_path": source.config_path}
    data.update(fields)
    return client.post(reverse("admin:review_ui_source_change", args=[source.pk]), data)


def loader_error(text: str, origin: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_source_text(text, origin=origin)
    return str(caught.value)


def form_errors(response) -> str:
    return html.unescape(response.content.decode())


@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace('body: "td.t_f"', 'body: "td[t_f"'), "key 'detail.body'"),
    (lambda t: t.replace('"http://127.0.0.1:8702/forum-36-1.html"', '"file:///etc/passwd"'),
     "key 'start_urls'"),
    (lambda t: t.replace("max_pages: 20", "max_pages: -3"), "key 'max_pages'"),
    (lambda t: t.replace("list:", "list: [oops"), "not valid YAML"),
    (lambda t: t + "cookies: {session: x}\n", "key 'cookies': unknown key"),
])
def test_an_invalid_config_is_refused_with_the_loaders_error_and_nothing_is_saved(
    supervisor_client, forum, edit, key
):
    text = edit(FORUM_YAML)
    response = change(supervisor_client, forum, text)
    assert response.status_code == 200  # the form again
    expected = loader_error(text, "<admin:sandbox_forum>")
    assert key in expected and "\n" not in expected
    assert expected in form_errors(response)  # the very line the file loader gives
    assert "配置无效" in form_errors(response)
    forum.refresh_from_db()
    assert forum.config == yaml.safe_load(FORUM_YAML)
    assert not AuditEvent.objects.filter(action__startswith="source.").exists()


def test_a_config_must_keep_its_sources_name(supervisor_client, forum):
    response = change(supervisor_client, forum, FORUM_YAML.replace("name: sandbox_forum",
                                                                   "name: other_forum"))
    assert response.status_code == 200
    assert "key 'name'" in form_errors(response)
    assert Source.objects.get(pk=forum.pk).config["name"] == "sandbox_forum"


def test_a_valid_edit_is_saved_and_audited_key_by_key(supervisor_client, supervisor, forum):
    page = supervisor_client.get(reverse("admin:review_ui_source_change", args=[forum.pk]))
    assert "td.t_f" in page.content.decode()  # shown as YAML, ready to edit
    text = FORUM_YAML.replace("max_pages: 20", "max_pages: 5").replace(
        'links: "a.xst::attr(href)"', 'links: "a.s.xst::attr(href)"')
    response = change(supervisor_client, forum, text)
    assert response.status_code == 302, form_errors(response)[-3000:]
    forum.refresh_from_db()
    assert forum.config["max_pages"] == 5 and forum.kind == "html"
    event = AuditEvent.objects.get(action="source.changed")
    assert event.actor == supervisor
    assert event.detail == {
        "source": "sandbox_forum", "source_id": forum.pk,
        "changes": {
            "config.list.links": {"old": "a.xst::attr(href)", "new": "a.s.xst::attr(href)"},
            "config.max_pages": {"old": 20, "new": 5},
        },
    }
    # Saving it again unchanged writes no row.
    assert change(supervisor_client, forum, text).status_code == 302
    assert AuditEvent.objects.filter(action="source.changed").count() == 1


def test_a_config_given_as_json_is_accepted(supervisor_client, forum):
    config = yaml.safe_load(FORUM_YAML)
    config["max_pages"] = 7
    response = change(supervisor_client, forum, json.dumps(config, ensure_ascii=False))
    assert response.status_code == 302
    assert Source.objects.get(pk=forum.pk).config["max_pages"] == 7


def test_adding_and_deleting_a_source_are_audited(admin_client, admin_user):
    text = FORUM_YAML.replace("sandbox_forum", "county_forum")
    response = admin_client.post(reverse("admin:review_ui_source_add"),
                                 {"name": "county_forum", "config": text, "config_path": ""})
    assert response.status_code == 302, form_errors(response)[-3000:]
    source = Source.objects.get(name="county_forum")
    assert source.kind == "html"
    added = AuditEvent.objects.get(action="source.added")
    assert added.actor == admin_user
    assert added.detail["changes"]["config.detail.body"] == {"old": None, "new": "td.t_f"}
    response = admin_client.post(reverse("admin:review_ui_source_delete", args=[source.pk]),
                                 {"post": "yes"})
    assert response.status_code == 302 and not Source.objects.filter(pk=source.pk).exists()
    deleted = AuditEvent.objects.get(action="source.deleted")
    assert deleted.detail["source"] == "county_forum"
    assert deleted.detail["values"]["config.start_urls"] == [
        "http://127.0.0.1:8702/forum-36-1.html"]


def test_institution_changes_are_audited_with_old_and_new_values(admin_client, admin_user):
    form = {"name": "某某托管中心", "kind": "blacklisted", "region": "", "address": "",
            "phones": "15900002468", "wechat_ids": "", "note": ""}
    assert admin_client.post(reverse("admin:review_ui_institution_add"), form).status_code == 302
    institution = Institution.objects.get()
    added = AuditEvent.objects.get(action="institution.added")
    assert added.actor == admin_user
    assert added.detail["changes"]["phones"] == {"old": None, "new": ["15900002468"]}
    form.update(phones="15900002468\n13812345678", kind="licensed")
    change_url = reverse("admin:review_ui_institution_change", args=[institution.pk])
    assert admin_client.post(change_url, form).status_code == 302
    changed = AuditEvent.objects.get(action="institution.changed")
    assert changed.detail["changes"] == {
        "kind": {"old": "blacklisted", "new": "licensed"},
        "phones": {"old": ["15900002468"], "new": ["15900002468", "13812345678"]},
    }
    # The bulk "delete selected" action writes a row per institution too.
    response = admin_client.post(reverse("admin:review_ui_institution_changelist"), {
        "action": "delete_selected", "_selected_action": [str(institution.pk)], "post": "yes"})
    assert response.status_code == 302 and not Institution.objects.exists()
    deleted = AuditEvent.objects.get(action="institution.deleted")
    assert deleted.detail["institution"] == "某某托管中心"
    assert deleted.detail["values"]["phones"] == ["15900002468", "13812345678"]


def test_the_new_audit_actions_have_chinese_names(supervisor_client):
    from django.utils import translation

    with translation.override("zh-hans"):
        for action in ("source.added", "source.changed", "source.deleted",
                       "institution.added", "institution.changed", "institution.deleted"):
            label = str(AUDIT_ACTIONS[action])
            assert label != action and any("\u4e00" <= ch <= "\u9fff" for ch in label), action
