"""The evidence sheet of a case (issue 17 point 2): the PDF printed by Debian's Chromium, read
back with poppler's pdftotext and pdfinfo; page 1 rendered to a PNG in the tests' artefacts
folder (``TUTORWATCH_TEST_ARTEFACTS``, default ``tests/artefacts/``) for a person to look at;
the case page; who may see what; the command."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from review_ui import evidence
from review_ui.models import (
    AuditEvent,
    Case,
    ReviewItem,
    Screenshot,
    Source,
    Submission,
    SubmissionImage,
)
from review_ui.store.rechecks import record_takedown
from tests.conftest import ROOT
from tests.review_ui.conftest import PASSWORD, make_item

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
POPPLER = shutil.which("pdftotext") and shutil.which("pdftoppm") and shutil.which("pdfinfo")
ARTEFACTS = Path(os.environ.get("TUTORWATCH_TEST_ARTEFACTS") or ROOT / "tests" / "artefacts")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
needs_poppler = pytest.mark.skipif(not POPPLER, reason="poppler-utils (pdftotext, pdftoppm, "
                                                       "pdfinfo) is not installed")
HOSTILE = '<script>alert("x")</script><img src="http://127.0.0.1:9/leak.png">'
SOURCE_DESCRIPTION = "本地测试 · 县城论坛"
TEXTS = [
    "周末上门一对一辅导，小学数学、初中物理，提分快。\n电话 13912345678，微信 tutor_abc",
    "暑假托管班招生：作业辅导＋课程预习，名额有限。地址：雨花区某小区 3 栋",
    f"{HOSTILE}\n初三冲刺班，老师是在职教师，家长群内报名。",
]


def screenshot_png(label: str, height: int = 900) -> bytes:
    """A made-up capture of a page: a header bar, the ad's label and some text lines."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1280, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 1280, 90], fill=(40, 90, 160))
    draw.text((30, 30), f"forum · {label}", fill="white")
    for y in range(130, height - 40, 44):
        draw.rectangle([30, y, 30 + (y * 7) % 900 + 250, y + 18], fill=(205, 205, 205))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def add_screenshot(ad_id: int, image: bytes, **extra) -> Screenshot:
    return Screenshot.objects.create(
        ad_id=ad_id, status=Screenshot.Status.OK, image=image,
        sha256=hashlib.sha256(image).hexdigest(), captured_at=timezone.now(),
        width=1280, height=900, attempts=1, **extra)


def make_case(officer, texts=TEXTS, screenshots: bool = True) -> Case:
    """A case of len(texts) escalated ads, each with a screenshot; the second taken down."""
    case = None
    for n, text in enumerate(texts):
        url = f"http://127.0.0.1/thread-{n}.html"
        title = f"{['小学数学', '暑期托管', '初三冲刺'][n % 3]}一对一辅导 {n}"
        result = make_item(url=url, title=title, text=text,
                           fetched_at=timezone.now().isoformat())
        item = ReviewItem.objects.get(ad_id=result.ad_id)
        note = f"第 {n} 条：已截图，转执法。{HOSTILE if n in (0, 2) else ''}"
        made = item.decide(officer, "escalated", note, reason="open_tutoring", case=case,
                           new_case=case is None)
        case = made.case
        if screenshots:
            add_screenshot(result.ad_id, screenshot_png(url), url=url)
        if n == 1:
            record_takedown(url, "http_404")
    Source.objects.filter(name="test_site").update(config={"description": SOURCE_DESCRIPTION})
    return case


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")


def pdf_pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True).stdout.decode()
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def save_page_png(pdf: bytes, name: str, page: int = 1) -> Path:
    """Page ``page`` of the PDF as a PNG in the artefacts folder, for a person to look at."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    source = ARTEFACTS / f"{name}.pdf"
    source.write_bytes(pdf)
    prefix = ARTEFACTS / f"{name}-page{page}"
    subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page),
                    "-singlefile", str(source), str(prefix)], check=True)
    return prefix.with_suffix(".png")


def _compact(text: str) -> str:
    return "".join(text.split())


# --- Collecting and hashing (no browser) ---------------------------------------------------------

def test_the_data_names_every_ad_decision_screenshot_and_audit_row_of_the_case(officer):
    case = make_case(officer)
    make_item(url="http://127.0.0.1/other", title="别的广告")  # not in the case
    data = evidence.collect(case)
    assert data["case"]["number"] == case.number
    assert [ad["text"] for ad in data["ads"]] == TEXTS
    assert {ad["source_description"] for ad in data["ads"]} == {SOURCE_DESCRIPTION}
    taken_down = data["ads"][1]
    assert taken_down["removed_at"] and taken_down["removal"] == "http_404"
    for ad in data["ads"]:
        shot = Screenshot.latest_for(ad["ad_id"])
        assert ad["screenshot"]["sha256"] == shot.sha256
        assert ad["raw_sha256"] == hashlib.sha256(b"<html>raw</html>").hexdigest()
        assert ad["decisions"][0]["decision"] == "escalated"
        assert ad["verdict"]["evidence"] == ["一对一辅导", "提分"]
    actions = {row["action"] for row in data["audit"]}
    assert {"ad.created", "item.queued", "item.decided", "ad.removed"} <= actions
    assert all(row["ad_id"] in {ad["ad_id"] for ad in data["ads"]} for row in data["audit"])


def test_the_data_hash_is_the_sha256_of_the_canonical_json_and_follows_the_data(officer):
    case = make_case(officer, screenshots=False)
    data = evidence.collect(case)
    assert evidence.data_hash(data) == hashlib.sha256(evidence.canonical(data)).hexdigest()
    assert json.loads(evidence.canonical(data)) == data
    assert evidence.data_hash(evidence.collect(case)) == evidence.data_hash(data)
    item = ReviewItem.objects.filter(case=case).first()
    AuditEvent.record(officer, "ad.viewed", ad_id=item.ad_id, item=item)
    assert evidence.data_hash(evidence.collect(case)) != evidence.data_hash(data)


@pytest.mark.parametrize("ref", ["", "TW2026-99999", "99999", "TW2026-" + "9" * 40, "x²",
                                 "TW2026-abc", "\x00"])
def test_an_unknown_case_is_a_clear_chinese_error(db, ref):
    with pytest.raises(evidence.UnknownCase, match="没有案件"):
        evidence.find_case(ref)


def test_a_case_is_found_by_number_and_by_id(officer):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    assert evidence.find_case(case.number) == case
    assert evidence.find_case(str(case.pk)) == case
    assert evidence.find_case(f" {case.number} ") == case


def test_without_chromium_the_sheet_is_refused_in_chinese_and_nothing_is_recorded(
        officer, monkeypatch):
    from crawler import settings as crawl_settings

    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    before = AuditEvent.objects.count()
    for missing in ("", "/nonexistent/chromium"):
        monkeypatch.setattr(crawl_settings, "TUTORWATCH_CHROMIUM", missing)
        with pytest.raises(evidence.ChromiumMissing, match="找不到 Chromium"):
            evidence.build(case, officer)
    assert AuditEvent.objects.count() == before


# --- The case page and permissions ---------------------------------------------------------------

def _user_with(username: str, *perms: str):
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app,
                                                         codename=codename))
    client = Client()
    client.force_login(user)
    return client


def test_the_case_page_lists_the_items_and_links_the_evidence_sheet(officer, officer_client):
    case = make_case(officer)
    response = officer_client.get(reverse("review_ui:case", args=[case.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    assert case.number in page
    for item in ReviewItem.objects.filter(case=case):
        assert reverse("review_ui:ad", args=[item.ad_id]) in page
    assert reverse("review_ui:case_evidence", args=[case.pk]) in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page  # the case note was hostile


def test_an_unknown_case_page_is_a_404(officer_client, db):
    assert officer_client.get(reverse("review_ui:case", args=[424242])).status_code == 404
    assert officer_client.get(reverse("review_ui:case_evidence", args=[424242])).status_code == 404


def test_no_role_is_refused_the_case_and_its_sheet(officer, outsider_client, admin_user):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    admin = Client()
    admin.force_login(admin_user)
    before = AuditEvent.objects.count()
    for client in (outsider_client, admin):
        assert client.get(reverse("review_ui:case", args=[case.pk])).status_code == 403
        assert client.get(reverse("review_ui:case_evidence", args=[case.pk])).status_code == 403
    assert AuditEvent.objects.count() == before


def test_seeing_the_queue_without_exporting_shows_the_case_but_not_the_sheet(officer, db):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    viewer = _user_with("viewer", "review_ui.view_reviewitem")
    page = viewer.get(reverse("review_ui:case", args=[case.pk]))
    assert page.status_code == 200
    assert reverse("review_ui:case_evidence", args=[case.pk]) not in page.content.decode()
    assert viewer.get(reverse("review_ui:case_evidence", args=[case.pk])).status_code == 403


def test_the_sheet_is_get_only(officer, officer_client):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    response = officer_client.post(reverse("review_ui:case_evidence", args=[case.pk]))
    assert response.status_code in (403, 405)  # CSRF refuses first, or the method does


def test_without_chromium_the_download_is_a_chinese_503(officer, officer_client, monkeypatch):
    from crawler import settings as crawl_settings

    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    monkeypatch.setattr(crawl_settings, "TUTORWATCH_CHROMIUM", "/nonexistent/chromium")
    response = officer_client.get(reverse("review_ui:case_evidence", args=[case.pk]))
    assert response.status_code == 503
    assert "找不到 Chromium" in response.content.decode()


# --- The PDF ------------------------------------------------------------------------------------

@needs_chromium
@needs_poppler
@pytest.mark.browser
def test_the_sheet_is_a_chinese_pdf_with_every_ad_page_numbers_and_the_hash(
        officer, officer_client, tmp_path):
    case = make_case(officer)
    response = officer_client.get(reverse("review_ui:case_evidence", args=[case.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"{case.number}-evidence.pdf" in response["Content-Disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    pages = pdf_pages(pdf, tmp_path)
    # A first page, one page or more per ad, the audit log.
    assert pages >= 1 + len(TEXTS) + 1
    text = pdf_text(pdf, tmp_path)
    flat = _compact(text)
    for ad_text in TEXTS:
        for line in ad_text.splitlines():
            assert _compact(line) in flat, line
    assert "13912345678" in text and "tutor_abc" in text
    assert _compact(SOURCE_DESCRIPTION) in flat
    assert "网页返回404（未找到）" in flat  # the second ad's takedown
    assert case.number in text
    assert "证据材料" in text
    for n in range(1, pages + 1):
        assert f"第{n}页/共{pages}页" in flat
    data = evidence.collect(case)
    # The hash printed on every page is the one of the data as it was before this export.
    event = AuditEvent.objects.filter(action=evidence.EXPORT_ACTION).get()
    assert flat.count(event.detail["data_sha256"]) >= pages
    assert event.detail["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert event.detail["case"] == case.number and event.detail["pages"] == pages
    assert event.actor == officer
    assert response["X-Evidence-Data-SHA256"] == event.detail["data_sha256"]
    # The export itself is now one of the case's audit rows, and so changes the data.
    assert data["audit"][-1]["action"] == evidence.EXPORT_ACTION
    for ad in data["ads"]:
        assert ad["screenshot"]["sha256"] in flat
        assert ad["raw_sha256"] in flat
    # The hostile text is printed as text, never run or fetched.
    assert '<script>alert("x")</script>' in text
    png = save_page_png(pdf, "evidence-sheet")
    assert png.stat().st_size > 10_000


@needs_chromium
@needs_poppler
@pytest.mark.browser
def test_the_ad_pages_show_the_screenshot_and_the_marked_evidence(officer, tmp_path):
    from PIL import Image

    case = make_case(officer, texts=TEXTS[:1])
    sheet = evidence.build(case, officer)
    assert sheet.pages == pdf_pages(sheet.pdf, tmp_path)
    colours: set[tuple[int, int, int]] = set()
    for page in range(2, sheet.pages):  # the ad's pages: after the first, before the audit log
        with Image.open(save_page_png(sheet.pdf, "evidence-sheet-ad", page=page)) as image:
            colours |= {rgb for _n, rgb in image.convert("RGB").getcolors(maxcolors=1 << 22)}
    assert any(abs(r - 40) + abs(g - 90) + abs(b - 160) < 12 for r, g, b in colours), \
        "the screenshot's blue header bar is not on the ad's pages"
    assert any(r > 240 and 200 < g < 240 and b < 150 for r, g, b in colours), \
        "no yellow evidence mark on the ad's pages"


@needs_chromium
@pytest.mark.browser
def test_a_changed_screenshot_is_flagged_on_the_sheet(officer, tmp_path):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    ad_id = ReviewItem.objects.get(case=case).ad_id
    shot = add_screenshot(ad_id, screenshot_png("a"))
    Screenshot.objects.filter(pk=shot.pk).update(image=screenshot_png("b"))
    data = evidence.collect(case)
    html, _header, _footer = evidence.render_html(data, evidence.data_hash(data),
                                                  timezone.now(), "officer1")
    assert "截图与截取时记录的 SHA-256 不符" in html


def test_the_page_escapes_hostile_text_and_loads_nothing(officer):
    case = make_case(officer)
    data = evidence.collect(case)
    html, header, footer = evidence.render_html(data, evidence.data_hash(data), timezone.now(),
                                                "officer1")
    assert "<script" not in html
    assert "&lt;script&gt;alert" in html
    assert 'src="http' not in html and "url(http" not in html
    assert 'src="data:image/jpeg;base64,' in html  # the copies scaled for print
    assert "pageNumber" in footer and "totalPages" in footer
    assert case.number in header


# --- The command --------------------------------------------------------------------------------

@needs_chromium
@pytest.mark.browser
def test_the_command_writes_the_pdf_and_the_data_it_hashes(officer, tmp_path):
    case = make_case(officer, texts=TEXTS[:2])
    out, data = tmp_path / "sheet.pdf", tmp_path / "sheet.json"
    printed = io.StringIO()
    call_command("evidence", case.number, "-o", str(out), "--data", str(data), stdout=printed)
    assert out.read_bytes().startswith(b"%PDF-")
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert f"data SHA-256 {digest}" in printed.getvalue()
    pdf_sha256 = hashlib.sha256(out.read_bytes()).hexdigest()
    assert f"pdf SHA-256  {pdf_sha256}" in printed.getvalue()
    assert json.loads(data.read_bytes())["case"]["number"] == case.number
    event = AuditEvent.objects.get(action=evidence.EXPORT_ACTION)
    assert event.actor is None and event.detail["via"] == "cli"
    assert event.detail["pdf_sha256"] == pdf_sha256 and event.detail["data_sha256"] == digest
    if POPPLER:
        assert digest in _compact(pdf_text(out.read_bytes(), tmp_path))
    call_command("evidence", str(case.pk), "-o", str(tmp_path / "by-id.pdf"), stdout=printed)
    assert (tmp_path / "by-id.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.parametrize("args, message", [
    (["TW2026-99999", "-o", "{tmp}/x.pdf"], "没有案件 TW2026-99999"),
    (["{case}", "-o", "{tmp}/no/such/dir.pdf"], "目录不存在"),
    (["{case}", "-o", "{tmp}/x.pdf", "--data", "{tmp}/no/such/dir.json"], "目录不存在"),
])
def test_the_command_refuses_clearly_and_writes_nothing(officer, tmp_path, args, message):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    filled = [a.format(tmp=tmp_path, case=case.number) for a in args]
    with pytest.raises(CommandError, match=message):
        call_command("evidence", *filled)
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action=evidence.EXPORT_ACTION).exists()


def test_the_command_without_chromium_is_one_chinese_line_and_writes_nothing(
        officer, tmp_path, monkeypatch):
    from crawler import settings as crawl_settings

    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    monkeypatch.setattr(crawl_settings, "TUTORWATCH_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(CommandError, match="找不到 Chromium"):
        call_command("evidence", case.number, "-o", str(tmp_path / "x.pdf"))
    assert list(tmp_path.iterdir()) == []


@needs_chromium
@pytest.mark.browser
@pytest.mark.slow
def test_tutorwatch_evidence_runs_as_a_command(tutorwatch, tmp_path):
    """The installed entry point, on its own database: one run that writes a sheet, one refusal
    (exit 1, the Chinese line on stderr)."""
    setup = (
        "import django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "from tests.review_ui.test_evidence import make_case, TEXTS\n"
        "officer = get_user_model().objects.create_user('cli_officer')\n"
        "print(make_case(officer, texts=TEXTS[:1]).number)\n"
    )
    made = subprocess.run([sys.executable, "-c", setup], env=tutorwatch.env, cwd=ROOT,
                          capture_output=True, check=True, timeout=180)
    number = made.stdout.decode().split()[-1]
    out = tmp_path / "sheet.pdf"
    done = tutorwatch("evidence", number, "-o", str(out))
    assert out.read_bytes().startswith(b"%PDF-")
    assert hashlib.sha256(out.read_bytes()).hexdigest() in done.stdout.decode()
    unknown = tutorwatch("evidence", "TW2026-99999", "-o", str(tmp_path / "x.pdf"), check=False)
    assert unknown.returncode == 1 and "没有案件 TW2026-99999" in unknown.stderr.decode()
    assert not (tmp_path / "x.pdf").exists()


def test_the_ad_page_and_the_work_page_link_the_case(officer, officer_client):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    item = ReviewItem.objects.get(case=case)
    link = f'href="{reverse("review_ui:case", args=[case.pk])}"'
    ad_page = officer_client.get(reverse("review_ui:ad", args=[item.ad_id])).content.decode()
    assert ad_page.count(link) == 2  # the item's status line and its decision history
    assert link in officer_client.get(reverse("review_ui:work")).content.decode()


# --- Ads submitted by hand ----------------------------------------------------------------------

def picture_png(colour: tuple[int, int, int], size: tuple[int, int] = (600, 400)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def submit_into_case(officer, case: Case | None = None,
                     pictures: tuple[bytes, ...] = ()) -> tuple[Case, Submission]:
    """An ad entered by hand (a WeChat group's post with pictures), escalated into ``case``."""
    result = make_item(url="manual:0b7c1d3e-submitted", title="", text=TEXTS[0],
                       fetched_at=timezone.now().isoformat())
    item = ReviewItem.objects.get(ad_id=result.ad_id)
    submission = Submission.objects.create(
        ad_id=result.ad_id, platform=Submission.Platform.WECHAT_GROUP,
        seen_at=timezone.now() - timezone.timedelta(days=2),
        seen_where="雨花区家长群（三年级二班）", submitted_by=officer)
    for position, data in enumerate(pictures, start=1):
        sent = data + b"\x00sent-with-exif"  # the file sent differs from the re-encoded one
        SubmissionImage.objects.create(
            submission=submission, position=position, image=data, content_type="image/png",
            sha256=hashlib.sha256(data).hexdigest(), width=600, height=400,
            original_name=f"IMG_{position}.png", original_sha256=hashlib.sha256(sent).hexdigest(),
            original_size=len(sent))
    made = item.decide(officer, "escalated", "群内截图", reason="open_tutoring", case=case,
                       new_case=case is None)
    return made.case, submission


def test_a_submitted_ads_details_and_pictures_are_in_the_data_and_its_hash(officer):
    case = make_case(officer, texts=TEXTS[1:2])
    case, submission = submit_into_case(officer, case, (picture_png((200, 30, 30)),
                                                        picture_png((30, 160, 60))))
    data = evidence.collect(case)
    crawled, submitted = data["ads"]
    assert "submission" not in crawled  # a crawled ad's data is what it was
    given = submitted["submission"]
    assert given["platform"] == "wechat_group"
    assert given["seen_where"] == "雨花区家长群（三年级二班）"
    assert given["seen_at"] and given["submitted_at"] and given["submitted_by"] == officer.username
    stored = list(SubmissionImage.objects.filter(submission=submission).order_by("position"))
    assert [(i["position"], i["sha256"], i["original_sha256"]) for i in given["images"]] == [
        (s.position, s.sha256, s.original_sha256) for s in stored]
    assert stored[0].sha256 != stored[0].original_sha256
    # The hash covers the submission: where it was seen, and each picture's hashes.
    before = evidence.data_hash(data)
    Submission.objects.filter(pk=submission.pk).update(seen_where="别的群")
    assert evidence.data_hash(evidence.collect(case)) != before
    Submission.objects.filter(pk=submission.pk).update(seen_where="雨花区家长群（三年级二班）")
    assert evidence.data_hash(evidence.collect(case)) == before
    SubmissionImage.objects.filter(pk=stored[1].pk).update(original_sha256="0" * 64)
    assert evidence.data_hash(evidence.collect(case)) != before


def test_the_page_shows_the_submission_and_flags_a_changed_picture(officer):
    pictures = (picture_png((200, 30, 30)), picture_png((30, 160, 60)))
    case, submission = submit_into_case(officer, pictures=pictures)
    data = evidence.collect(case)
    html, _header, _footer = evidence.render_html(data, evidence.data_hash(data),
                                                  timezone.now(), "officer1")
    assert "微信群" in html and "雨花区家长群（三年级二班）" in html
    for image in data["ads"][0]["submission"]["images"]:
        assert image["sha256"] in html and image["original_sha256"] in html
    assert html.count('<img src="data:image/') == 2
    assert "这条广告没有截图" not in html  # the pictures stand where a screenshot would
    assert "无截图" not in html
    assert "存档图片与提交时记录的 SHA-256 不符" not in html
    SubmissionImage.objects.filter(submission=submission, position=2).update(
        image=picture_png((0, 0, 0)))
    html, _header, _footer = evidence.render_html(evidence.collect(case), "0" * 64,
                                                  timezone.now(), "officer1")
    assert html.count("存档图片与提交时记录的 SHA-256 不符") == 1


@needs_chromium
@needs_poppler
@pytest.mark.browser
def test_the_printed_sheet_of_a_submitted_ad_shows_its_details_and_pictures(officer, tmp_path):
    from PIL import Image

    case, submission = submit_into_case(officer, pictures=(picture_png((200, 30, 30)),))
    sheet = evidence.build(case, officer)
    flat = _compact(pdf_text(sheet.pdf, tmp_path))
    given = sheet.data["ads"][0]["submission"]
    assert "人工提交" in flat and "微信群" in flat and _compact(given["seen_where"]) in flat
    assert given["images"][0]["sha256"] in flat and given["images"][0]["original_sha256"] in flat
    assert officer.username in flat and _compact(given["submitted_at"]) in flat
    colours: set[tuple[int, int, int]] = set()
    for page in range(2, sheet.pages):
        with Image.open(save_page_png(sheet.pdf, "evidence-sheet-submitted", page=page)) as im:
            colours |= {rgb for _n, rgb in im.convert("RGB").getcolors(maxcolors=1 << 22)}
    assert any(abs(r - 200) + abs(g - 30) + abs(b - 30) < 20 for r, g, b in colours), \
        "the submitted picture is not on the ad's pages"


# --- The printed copy of a picture --------------------------------------------------------------

def _decoded(uri: str):
    from PIL import Image

    assert uri.startswith("data:image/jpeg;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "JPEG"
    return image


def test_a_tall_screenshot_is_printed_scaled_to_the_page_width_in_page_slices(officer):
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    ad_id = ReviewItem.objects.get(case=case).ad_id
    stored = screenshot_png("tall", height=5000)
    shot = add_screenshot(ad_id, stored)
    data = evidence.collect(case)
    html, _header, _footer = evidence.render_html(data, evidence.data_hash(data),
                                                  timezone.now(), "officer1")
    copy = evidence.printed_copy(stored)
    sizes = [_decoded(uri).size for uri in copy["slices"]]
    printed_height = round(5000 * evidence.PRINT_WIDTH / 1280)
    assert {w for w, _h in sizes} == {evidence.PRINT_WIDTH}
    assert sum(h for _w, h in sizes) == printed_height
    assert all(h <= evidence.PRINT_SLICE for _w, h in sizes) and len(sizes) == 4
    assert not copy["cut"]
    for uri in copy["slices"]:
        assert f'<img src="{uri}"' in html
    assert "data:image/png" not in html
    # The sheet names the stored file and says what is printed is a scaled copy of it.
    assert shot.sha256 in html
    assert f"打印副本（按页宽缩放）：{evidence.PRINT_WIDTH} × {printed_height} 像素，JPEG" in html
    assert "1280 × 5000 像素" in html and "仅打印存档文件" not in html
    # The stored PNG, the evidence, is untouched.
    assert bytes(Screenshot.objects.get(pk=shot.pk).image) == stored


def test_a_very_tall_capture_is_cut_and_the_sheet_says_so(officer):
    stored = screenshot_png("very tall", height=20_000)
    copy = evidence.printed_copy(stored)
    assert copy["cut"] and len(copy["slices"]) == evidence.PRINT_MAX_SLICES
    assert copy["printed_height"] == evidence.PRINT_SLICE * evidence.PRINT_MAX_SLICES
    assert copy["printed_from"] < 20_000 and copy["stored_height"] == 20_000
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    add_screenshot(ReviewItem.objects.get(case=case).ad_id, stored)
    data = evidence.collect(case)
    html, _header, _footer = evidence.render_html(data, evidence.data_hash(data),
                                                  timezone.now(), "officer1")
    assert f"仅打印存档文件 20000 像素高度中最上方的 {copy['printed_from']} 像素" in html


def test_a_small_picture_is_not_enlarged_and_transparency_prints_on_white():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (300, 200), (0, 0, 0, 0)).save(out, "PNG")
    copy = evidence.printed_copy(out.getvalue())
    [image] = [_decoded(uri) for uri in copy["slices"]]
    assert image.size == (300, 200)
    assert image.convert("L").getextrema()[0] > 240
    assert evidence.printed_copy(b"not a picture at all") == {"slices": [], "cut": False}
    assert evidence.printed_copy(b"\x89PNG\r\n\x1a\nbroken")["slices"] == []


# --- Printing: the page and its pictures as files, the browser started early ------------------

def _descendants() -> set[int]:
    """Live processes under this one (Chromium's, Playwright's driver)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as handle:
                    parents[int(entry.name)] = int(handle.read().rsplit(b")", 1)[1].split()[1])
            except OSError:
                continue
    found, grew = {os.getpid()}, True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found - {os.getpid()}


@needs_chromium
@needs_poppler
@pytest.mark.browser
def test_the_printer_loads_only_the_pictures_it_wrote_beside_the_page(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from PIL import Image

    asked: list[str] = []
    blue = picture_png((20, 40, 220))

    class Leak(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            self.wfile.write(blue)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Leak)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    outside = tmp_path / "outside.png"
    outside.write_bytes(blue)
    [red] = evidence.printed_copy(picture_png((220, 30, 30)))["slices"]
    leak = f"http://127.0.0.1:{server.server_port}"
    html = (f'<!DOCTYPE html><html><head><link rel="stylesheet" href="{leak}/x.css"></head>'
            f'<body><img src="{red}"><img src="{leak}/leak.png"><img src="{outside.as_uri()}">'
            "</body></html>")
    try:
        pdf = evidence.print_pdf(html, "<span></span>", "<span></span>")
    finally:
        server.shutdown()
        server.server_close()
    assert asked == []
    with Image.open(save_page_png(pdf, "evidence-printer-own-pictures-only")) as page:
        colours = {rgb for _n, rgb in page.convert("RGB").getcolors(maxcolors=1 << 22)}
    assert any(abs(r - 220) + abs(g - 30) + abs(b - 30) < 30 for r, g, b in colours)
    assert not any(abs(r - 20) + abs(g - 40) + abs(b - 220) < 30 for r, g, b in colours)


@needs_chromium
@pytest.mark.browser
def test_a_sheet_that_fails_before_printing_stops_its_browser_and_records_nothing(
        officer, monkeypatch):
    import threading

    case = make_case(officer, texts=TEXTS[:1])
    before = _descendants()
    exported = AuditEvent.objects.filter(action=evidence.EXPORT_ACTION).count()

    def broken(*args, **kwargs):
        raise RuntimeError("the page could not be made")

    monkeypatch.setattr(evidence, "render_html", broken)
    with pytest.raises(RuntimeError, match="could not be made"):
        evidence.build(case, officer)
    assert _descendants() - before == set()
    assert not [t for t in threading.enumerate() if t.name.startswith("evidence-print")]
    assert AuditEvent.objects.filter(action=evidence.EXPORT_ACTION).count() == exported


# --- Printed copies kept in the data directory ------------------------------------------------

def _jpeg(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def test_a_printed_copy_is_kept_under_the_stored_sha256_and_the_next_sheet_prints_it(
        officer, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    case = make_case(officer, texts=TEXTS[:1], screenshots=False)
    stored = screenshot_png("kept")
    shot = add_screenshot(ReviewItem.objects.get(case=case).ad_id, stored)
    folder = tmp_path / evidence.COPY_CACHE_DIR
    assert not folder.exists()

    def page() -> str:
        data = evidence.collect(case)
        return evidence.render_html(data, evidence.data_hash(data), timezone.now(), "o1")[0]

    first = page()
    [kept] = [p for p in folder.rglob("copy.json")]
    assert kept.parent.name == shot.sha256 and kept.parent == evidence.copy_cache() / (
        shot.sha256[:2]) / shot.sha256
    assert not [p for p in folder.rglob(".partial-*")]
    made = evidence.printed_copy(stored)
    assert evidence.cached_copy(stored) == made
    assert made["slices"][0] in first
    # The next sheet prints what is kept (here replaced by a red picture), not a new copy.
    red = _jpeg((220, 30, 30))
    (kept.parent / "0.jpg").write_bytes(red)
    second = page()
    assert made["slices"][0] not in second
    assert f"data:image/jpeg;base64,{base64.b64encode(red).decode()}" in second
    # The stored capture is untouched, and still checked against its hash.
    assert bytes(Screenshot.objects.get(pk=shot.pk).image) == stored
    assert "仅打印存档文件" not in second


def test_a_damaged_kept_copy_is_made_again_and_changed_bytes_get_their_own(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    stored = screenshot_png("damaged", height=1200)
    digest = hashlib.sha256(stored).hexdigest()
    made = evidence.cached_copy(stored)
    folder = evidence.copy_cache() / digest[:2] / digest
    (folder / "0.jpg").write_bytes(b"not a jpeg")
    assert evidence.cached_copy(stored) == made
    assert (folder / "0.jpg").read_bytes().startswith(b"\xff\xd8\xff")
    (folder / "copy.json").write_text("{", encoding="utf-8")
    assert evidence.cached_copy(stored) == made
    # Bytes changed in the store do not match the recorded hash and get a copy of their own.
    changed = screenshot_png("changed", height=1200)
    shown = evidence._shown(changed, digest)
    assert not shown["matches"] and shown["slices"] == evidence.printed_copy(changed)["slices"]
    other = hashlib.sha256(changed).hexdigest()
    assert (evidence.copy_cache() / other[:2] / other / "copy.json").is_file()
    assert evidence.cached_copy(stored) == made
    # What is no picture is kept as such (nothing to print), and read back the same.
    assert evidence.cached_copy(b"not a picture") == {"slices": [], "cut": False}
    assert evidence.cached_copy(b"not a picture") == {"slices": [], "cut": False}
    assert not [p for p in (tmp_path / evidence.COPY_CACHE_DIR).rglob(".partial-*")]


def test_a_copy_that_cannot_be_kept_is_still_printed(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    (tmp_path / "cache").write_text("a file where the folder would be", encoding="utf-8")
    stored = screenshot_png("unkept")
    assert evidence.cached_copy(stored) == evidence.printed_copy(stored)
    evidence.keep_printed_copy(stored)  # the capture worker's call: logs, never raises
