"""The evidence sheet of a case: one printable A4 PDF, in Chinese, for the case file.

It holds every ad of the case (the review items escalated into it): title and text with the
classifier's evidence marked, URL, source, first and last seen, takedown, the raw page's and the
screenshot's SHA-256 and the screenshot itself (a copy scaled for print: :func:`printed_copy`),
or a hand-submitted ad's submission and pictures, contacts, the verdict, the officers' decisions
and notes, and then the audit rows of the case. Every page carries the case number, the page
number ("第 N 页 / 共 M 页"), the generation time and the **data hash**.

The data hash is the SHA-256 of the canonical JSON of :func:`collect`'s result: UTF-8, keys
sorted, no spaces (``canonical``). It covers everything the sheet prints except the generation
time, who generated it and the page numbers; screenshots and raw pages are covered by their
own SHA-256, which the data holds (and which is checked against the stored image when the sheet
is made). ``tutorwatch evidence CASE -o FILE.pdf --data FILE.json`` writes that JSON, so anyone
can recompute the hash. The PDF file's own SHA-256 goes into the audit row of the export
(``case.evidence_exported``), which names the data hash too.

The sheet is a Django template printed by headless Chromium (Debian's, through Playwright; the
one ``crawler.settings.TUTORWATCH_CHROMIUM`` names, with ``chromium_args``), started as soon
as a sheet is asked for (:class:`Printer`). The page runs no script and may load nothing but
itself and its pictures: it is written with each picture (a ``data:`` URI in the template) as a
file beside it in a private temporary folder, and every other request is aborted. Chinese text
needs a CJK font (``fonts-noto-cjk``; ``.ci/run`` installs it).

A picture's printed copy is made once and kept in the data directory under the SHA-256 of the
stored bytes (``cache/print-copies/``, :func:`cached_copy`; left out of backups, made again when
missing or damaged); the capture worker makes it as it stores a capture (:func:`keep_printed_copy`),
so a sheet reads its copies instead of decoding and scaling every capture.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import io
import json
import os
import queue
import re
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import pgettext

from review_ui.highlight import evidence_terms, for_field, segments
from review_ui.models import (
    AUDIT_ACTIONS,
    Ad,
    AuditEvent,
    Case,
    Decision,
    ReviewItem,
    Screenshot,
    Submission,
    SubmissionImage,
)
from review_ui.reasons import CATEGORY_LABELS

FORMAT = "tutorwatch-evidence/1"
EXPORT_ACTION = "case.evidence_exported"
# The sheet is a document for a Chinese case file, whatever language the officer's UI is in.
SHEET_LANGUAGE = "zh-hans"
# How long Chromium may take to lay out and print one sheet (milliseconds).
PRINT_TIMEOUT_MS = 120_000
PAGE_MARGINS = {"top": "20mm", "bottom": "20mm", "left": "14mm", "right": "14mm"}
# The printed copy of a picture (:func:`printed_copy`): at most PRINT_WIDTH pixels wide (A4's
# printable width at about 170 dpi), JPEG, in slices of PRINT_SLICE pixels (one slice fits a
# page under a caption), at most PRINT_MAX_SLICES of them (about six pages per picture).
PRINT_WIDTH = 1240
PRINT_SLICE = 1600
PRINT_MAX_SLICES = 6
PRINT_JPEG_QUALITY = 85
# Threads making the printed copies (the machine's cores, at most four).
COPY_THREADS = min(4, os.cpu_count() or 1)
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
# A picture the page embeds (our own copies, :func:`printed_copy`), written out to a file to print.
_DATA_IMAGE = re.compile(r'(<img src=)"data:image/(jpeg|png|webp);base64,([A-Za-z0-9+/=]+)"')
_DATA_IMAGE_SUFFIX = {"jpeg": "jpg", "png": "png", "webp": "webp"}


class EvidenceError(Exception):
    """A sheet that cannot be made; the message says why, for the officer (in Chinese)."""


class UnknownCase(EvidenceError):
    pass


class ChromiumMissing(EvidenceError):
    pass


class PrintFailed(EvidenceError):
    pass


@dataclass(frozen=True)
class EvidenceSheet:
    case: Case
    pdf: bytes
    data: dict[str, Any]
    data_sha256: str
    pdf_sha256: str
    generated_at: datetime
    pages: int


# --- Which case ---------------------------------------------------------------------------------

def find_case(ref: str | int) -> Case:
    """The case a user named: its number (TW2026-00012) or its id."""
    text = str(ref).strip()
    tail = text.rsplit("-", 1)[-1]
    case = None
    # A number too long for the database's integer is no case (PostgreSQL would refuse it).
    if tail.isascii() and tail.isdigit() and len(tail) <= 18:
        case = (Case.objects.filter(pk=int(text)).first() if text.isdigit()
                else Case.by_number(text))
    if case is None:
        with translation.override(SHEET_LANGUAGE):
            raise UnknownCase(pgettext(
                "evidence", "There is no case %(ref)s: give a case number such as "
                "TW2026-00012, or a case id.") % {"ref": text})
    return case


# --- The data (what the hash covers) ------------------------------------------------------------

def _when(value: datetime | None) -> str | None:
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds") if value else None


def _user(user) -> str | None:
    return user.get_username() if user is not None else None


def _description(ad: Ad) -> str:
    config = ad.source.config if isinstance(ad.source.config, dict) else {}
    return str(config.get("description") or "")


def _screenshot(ad: Ad) -> dict[str, Any] | None:
    shot = Screenshot.latest_for(ad)
    if shot is None:
        return None
    return {"id": shot.pk, "sha256": shot.sha256, "captured_at": _when(shot.captured_at),
            "url": shot.url, "width": shot.width, "height": shot.height}


def _submission(ad: Ad) -> dict[str, Any] | None:
    """What the officer who entered the ad by hand told (where, when, on which platform) and
    each picture's SHA-256, stored and as sent; None for a crawled ad."""
    submission = (Submission.objects.filter(ad=ad).select_related("submitted_by").first())
    if submission is None:
        return None
    images = (SubmissionImage.objects.filter(submission=submission).order_by("position")
              .values("id", "position", "content_type", "sha256", "width", "height",
                      "original_name", "original_sha256", "original_size"))
    return {"id": submission.pk, "platform": submission.platform,
            "seen_at": _when(submission.seen_at), "seen_where": submission.seen_where,
            "url_given": submission.url_given, "submitted_by": _user(submission.submitted_by),
            "submitted_at": _when(submission.submitted_at), "images": list(images)}


def _verdict(ad: Ad) -> dict[str, Any] | None:
    verdict = ad.verdict
    if verdict is None:
        return None
    return {"score": round(float(verdict.score), 6), "label": bool(verdict.label),
            "category": verdict.category, "model_version": verdict.model_version,
            "evidence": list(verdict.evidence or [])}


def _decision(decision: Decision) -> dict[str, Any]:
    return {"id": decision.pk, "at": _when(decision.decided_at),
            "officer": _user(decision.officer), "decision": decision.decision,
            "reason": decision.reason, "note": decision.note,
            "case": decision.case.number if decision.case_id else None,
            "reverses": decision.reverses_id}


def _ad(item: ReviewItem, decisions: list[Decision]) -> dict[str, Any]:
    """One ad's data. A submitted ad also has ``submission`` (only such an ad has the key, so
    the data of crawled ads, and their hash, stay what they were)."""
    ad = item.ad
    data = {
        "item_id": item.pk, "status": item.status, "reason": item.reason,
        "ad_id": ad.pk, "title": ad.title, "text": ad.text, "url": ad.url,
        "source": ad.source.name, "source_description": _description(ad),
        "region": ad.region, "posted_at": _when(ad.posted_at), "posted_at_raw": ad.posted_at_raw,
        "first_seen_at": _when(ad.first_seen_at), "last_seen_at": _when(ad.fetched_at),
        "checked_at": _when(ad.checked_at), "removed_at": _when(ad.removed_at),
        "removal": ad.removal, "raw_sha256": ad.raw_sha256,
        "phones": list(ad.phones), "wechat_ids": list(ad.wechat_ids),
        "contact_raw": ad.contact_raw, "screenshot": _screenshot(ad), "verdict": _verdict(ad),
        "decisions": [_decision(d) for d in decisions],
    }
    submission = _submission(ad)
    if submission is not None:
        data["submission"] = submission
    return data


def _audit_rows(case: Case, item_ids: list[int], ad_ids: list[int]) -> list[dict[str, Any]]:
    """Every audit row about the case: its items, their ads, and rows naming the case (the
    decisions that opened or joined it, earlier evidence sheets)."""
    about = Q(item_id__in=item_ids) | Q(ad_id__in=ad_ids) | Q(detail__case=case.number)
    rows = AuditEvent.objects.filter(about).select_related("actor").order_by("at", "pk")
    return [{"id": row.pk, "at": _when(row.at), "actor": _user(row.actor), "action": row.action,
             "ad_id": row.ad_id, "item_id": row.item_id, "detail": row.detail, "hash": row.hash}
            for row in rows]


def collect(case: Case) -> dict[str, Any]:
    """The evidence of ``case`` as plain JSON values: what the sheet prints and the hash covers."""
    items = list(ReviewItem.objects.filter(case=case)
                 .select_related("ad", "ad__source", "ad__verdict")
                 .defer("ad__raw_page").order_by("ad__first_seen_at", "pk"))
    by_item: dict[int, list[Decision]] = {item.pk: [] for item in items}
    for decision in (Decision.objects.filter(item__in=items).select_related("officer", "case")
                     .order_by("decided_at", "pk")):
        by_item[decision.item_id].append(decision)
    return {
        "format": FORMAT,
        "case": {"id": case.pk, "number": case.number, "opened_at": _when(case.opened_at),
                 "opened_by": _user(case.opened_by), "note": case.note},
        "ads": [_ad(item, by_item[item.pk]) for item in items],
        "audit": _audit_rows(case, [i.pk for i in items], [i.ad_id for i in items]),
    }


def canonical(data: dict[str, Any]) -> bytes:
    """The bytes the data hash is the SHA-256 of."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      default=str).encode("utf-8")


def data_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(data)).hexdigest()


# --- The page -----------------------------------------------------------------------------------

def _shown(image: bytes, sha256: str) -> dict[str, Any]:
    """A stored picture as the sheet prints it (:func:`cached_copy`), and whether the stored
    bytes still match their SHA-256: the check is on the stored file, never on the copy."""
    actual = hashlib.sha256(image).hexdigest()
    return {"matches": actual == sha256, **cached_copy(image, actual)}


# --- Printed copies kept in the data directory ---------------------------------------------------
# A stored picture never changes (a new capture is a new row), so its printed copy is made once
# and kept under the SHA-256 of the stored bytes (as they are, not as recorded: bytes changed
# in the store get a copy of their own), in a folder named for the copy's settings.
COPY_CACHE_DIR = "cache/print-copies"
_COPY_VERSION = (f"w{PRINT_WIDTH}-s{PRINT_SLICE}-n{PRINT_MAX_SLICES}-q{PRINT_JPEG_QUALITY}"
                 "-v1")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def copy_cache() -> Path:
    """The folder the printed copies are kept in (in ``TUTORWATCH_DATA_DIR``)."""
    from django.conf import settings

    return Path(settings.DATA_DIR).expanduser() / COPY_CACHE_DIR / _COPY_VERSION


def cached_copy(image: bytes, sha256: str | None = None) -> dict[str, Any]:
    """:func:`printed_copy` of ``image``, read from the data directory when it was made before
    (by an earlier sheet, or by the capture worker when it stored the capture), else made and
    kept. ``sha256`` is that of ``image`` (computed when not given). A kept copy that cannot be
    read is made again; a copy that cannot be kept (a read-only data directory) is still
    returned."""
    sha256 = sha256 or hashlib.sha256(image).hexdigest()
    folder = copy_cache() / sha256[:2] / sha256
    kept = _read_copy(folder)
    if kept is not None:
        return kept
    if folder.exists():  # kept but unreadable (a damaged file): put aside, made again below
        _discard(folder)
    copy = printed_copy(image)
    _keep_copy(folder, copy)
    return copy


def keep_printed_copy(image: bytes) -> None:
    """Make and keep the printed copy of a picture just stored (the capture worker calls it),
    so that the first sheet showing it need not; failing, it only logs (the next sheet makes
    the copy)."""
    import logging

    try:
        cached_copy(image)
    except Exception:  # noqa: BLE001 - a copy for print never fails a capture
        logging.getLogger(__name__).warning("the printed copy of a capture was not made",
                                            exc_info=True)


def _read_copy(folder: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((folder / "copy.json").read_text(encoding="utf-8"))
        slices = []
        for number in range(int(meta["slices"])):
            jpeg = (folder / f"{number}.jpg").read_bytes()
            if not jpeg.startswith(_JPEG):
                return None
            slices.append(f"data:image/jpeg;base64,{base64.b64encode(jpeg).decode('ascii')}")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**{k: v for k, v in meta.items() if k != "slices"}, "slices": slices}


def _discard(folder: Path) -> None:
    import shutil

    try:
        aside = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))
        os.rename(folder, aside / folder.name)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _keep_copy(folder: Path, copy: dict[str, Any]) -> None:
    """Write the copy into a new folder beside ``folder`` and rename it into place: a reader
    sees a whole copy or none (two sheets making the same copy at once keep one of them)."""
    import shutil

    if not _SHA256.fullmatch(folder.name):
        return
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))
    except OSError:
        return
    try:
        for number, uri in enumerate(copy["slices"]):
            (work / f"{number}.jpg").write_bytes(base64.b64decode(uri.split(",", 1)[1]))
        meta = {**{k: v for k, v in copy.items() if k != "slices"},
                "slices": len(copy["slices"])}
        (work / "copy.json").write_text(json.dumps(meta), encoding="utf-8")
        os.rename(work, folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)


def printed_copy(image: bytes) -> dict[str, Any]:
    """A copy of a stored picture scaled to the printed width, as JPEG slices of about a page
    each (``slices``: data: URIs), at most :data:`PRINT_MAX_SLICES` of them (``cut``: the
    copy stops before the picture's end). Chromium decoding full-size PNGs and compressing
    them again into the PDF was most of a sheet's cost; the sheet still prints the stored
    file's SHA-256 and says the image is a scaled copy. ``slices`` is empty when the stored
    bytes are no picture Pillow reads."""
    from PIL import Image, UnidentifiedImageError

    if not image.startswith((_PNG, _JPEG)) and not (image[:4] == b"RIFF"
                                                    and image[8:12] == b"WEBP"):
        return {"slices": [], "cut": False}
    try:
        with Image.open(io.BytesIO(image)) as source:
            width, height = source.size
            scale = min(1.0, PRINT_WIDTH / width)
            # Cut before scaling: a tall capture is not scaled beyond what is printed.
            printed = min(max(1, round(height * scale)), PRINT_SLICE * PRINT_MAX_SLICES)
            kept = height if printed == round(height * scale) else min(height,
                                                                        round(printed / scale))
            # Decoded once, here; no copy of the whole picture is made (a capture is large).
            picture = source.crop((0, 0, width, kept)) if kept < height else source
            picture.load()
            slices = _jpeg_slices(picture, scale, printed)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return {"slices": [], "cut": False}
    return {"slices": slices, "cut": kept < height, "stored_width": width,
            "stored_height": height, "printed_width": min(width, PRINT_WIDTH),
            "printed_height": printed, "printed_from": kept}


def _jpeg_slices(picture: Any, scale: float, printed: int) -> list[str]:
    """``picture`` flattened on white and scaled by ``scale`` (to ``printed`` pixels high), as
    JPEG data: URIs of at most :data:`PRINT_SLICE` pixels high each."""
    from PIL import Image

    if picture.mode in ("RGBA", "LA", "P", "PA"):
        flat = Image.new("RGB", picture.size, "white")
        flat.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
        picture = flat
    elif picture.mode != "RGB":
        picture = picture.convert("RGB")
    if scale < 1.0:
        picture = picture.resize((PRINT_WIDTH, printed),
                                 Image.Resampling.BILINEAR, reducing_gap=2.0)
    slices = []
    for top in range(0, picture.height, PRINT_SLICE):
        out = io.BytesIO()
        picture.crop((0, top, picture.width, min(picture.height, top + PRINT_SLICE))).save(
            out, "JPEG", quality=PRINT_JPEG_QUALITY)
        slices.append(f"data:image/jpeg;base64,{base64.b64encode(out.getvalue()).decode('ascii')}")
    return slices


class _Pictures:
    """The pictures a sheet shows: read from the store one by one (:meth:`add` hands back the
    dict the template will read), then :func:`_shown` for all of them at once in threads
    (:meth:`make`; Pillow lets go of the GIL while it decodes, scales and encodes)."""

    def __init__(self) -> None:
        self._jobs: list[tuple[dict[str, Any], bytes, str]] = []

    def add(self, image: bytes, sha256: str) -> dict[str, Any]:
        shown: dict[str, Any] = {}
        self._jobs.append((shown, image, sha256))
        return shown

    def make(self) -> None:
        if not self._jobs:
            return
        with ThreadPoolExecutor(max_workers=min(COPY_THREADS, len(self._jobs)),
                                thread_name_prefix="evidence-copy") as pool:
            made = pool.map(lambda job: _shown(job[1], job[2]), self._jobs)
            for (shown, _image, _sha256), done in zip(self._jobs, made, strict=True):
                shown.update(done)


def _image(shot: dict[str, Any] | None, pictures: _Pictures) -> dict[str, Any] | None:
    """The stored screenshot, as :func:`_shown` (once ``pictures`` are made)."""
    if shot is None:
        return None
    image = bytes(Screenshot.objects.filter(pk=shot["id"]).values_list("image", flat=True)[0])
    return pictures.add(image, shot["sha256"])


def _submission_context(submission: dict[str, Any] | None,
                        pictures: _Pictures) -> dict[str, Any] | None:
    """A submission as the template shows it: its platform in words, each picture shown."""
    if submission is None:
        return None
    stored = dict(SubmissionImage.objects.filter(pk__in=[i["id"] for i in submission["images"]])
                  .values_list("pk", "image"))
    return {**submission,
            "platform_label": _labels(Submission.Platform.choices).get(
                submission["platform"], submission["platform"]),
            "images": [{**image, "shown": pictures.add(bytes(stored[image["id"]]),
                                                       image["sha256"])}
                       for image in submission["images"]]}


def _removal_labels() -> dict[str, str]:
    """How an ad was taken down (``review_ui.store.TAKEDOWNS``), in words."""
    return {"http_404": pgettext("evidence", "the page answered 404 (not found)"),
            "http_410": pgettext("evidence", "the page answered 410 (gone)"),
            "gone": pgettext("evidence", "the page no longer shows the post")}


def _labels(codes: list[tuple[str, Any]]) -> dict[str, str]:
    return {code: str(label) for code, label in codes}


def _page_context(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each ad as the template shows it: the data plus highlighted segments and labels."""
    statuses = _labels(ReviewItem.Status.choices)
    removals = _removal_labels()
    pictures = _Pictures()
    shown = []
    for number, ad in enumerate(data["ads"], start=1):
        evidence = (ad["verdict"] or {}).get("evidence") or []
        shown.append({
            **ad, "number": number,
            "status_label": statuses.get(ad["status"], ad["status"]),
            "removal_label": removals.get(ad["removal"], ad["removal"]),
            "reason_label": str(CATEGORY_LABELS.get(ad["reason"], ad["reason"])),
            "title_segments": segments(ad["title"], for_field(evidence, "title")),
            "text_segments": segments(ad["text"], for_field(evidence, "text"),
                                      prefix=f"{ad['title']}\n"),
            "evidence_terms": evidence_terms(evidence),
            "category_label": str(CATEGORY_LABELS.get((ad["verdict"] or {}).get("category"),
                                                      "—")),
            "decisions": [{**d, "decision_label": statuses.get(d["decision"], d["decision"]),
                           "reason_label": str(CATEGORY_LABELS.get(d["reason"], d["reason"]))}
                          for d in ad["decisions"]],
            "image": _image(ad["screenshot"], pictures),
            "submission": _submission_context(ad.get("submission"), pictures),
        })
    pictures.make()
    return shown


def _audit_context(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit rows, each ad named by its number on the sheet."""
    numbers = {ad["ad_id"]: number for number, ad in enumerate(data["ads"], start=1)}
    return [{**row, "label": str(AUDIT_ACTIONS.get(row["action"], row["action"])),
             "ad_number": numbers.get(row["ad_id"]),
             "detail_text": json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)}
            for row in data["audit"]]


def render_html(data: dict[str, Any], digest: str, generated_at: datetime,
                generated_by: str | None) -> tuple[str, str, str]:
    """The sheet's page, header and footer (Chromium's header and footer templates)."""
    with translation.override(SHEET_LANGUAGE):  # the labels too, not only the template
        context = {
            "data": data, "case": data["case"], "ads": _page_context(data),
            "audit": _audit_context(data), "digest": digest,
            "generated_at": _when(generated_at), "generated_by": generated_by,
            "time_zone": timezone.get_current_timezone_name(),
        }
        return (render_to_string("review_ui/evidence/sheet.html", context),
                render_to_string("review_ui/evidence/header.html", context),
                render_to_string("review_ui/evidence/footer.html", context))


# --- Printing -----------------------------------------------------------------------------------

def chromium_path() -> str:
    """The Chromium to print with (``TUTORWATCH_CHROMIUM``, else Debian's ``chromium``)."""
    from crawler import settings as crawl_settings

    path = crawl_settings.TUTORWATCH_CHROMIUM
    if not path or not Path(path).is_file() or not os.access(path, os.X_OK):
        with translation.override(SHEET_LANGUAGE):
            raise ChromiumMissing(pgettext(
                "evidence", "Chromium was not found (%(path)s), so no PDF can be made. "
                "Install Debian's chromium package, or name the browser in TUTORWATCH_CHROMIUM.")
                % {"path": path or "chromium"})
    return path


def print_pdf(html: str, header: str, footer: str) -> bytes:
    """Print the page to an A4 PDF with headless Chromium (:class:`Printer`)."""
    with Printer() as printer:
        return printer.print(html, header, footer)


class Printer:
    """Headless Chromium in a thread of its own, started when the printer is made, so that its
    start (Playwright's driver, then the browser: a second or more of a core) overlaps the
    reading of the store and the making of the page; :meth:`print` hands it the page. The
    thread is needed anyway: Playwright's synchronous API refuses to run where an asyncio loop
    is running (a command started from async code, an ASGI server). Use it as a context
    manager: leaving it unprinted (an error while the page was made) stops the browser."""

    def __init__(self) -> None:
        executable = chromium_path()
        self._page: Future[tuple[str, str, str] | None] = Future()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidence-print")
        self._printed = self._pool.submit(_print, executable, self._page)

    def print(self, html: str, header: str, footer: str) -> bytes:
        self._page.set_result((html, header, footer))
        return self._printed.result()

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._page.done():
            self._page.set_result(None)
        self._pool.shutdown(wait=True)


def _as_files(folder: Path, html: str) -> tuple[str, set[str]]:
    """Write the page into ``folder`` with each ``data:`` picture as a file beside it; the
    page's URL and the URLs of all it may load. Chromium reads the files itself, where a page
    given as a string of some megabytes of base64 went through Playwright's driver and the
    DevTools protocol, each copying and parsing it, which cost more than the printing."""
    allowed: set[str] = set()

    def to_file(match: re.Match[str]) -> str:
        path = folder / f"picture-{len(allowed) + 1}.{_DATA_IMAGE_SUFFIX[match[2]]}"
        path.write_bytes(base64.b64decode(match[3]))
        allowed.add(path.as_uri())
        return f'{match[1]}"{path.name}"'

    page = folder / "sheet.html"
    page.write_text(_DATA_IMAGE.sub(to_file, html), encoding="utf-8")
    allowed.add(page.as_uri())
    return page.as_uri(), allowed


def _launch(playwright, executable: str):
    from crawler.settings import chromium_args

    euid = os.geteuid() if hasattr(os, "geteuid") else -1
    return playwright.chromium.launch(executable_path=executable, headless=True,
                                      args=chromium_args(euid))


def _print_page(browser, html: str, header: str, footer: str) -> bytes:
    """Print one page in a context of its own (no script, no network: the page is ours, its
    pictures the files beside it), closed afterwards, so that nothing of one sheet is left in a
    browser that prints the next."""
    context = browser.new_context(java_script_enabled=False, offline=True)
    try:
        page = context.new_page()
        with tempfile.TemporaryDirectory(prefix="tutorwatch-evidence-") as folder:
            url, allowed = _as_files(Path(folder), html)
            page.route("**/*", lambda route: route.continue_()
                       if route.request.url in allowed else route.abort())
            page.goto(url, wait_until="load", timeout=PRINT_TIMEOUT_MS)
            return page.pdf(format="A4", print_background=True,
                            display_header_footer=True, header_template=header,
                            footer_template=footer, margin=PAGE_MARGINS)
    finally:
        context.close()


def _failed(exc: Exception) -> PrintFailed:
    with translation.override(SHEET_LANGUAGE):
        return PrintFailed(pgettext(
            "evidence", "Chromium could not print the evidence sheet: %(error)s")
            % {"error": (str(exc).splitlines() or [type(exc).__name__])[0]})


def _print(executable: str, given: Future[tuple[str, str, str] | None]) -> bytes:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = _launch(playwright, executable)
            try:
                sheet = given.result()
                if sheet is None:  # the page could not be made: nothing to print
                    return b""
                return _print_page(browser, *sheet)
            finally:
                browser.close()
    except PlaywrightError as exc:
        raise _failed(exc) from exc


class KeptBrowser:
    """One headless Chromium kept by a long-running process (the web server) for the sheets it
    makes, so that only the first sheet in a while pays for starting Playwright's driver and the
    browser (a second or two of a core, the floor of every sheet otherwise). It lives in a
    thread of its own, which Playwright's synchronous API needs, and prints one sheet at a time,
    each in a new browser context; sheets asked for meanwhile wait their turn. After ``idle``
    seconds without a sheet it stops, browser and thread; a browser that died is started again
    for the next sheet. ``launches`` counts the browsers started."""

    def __init__(self, idle: float) -> None:
        self.idle = idle
        self.launches = 0
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pending = 0  # jobs put and not yet taken, counted under the lock

    def start(self) -> None:
        """Start the thread (and so the browser) unless it runs: called as soon as a sheet is
        asked for, so that a first start overlaps the making of the page."""
        executable = chromium_path()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, args=(executable,),
                                                name="evidence-browser", daemon=True)
                self._thread.start()

    def print(self, html: str, header: str, footer: str) -> bytes:
        done: Future[bytes] = Future()
        with self._lock:
            self._jobs.put((done, (html, header, footer)))
            self._pending += 1
        self.start()
        return done.result()

    def stop(self, timeout: float = 30) -> None:
        """Stop the browser and its thread now (at exit; in tests)."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            self._jobs.put(None)
            self._pending += 1
        thread.join(timeout)

    @property
    def running(self) -> bool:
        with self._lock:
            return self._thread is not None

    def _take(self):
        """The next job, or None when the thread should end: told to stop, or idle this long
        with nothing put meanwhile (decided under the lock, so no job is left untaken)."""
        while True:
            try:
                job = self._jobs.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:
                    if self._pending == 0:
                        self._thread = None
                        return None
                continue
            with self._lock:
                self._pending -= 1
                if job is None and self._pending == 0:
                    self._thread = None
                    return None
            if job is not None:
                return job

    def _serve(self, executable: str) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        browser = None
        try:
            with sync_playwright() as playwright:
                try:
                    while True:
                        if browser is None or not browser.is_connected():
                            browser = _launch(playwright, executable)
                            self.launches += 1
                        job = self._take()
                        if job is None:
                            break
                        done, sheet = job
                        if not done.set_running_or_notify_cancel():
                            continue
                        try:
                            done.set_result(_print_page(browser, *sheet))
                        except PlaywrightError as exc:
                            done.set_exception(_failed(exc))
                        except BaseException as exc:  # handed to the one who asked
                            done.set_exception(exc)
                finally:
                    if browser is not None and browser.is_connected():
                        browser.close()
        except BaseException as exc:  # the driver or the browser would not start
            self._fail_waiting(exc)
        finally:
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _fail_waiting(self, exc: BaseException) -> None:
        from playwright.sync_api import Error as PlaywrightError

        error = _failed(exc) if isinstance(exc, PlaywrightError) else exc
        while True:
            with self._lock:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    self._thread = None
                    return
                self._pending -= 1
            if job is not None and job[0].set_running_or_notify_cancel():
                job[0].set_exception(error)


class _KeptPrinter:
    """:class:`Printer`'s interface over the process's kept browser."""

    def __init__(self, browser: KeptBrowser) -> None:
        self._browser = browser
        browser.start()

    def print(self, html: str, header: str, footer: str) -> bytes:
        return self._browser.print(html, header, footer)

    def __enter__(self) -> _KeptPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


_kept: KeptBrowser | None = None
_kept_lock = threading.Lock()


def kept_browser() -> KeptBrowser | None:
    """This process's kept browser, or None when ``TUTORWATCH_EVIDENCE_BROWSER_IDLE`` is 0."""
    global _kept
    from django.conf import settings

    idle = settings.TUTORWATCH_EVIDENCE_BROWSER_IDLE
    if idle <= 0:
        return None
    with _kept_lock:
        if _kept is None:
            _kept = KeptBrowser(idle)
            atexit.register(_kept.stop, 10)
        _kept.idle = idle
        return _kept


def page_count(pdf: bytes) -> int:
    return len(_PDF_PAGE.findall(pdf))


# --- The whole ----------------------------------------------------------------------------------

def build(case: Case, user=None, *, via: str = "", keep_browser: bool = False) -> EvidenceSheet:
    """Make the sheet of ``case`` for ``user`` (None: the command line) and record the export
    in the audit log with the PDF's SHA-256. Nothing is recorded when the sheet fails. The
    browser starts while the store is read and the page made (:class:`Printer`); with
    ``keep_browser`` (the web server) the process's :class:`KeptBrowser` prints it, started
    only if it is not running yet."""
    kept = kept_browser() if keep_browser else None
    with (_KeptPrinter(kept) if kept is not None else Printer()) as printer:
        data = collect(case)
        digest = data_hash(data)
        generated_at = timezone.now()
        html, header, footer = render_html(data, digest, generated_at,
                                           _user(user) if user is not None and user.pk else None)
        pdf = printer.print(html, header, footer)
    pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    pages = page_count(pdf)
    detail = {"case": case.number, "ads": len(data["ads"]), "data_sha256": digest,
              "pdf_sha256": pdf_sha256, "bytes": len(pdf), "pages": pages,
              "generated_at": _when(generated_at)}
    if via:
        detail["via"] = via
    AuditEvent.record(user, EXPORT_ACTION, detail=detail)
    return EvidenceSheet(case=case, pdf=pdf, data=data, data_sha256=digest,
                         pdf_sha256=pdf_sha256, generated_at=generated_at, pages=pages)
