"""Ads officers submit by hand (issue 17 point 3): the UI form and POST /api/v1/submissions/,
through the store's one ingest path (classified, grouped, contacts indexed, always queued),
pictures checked by content and stored re-encoded, every bad input a clear error in Chinese
with nothing stored, the roles, CSRF and the audit row."""

from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from review_ui.models import (
    Ad,
    AdContact,
    AuditEvent,
    ReviewItem,
    Source,
    Submission,
    SubmissionImage,
)
from tests.review_ui import intake_files as files
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db

SUBMIT = reverse("intake:submit")
API = reverse("api:submissions")
TUTORING = ("周末小学数学一对一辅导，名师上门，提分快，加微信 tutor_abc 或电话 139 1234 5678，"
            "一节课 150 元，地址：雨花区香樟路 88 号")
HARMLESS = "小区物业通知：本周六上午停水检修，请各位业主提前储水。"


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def stored_counts() -> tuple[int, int, int, int, int]:
    return (Ad.objects.count(), ReviewItem.objects.count(), Submission.objects.count(),
            SubmissionImage.objects.count(),
            AuditEvent.objects.filter(action="ad.submitted").count())


def token_client(user) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


# --- The store ----------------------------------------------------------------------------------

def test_the_ingest_path_queues_an_item_marked_queue_always_whatever_its_score():
    unflagged = make_item(url="http://127.0.0.1/a", score=0.05, label=0)
    marked = make_item(url="http://127.0.0.1/b", score=0.05, label=0, queue_always=True)
    assert not unflagged.queued and not ReviewItem.objects.filter(ad_id=unflagged.ad_id)
    assert marked.queued and ReviewItem.objects.get(ad_id=marked.ad_id).status == "pending"
    assert AuditEvent.objects.filter(action="item.queued", ad_id=marked.ad_id).count() == 1


# --- The UI form ---------------------------------------------------------------------------------

def test_the_form_is_in_chinese_and_lists_the_platforms(officer_client):
    page = officer_client.get(SUBMIT)
    assert page.status_code == 200
    html = page.content.decode()
    assert "提交广告" in html and "微信群" in html and "朋友圈" in html and "小程序" in html
    assert "传单" in html and 'enctype="multipart/form-data"' in html


def test_an_officer_submits_an_ad_with_pictures_and_it_is_stored_classified_and_queued(
        officer, officer_client):
    response = officer_client.post(SUBMIT, {
        "text": TUTORING, "platform": "wechat_group", "seen_at": "2026-11-28T19:30",
        "seen_where": "某小区家长群",
        "images": [files.upload("photo.jpg", files.jpeg_with_metadata()),
                   files.upload("shot.png", files.png(), "image/png"),
                   files.upload("x.webp", files.webp(), "image/webp")],
    })
    assert response.status_code == 302
    ad = Ad.objects.select_related("source", "verdict").get()
    assert response["Location"] == reverse("review_ui:ad", args=[ad.pk])
    assert ad.url.startswith("manual:") and len(ad.url) == len("manual:") + 36
    assert ad.source.name == "manual:wechat_group" and ad.source.kind == "manual"
    assert ad.text == TUTORING and ad.verdict.label and ad.verdict.score > 0.5
    assert ad.phones == ["13912345678"] and ad.wechat_ids == ["tutor_abc"]
    assert set(AdContact.objects.filter(ad=ad).values_list("kind", "value")) == {
        ("phone", "13912345678"), ("wechat", "tutor_abc")}
    assert ad.raw_sha256 and bytes(ad.raw_page).decode() == TUTORING
    item = ReviewItem.objects.get(ad=ad)
    assert item.status == "pending"
    submission = Submission.objects.get(ad=ad)
    assert (submission.platform, submission.seen_where, submission.submitted_by) == (
        "wechat_group", "某小区家长群", officer)
    assert not submission.url_given
    assert timezone.localtime(submission.seen_at).hour == 19  # read in the UI's zone
    images = list(submission.images.order_by("position"))
    assert [i.content_type for i in images] == ["image/jpeg", "image/png", "image/webp"]
    for image in images:
        data = bytes(image.image)
        assert files.SECRET not in data and b"PK\x03\x04" not in data
        Image.open(io.BytesIO(data)).verify()
    # The JPEG's orientation was applied before its EXIF went: 64×48 turned is 48×64.
    assert (images[0].width, images[0].height) == (48, 64)
    assert images[0].original_sha256 != images[0].sha256
    event = AuditEvent.objects.get(action="ad.submitted")
    assert event.actor == officer and event.ad == ad and event.item == item
    assert event.detail["images"] == [i.sha256 for i in images]


def test_a_harmless_submission_is_queued_all_the_same(officer_client):
    response = officer_client.post(SUBMIT, {"text": HARMLESS, "platform": "leaflet"})
    assert response.status_code == 302
    ad = Ad.objects.select_related("verdict").get()
    assert not ad.verdict.label
    assert ReviewItem.objects.get(ad=ad).status == "pending"
    assert ad.source.name == "manual:leaflet"


def test_the_ad_page_shows_the_submission_and_its_pictures(officer_client):
    officer_client.post(SUBMIT, {"text": TUTORING, "platform": "moments",
                                 "seen_where": "朋友圈转发",
                                 "images": [files.upload("a.png", files.png(), "image/png")]})
    ad = Ad.objects.get()
    image = SubmissionImage.objects.get()
    page = officer_client.get(reverse("review_ui:ad", args=[ad.pk])).content.decode()
    assert "由办案人员提交" in page and "朋友圈" in page and "朋友圈转发" in page
    assert reverse("intake:image", args=[image.pk]) in page and image.sha256 in page
    served = officer_client.get(reverse("intake:image", args=[image.pk]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]
    assert served.content == bytes(image.image)


def test_what_an_officer_typed_is_escaped_and_a_manual_url_is_no_link(officer_client):
    officer_client.post(SUBMIT, {"text": "<script>alert(1)</script>补课", "platform": "other",
                                 "seen_where": "<img src=x onerror=alert(2)>"})
    ad = Ad.objects.get()
    page = officer_client.get(reverse("review_ui:ad", args=[ad.pk])).content.decode()
    assert "<script>alert(1)" not in page, page[page.find("alert(1)") - 300:][:600]
    text = page[page.find('<div class="text">'):][:400]
    assert "&lt;" in text and "script" in text and "&gt;" in text, text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert f'href="{ad.url}"' not in page and ad.url in page


def test_a_crawled_ad_page_has_no_submission_panel(officer_client, flagged):
    page = officer_client.get(reverse("review_ui:ad", args=[flagged.ad_id])).content.decode()
    assert "由办案人员提交" not in page


def test_a_submission_that_copies_a_queued_ad_joins_its_group_and_item(officer_client):
    text = "小学数学一对一辅导，周末上门，提分快，电话 13912345678，名额有限速报名"
    crawled = make_item(url="http://127.0.0.1/post/9", text=text)
    officer_client.post(SUBMIT, {"text": text + "！", "platform": "wechat_group"})
    submitted = Ad.objects.exclude(pk=crawled.ad_id).get()
    first = Ad.objects.get(pk=crawled.ad_id)
    assert submitted.duplicate_group_id is not None
    assert submitted.duplicate_group_id == first.duplicate_group_id
    assert ReviewItem.objects.count() == 1  # one item per group of copies
    assert submitted.group_review_item().ad_id == first.pk
    assert first.contact_shares == 1 and submitted.contact_shares == 1


def test_a_url_given_is_kept_and_a_stored_url_is_refused(officer_client, flagged):
    response = officer_client.post(SUBMIT, {"text": TUTORING, "platform": "app",
                                            "url": "https://example.com/post/77"})
    assert response.status_code == 302
    ad = Ad.objects.get(url="https://example.com/post/77")
    assert ad.submission.url_given
    before = stored_counts()
    stored = Ad.objects.get(pk=flagged.ad_id)
    refused = officer_client.post(SUBMIT, {"text": "另一段文字", "platform": "app",
                                           "url": stored.url})
    assert refused.status_code == 409
    assert f"已作为广告 {stored.pk} 保存" in refused.content.decode()
    assert stored_counts() == before
    assert Ad.objects.get(pk=flagged.ad_id).text == stored.text  # never overwritten


@pytest.mark.parametrize(("name", "data", "content_type", "message"), [
    ("evil.svg", files.svg(), "image/svg+xml", "不是 PNG、JPEG 或 WebP 图片"),
    ("archive.jpg", files.zip_file(), "image/jpeg", "不是 PNG、JPEG 或 WebP 图片"),
    ("text.png", b"just some text pretending", "image/png", "不是 PNG、JPEG 或 WebP 图片"),
    ("broken.jpg", files.jpeg_with_metadata()[:120], "image/jpeg", "已损坏"),
    ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (50 * 1024 * 1024), "image/png", "超过 10 MB"),
])
def test_a_bad_picture_is_a_clear_error_in_chinese_and_nothing_is_stored(
        officer_client, name, data, content_type, message):
    response = officer_client.post(SUBMIT, {
        "text": TUTORING, "platform": "wechat_group",
        "images": [files.upload("good.png", files.png(), "image/png"),
                   files.upload(name, data, content_type)]})
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and name in html and "未保存任何内容" in html
    assert TUTORING in html  # the pasted text is not lost
    assert stored_counts() == (0, 0, 0, 0, 0)
    assert not Source.objects.filter(name="manual:wechat_group").exists()


def test_a_picture_claiming_too_many_pixels_is_refused_before_it_is_decoded(officer_client):
    out = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(out, "PNG")  # 60 megapixels in a few kilobytes
    response = officer_client.post(SUBMIT, {
        "text": TUTORING, "platform": "other",
        "images": [files.upload("bomb.png", out.getvalue(), "image/png")]})
    assert response.status_code == 400
    assert "bomb.png 像素过多（10000 × 6000）" in response.content.decode()
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_a_megabyte_of_pasted_text_is_refused_in_chinese(officer_client):
    text = "补" * (1024 * 1024 // 3)  # 1 MB in UTF-8
    response = officer_client.post(SUBMIT, {"text": text, "platform": "other"})
    assert response.status_code == 400
    assert "文字太长：最多 20000 字，此段有 349525 字" in response.content.decode()
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_more_than_five_pictures_are_refused(officer_client):
    response = officer_client.post(SUBMIT, {
        "text": TUTORING, "platform": "other",
        "images": [files.upload(f"{n}.png", files.png(), "image/png") for n in range(6)]})
    assert response.status_code == 400
    assert "最多 5 张图片" in response.content.decode()
    assert stored_counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(("fields", "message"), [
    ({"text": "   ", "platform": "other"}, "必填项"),
    ({"text": TUTORING, "platform": "fax"}, "fax"),
    ({"text": TUTORING, "platform": "other", "url": "javascript:alert(1)"}, "URL"),
    ({"text": TUTORING, "platform": "other", "url": "ftp://example.com/x"}, "http://"),
    ({"text": TUTORING, "platform": "other", "seen_at": "2099-01-01T00:00"}, "未来"),
    ({"text": TUTORING, "platform": "other", "seen_at": "昨天"}, "日期/时间"),
])
def test_bad_fields_are_refused_with_nothing_stored(officer_client, fields, message):
    response = officer_client.post(SUBMIT, fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_submitting_needs_an_officer_role_and_csrf(officer, outsider_client, supervisor_client):
    assert outsider_client.get(SUBMIT).status_code == 403
    assert outsider_client.post(SUBMIT, {"text": TUTORING, "platform": "other"}).status_code == 403
    assert Client().get(SUBMIT).status_code == 302  # to the login page
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(officer)
    assert csrf.post(SUBMIT, {"text": TUTORING, "platform": "other"}).status_code == 403
    assert supervisor_client.post(SUBMIT, {"text": HARMLESS, "platform": "other"}).status_code \
        == 302
    assert Ad.objects.count() == 1


def test_the_submit_page_refuses_other_methods(officer_client):
    assert officer_client.put(SUBMIT).status_code == 405


def test_pictures_are_served_only_to_roles_that_see_the_queue(officer_client, outsider_client):
    officer_client.post(SUBMIT, {"text": TUTORING, "platform": "other",
                                 "images": [files.upload("a.png", files.png(), "image/png")]})
    image = SubmissionImage.objects.get()
    assert outsider_client.get(reverse("intake:image", args=[image.pk])).status_code == 403
    assert Client().get(reverse("intake:image", args=[image.pk])).status_code == 302
    assert officer_client.get(reverse("intake:image", args=[image.pk + 99])).status_code == 404


# --- The API -------------------------------------------------------------------------------------

def test_the_api_takes_json_and_answers_201_with_the_ad_and_its_item(officer):
    response = token_client(officer).post(API, {
        "text": TUTORING, "platform": "mini_program", "seen_at": "2026-11-30T08:15:00+08:00",
        "seen_where": "某托管小程序", "url": "https://mp.example.com/p/1"}, format="json")
    assert response.status_code == 201, response.content
    ad = Ad.objects.get()
    item = ReviewItem.objects.get()
    assert response.json() == {"ad": ad.pk, "item": item.pk}
    assert ad.url == "https://mp.example.com/p/1" and ad.source.name == "manual:mini_program"
    event = AuditEvent.objects.get(action="ad.submitted")
    assert event.detail["via"] == "api" and event.actor == officer


def test_the_api_takes_multipart_with_pictures(officer):
    response = token_client(officer).post(API, {
        "text": HARMLESS, "platform": "douyin",
        "images": [files.upload("a.jpg", files.jpeg_with_metadata()),
                   files.upload("b.webp", files.webp(), "image/webp")]}, format="multipart")
    assert response.status_code == 201, response.content
    assert SubmissionImage.objects.count() == 2
    assert ReviewItem.objects.get().pk == response.json()["item"]


@pytest.mark.parametrize(("body", "fmt", "field", "message"), [
    ({"text": TUTORING, "platform": "other", "images": ["aGVsbG8="]}, "json", "images",
     "multipart"),
    ({"text": 12, "platform": "other"}, "json", "text", "字符串"),
    ({"platform": "other"}, "json", "text", "必填"),
    ({"text": "补" * 349525, "platform": "other"}, "json", "text", "文字太长"),
    ({"text": TUTORING, "platform": "other",
      "images": [files.upload("evil.svg", files.svg(), "image/svg+xml")]}, "multipart", "images",
     "不是 PNG、JPEG 或 WebP 图片"),
    ({"text": TUTORING, "platform": "other",
      "images": [files.upload("a.jpg", files.zip_file())]}, "multipart", "images",
     "不是 PNG、JPEG 或 WebP 图片"),
])
def test_the_api_refuses_bad_input_naming_the_field_in_chinese(officer, body, fmt, field,
                                                                message):
    response = token_client(officer).post(API, body, format=fmt)
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_the_api_refuses_a_list_body_and_malformed_json(officer):
    client = token_client(officer)
    assert client.post(API, [1, 2], format="json").status_code == 400
    bad = client.post(API, "{not json", content_type="application/json")
    assert bad.status_code == 400
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_the_api_answers_409_for_a_stored_url(officer, flagged):
    url = Ad.objects.get(pk=flagged.ad_id).url
    response = token_client(officer).post(API, {"text": TUTORING, "platform": "other",
                                                "url": url}, format="json")
    assert response.status_code == 409
    assert response.json()["ad"] == flagged.ad_id and response.json()["code"] == "url_stored"


def test_the_api_needs_a_role_that_decides(outsider, officer):
    assert APIClient().post(API, {"text": TUTORING, "platform": "other"},
                            format="json").status_code == 401
    assert token_client(outsider).post(API, {"text": TUTORING, "platform": "other"},
                                       format="json").status_code == 403
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(officer)
    assert session.post(API, {"text": TUTORING, "platform": "other"},
                        format="json").status_code == 403  # a session POST needs CSRF
    assert token_client(officer).get(API).status_code == 405
    assert stored_counts() == (0, 0, 0, 0, 0)


def test_the_schema_lists_the_submission_endpoint(officer):
    schema = token_client(officer).get(reverse("api:schema"), {"format": "json"})
    assert schema.status_code == 200
    assert "/api/v1/submissions/" in schema.json()["paths"]
