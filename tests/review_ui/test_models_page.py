"""The model versions page: supervisors see the versions and their figures and promote there
(POST with CSRF, role checked on the server, audited); crawled or sidecar text is escaped."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from review_ui import model_registry
from review_ui.models import AuditEvent, ModelVersion
from tests.review_ui.conftest import _client
from tests.review_ui.test_model_registry import model_file

PAGE = reverse("review_ui:models")
PROMOTE = reverse("review_ui:promote_model")


def test_a_supervisor_sees_the_versions_and_promotes_one(supervisor, tmp_path):
    model_registry.register_model(model_file(tmp_path / "a", "v-<b>bold</b>", 0.975, 0.91))
    client = _client(supervisor)
    page = client.get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "v-&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold</b>" not in page
    assert "0.9750" in page and "0.9100" in page
    response = client.post(PROMOTE, {"version": "v-<b>bold</b>"})
    assert response.status_code == 302
    assert model_registry.current().version == "v-<b>bold</b>"
    event = AuditEvent.objects.get(action="model.promoted")
    assert event.actor == supervisor and event.detail["forced"] is False


def test_a_worse_version_is_refused_on_the_page_unless_forced(supervisor, tmp_path):
    model_registry.register_model(model_file(tmp_path / "a", "good", 0.97))
    model_registry.promote("good")
    model_registry.register_model(model_file(tmp_path / "b", "worse", 0.90))
    client = _client(supervisor)
    page = client.post(PROMOTE, {"version": "worse"}, follow=True,
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    # The refusal is in the page's language, naming the figure and both F1s.
    assert "未启用：版本 worse 在语料测试集上比当前模型差，超过容差 0.01" in page
    assert "语料测试集：F1 0.9000，当前模型为 0.9700" in page
    assert "worse than" not in page
    assert model_registry.current().version == "good"
    client.post(PROMOTE, {"version": "worse", "force": "1"})
    assert model_registry.current().version == "worse"
    event = AuditEvent.objects.filter(action="model.promoted").latest("pk")
    assert event.actor == supervisor and event.detail["forced"] is True


def test_officers_may_neither_see_nor_promote(officer, tmp_path):
    model_registry.register_model(model_file(tmp_path, "v1", 0.99))
    client = _client(officer)
    assert client.get(PAGE).status_code == 403
    assert client.post(PROMOTE, {"version": "v1"}).status_code == 403
    assert not ModelVersion.objects.filter(is_current=True).exists()


def test_promoting_needs_the_csrf_token(supervisor, tmp_path):
    model_registry.register_model(model_file(tmp_path, "v1", 0.99))
    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    assert client.post(PROMOTE, {"version": "v1"}).status_code == 403
    assert model_registry.current() is None


def test_an_unknown_version_is_refused_in_chinese_and_changes_nothing(supervisor, tmp_path):
    model_registry.register_model(model_file(tmp_path / "a", "good", 0.97))
    model_registry.promote("good")
    client = _client(supervisor)
    page = client.post(PROMOTE, {"version": "<nope>"}, follow=True,
                       HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "没有模型版本 &#x27;&lt;nope&gt;&#x27;" in page and "<nope>" not in page
    assert model_registry.current().version == "good"
    assert AuditEvent.objects.filter(action="model.promoted").count() == 1


def test_the_page_shows_who_trained_a_version_and_what_it_was_measured_beside(supervisor,
                                                                             tmp_path):
    path = model_file(tmp_path / "a", "cand", 0.97, compared={"test": (0.96, 0.97),
                                                             "held_out_decisions": (0.7, 0.8)})
    model_registry.register_model(path, trained_by_name="scheduler")
    page = _client(supervisor).get(PAGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "<td>scheduler</td>" in page
    assert "与 tutorwatch-" in page and "对比测得" in page
    assert "F1 held_out_decisions" in page and "0.8000" in page
