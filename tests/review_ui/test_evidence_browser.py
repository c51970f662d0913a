"""The web server's kept browser for evidence sheets (``review_ui.evidence.KeptBrowser``): one
Chromium for many sheets, stopped when idle, started again when it died, one sheet at a time."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from django.urls import reverse

from review_ui import evidence
from review_ui.models import AuditEvent
from tests.review_ui.test_evidence import (
    TEXTS,
    _descendants,
    make_case,
    needs_chromium,
    pdf_pages,
)

pytestmark = [needs_chromium, pytest.mark.browser]

PAGE = "<!DOCTYPE html><html><body><p>第{n}份</p></body></html>"
EMPTY = "<span></span>"


def _chromiums(pids: set[int]) -> set[int]:
    found = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith(b"chrom") and not any(
                arg.startswith(b"--type=") for arg in argv):
            found.add(pid)
    return found


def _wait(condition, seconds: float = 20) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def kept():
    browser = evidence.KeptBrowser(idle=60)
    yield browser
    browser.stop()


def test_one_browser_prints_many_sheets_each_in_its_own_context(kept):
    first = kept.print(PAGE.format(n=1), EMPTY, EMPTY)
    second = kept.print(PAGE.format(n=2), EMPTY, EMPTY)
    assert first.startswith(b"%PDF-") and second.startswith(b"%PDF-")
    assert first != second
    assert kept.launches == 1 and kept.running


def test_sheets_asked_for_at_once_are_all_printed(kept):
    results: dict[int, bytes] = {}

    def ask(n: int) -> None:
        results[n] = kept.print(PAGE.format(n=n), EMPTY, EMPTY)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results) == [0, 1, 2, 3]
    assert all(pdf.startswith(b"%PDF-") for pdf in results.values())
    assert kept.launches == 1


def test_an_idle_browser_stops_and_the_next_sheet_starts_one():
    before = _descendants()
    browser = evidence.KeptBrowser(idle=0.5)
    try:
        assert browser.print(PAGE.format(n=1), EMPTY, EMPTY).startswith(b"%PDF-")
        assert _wait(lambda: not browser.running)
        assert _wait(lambda: not _chromiums(_descendants() - before))
        assert browser.print(PAGE.format(n=2), EMPTY, EMPTY).startswith(b"%PDF-")
        assert browser.launches == 2
    finally:
        browser.stop()
    assert _wait(lambda: not _chromiums(_descendants() - before))


def test_a_browser_that_died_is_started_again_for_the_next_sheet(kept):
    before = _descendants()
    kept.print(PAGE.format(n=1), EMPTY, EMPTY)
    [chromium] = _chromiums(_descendants() - before)
    os.kill(chromium, signal.SIGKILL)
    assert _wait(lambda: chromium not in _descendants())
    # The sheet asked for next is printed by a new browser, or, if the dead one was still
    # taken for alive, fails with the Chinese error; the one after that is printed.
    try:
        pdf = kept.print(PAGE.format(n=2), EMPTY, EMPTY)
    except evidence.PrintFailed as exc:
        assert "Chromium" in str(exc)
        pdf = kept.print(PAGE.format(n=3), EMPTY, EMPTY)
    assert pdf.startswith(b"%PDF-")
    assert kept.launches == 2


def test_the_download_uses_the_kept_browser_and_the_command_does_not(
        officer, officer_client, settings, tmp_path):
    settings.TUTORWATCH_EVIDENCE_BROWSER_IDLE = 60
    case = make_case(officer, texts=TEXTS[:2], screenshots=False)
    kept = evidence.kept_browser()
    try:
        launches = kept.launches
        url = reverse("review_ui:case_evidence", args=[case.pk])
        for _ in range(2):
            response = officer_client.get(url)
            assert response.status_code == 200
            assert pdf_pages(response.content, tmp_path) >= 2
        assert kept.launches == launches + (0 if launches else 1)
        assert kept.running
        assert AuditEvent.objects.filter(action=evidence.EXPORT_ACTION).count() == 2
        evidence.build(case, via="cli")  # a browser of its own, started and stopped
        assert kept.launches == launches + (0 if launches else 1)
    finally:
        kept.stop()
    assert not kept.running


def test_with_idle_zero_each_download_starts_its_own_browser(settings):
    settings.TUTORWATCH_EVIDENCE_BROWSER_IDLE = 0
    assert evidence.kept_browser() is None
