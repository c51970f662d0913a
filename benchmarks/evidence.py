"""The evidence sheet of a 20-ad case with screenshots (issue 17 target: ≤ 5 s).

    python benchmarks/evidence.py [--ads 20] [--repeat 3] [--height 2400]
                                  [--db sqlite|postgresql] [--out SHEET.pdf]
                                  [--pg postgresql://postgres@127.0.0.1:5432/postgres]

It makes a fresh store (a SQLite file in a temporary directory, or a new PostgreSQL database
``tw_bench_evidence_<pid>``, dropped at the end), stores ``--ads`` flagged ads through the
store's ingest (texts of a few hundred characters, contacts, the classifier's evidence), gives
each a screenshot (a made-up page of ``1280 x --height`` pixels: text-like bars and a photo of
noise, as PNG, about the weight of a real capture), escalates them all into one case and makes
its sheet ``--repeat`` times with ``review_ui.evidence.build`` (what the download and the command
do: collect, hash, render, print with Chromium, record the export). The printed copies of the
screenshots are made first as the capture worker makes them (``keep_printed_copy``, its CPU
time printed apart); one sheet made before that, with no copy kept, is timed apart too
(``cold_copies_sheet_s``: screenshots stored before the copies were kept).

The web server's download prints with the process's kept browser (``keep_browser=True``):
``web_first_sheet_s`` is the first such sheet (it starts the browser), ``web_sheet_s`` the median
of the next ``--repeat``, against an empty page printed on the same kept browser
(``kept_floor_s``).

The floor, measured in the same run: Chromium printing an empty page through the same function
(``print_pdf``: start the browser, load the page, print, stop), so the ratio says what the sheet
costs beyond starting a browser. It prints the times (median of the repeats, and each part:
collecting and rendering the page, printing) and the ratio to the floor, and the CPU seconds
of both (this process's, plus Chromium's and Playwright's driver's, sampled from /proc): on a
machine other work shares, wall time says little and CPU time says what a sheet costs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# benchmarks/review_ui.py would shadow the package: import from the checkout, not this folder.
sys.path[:] = [str(ROOT)] + [p for p in sys.path
                             if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TEXT = ("【暑期精品小班】初一至初三数学、物理、英语一对一辅导，名师授课，提分快，不满意可退费。"
        "上课地点：雨花区某小区会所二楼，周末及晚上均可上课，可上门。试听一节免费，"
        "报名请加微信 tutor_{n} 或致电 139{n:08d}。本班老师均为在职教师，熟悉中考命题，"
        "每周三次课，每次两小时，作业当面批改。家长群内转发有优惠。")


def screenshot(n: int, height: int) -> bytes:
    """A made-up full-page capture: a header, text-like bars and a noisy "photo" (which is
    what makes a real capture's PNG weigh hundreds of kilobytes)."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(n)
    image = Image.new("RGB", (1280, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, 1280, 90], fill=(40, 90, 160))
    for y in range(130, height - 40, 28):
        draw.rectangle([60, y, 60 + rng.randrange(300, 1100), y + 14], fill=(70, 70, 70))
    photo = Image.frombytes("RGB", (480, 320), rng.randbytes(480 * 320 * 3))
    image.paste(photo, (720, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_case(ads: int, height: int):
    import hashlib
    import random

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from review_ui.models import ReviewItem, Screenshot
    from review_ui.store.ingest import ingest

    officer = get_user_model().objects.create_user("bench_officer")
    text_items = []
    for n in range(ads):
        # Words that differ from one ad to the next, so that the ads are not grouped as copies.
        rng = random.Random(n)
        text = TEXT.format(n=n) + f"\n编号 {n}：" + "".join(
            chr(0x4E00 + rng.randrange(6000)) for _ in range(300))
        text_items.append({
            "url": f"http://127.0.0.1/thread-{n}.html", "source": "bench_forum",
            "title": f"初中数学一对一辅导 {n}", "body_text": text,
            "fetched_at": timezone.now().isoformat(), "phones": [f"139{n:08d}"],
            "wechat_ids": [f"tutor_{n}"], "raw_body": f"<html>{text}</html>".encode(),
            "raw_content_type": "text/html; charset=utf-8", "raw_encoding": "utf-8",
            "verdict": {"score": 0.9, "label": 1, "category": "open_tutoring",
                        "evidence": ["一对一辅导", "提分", "在职教师"], "model_version": "bench"},
        })
    results = ingest(text_items)
    case = None
    images = []
    for n, result in enumerate(results):
        item = ReviewItem.objects.get(ad_id=result.ad_id)
        made = item.decide(officer, "escalated", f"第 {n} 条，转执法。", reason="open_tutoring",
                           case=case, new_case=case is None)
        case = made.case
        image = screenshot(n, height)
        images.append(image)
        Screenshot.objects.create(
            ad_id=result.ad_id, status=Screenshot.Status.OK, image=image,
            sha256=hashlib.sha256(image).hexdigest(), captured_at=timezone.now(),
            width=1280, height=height, attempts=1, url=text_items[n]["url"])
    return case, officer, images


CPU_SECONDS: list[float] = []
TICKS = os.sysconf("SC_CLK_TCK")


def _descendants_cpu() -> dict[tuple[int, int], float]:
    """CPU seconds of every live process under this one (Playwright's driver, Chromium's
    browser, renderer and GPU processes), keyed by (pid, start time)."""
    stats = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the name: state, ppid, ... utime (14th field of the line), stime, ... starttime.
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]),
                                  int(fields[19]))
    mine, found = {os.getpid()}, {}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, ticks, start) in stats.items():
            if ppid in mine and pid not in mine:
                mine.add(pid)
                found[(pid, start)] = ticks / TICKS
                grew = True
    return found


class ChildCpu:
    """Samples the CPU time of this process's descendants while it runs (every 50 ms, so a
    process's last moments may be missed): Chromium's work, which no rusage of ours counts."""

    def __enter__(self) -> ChildCpu:
        import threading

        self.seen: dict[tuple[int, int], float] = {}
        # Processes already running (the kept browser's) count for what they use from now on.
        self.before = _descendants_cpu()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.stop.wait(0.05):
            for key, seconds in _descendants_cpu().items():
                seconds -= self.before.get(key, 0.0)
                self.seen[key] = max(seconds, self.seen.get(key, 0.0))

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()
        self.seconds = sum(self.seen.values())


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def timed(repeat: int, run) -> list[float]:
    """Wall-clock seconds of each run; the CPU seconds of each (this process's and its
    descendants') go to CPU_SECONDS: on a loaded machine wall time says little, CPU time says
    what a sheet costs."""
    times = []
    CPU_SECONDS.clear()
    for _ in range(repeat):
        started, cpu = time.perf_counter(), cpu_seconds()
        with ChildCpu() as children:
            run()
        times.append(time.perf_counter() - started)
        CPU_SECONDS.append(cpu_seconds() - cpu + children.seconds)
    return times


def measure(ads: int, repeat: int, height: int, out: str | None = None) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from review_ui import evidence

    call_command("migrate", verbosity=0)
    case, officer, images = make_case(ads, height)
    image_bytes = sum(len(image) for image in images)

    floor = timed(repeat, lambda: evidence.print_pdf(
        "<!DOCTYPE html><html><body></body></html>", "<span></span>", "<span></span>"))
    floor_cpu = list(CPU_SECONDS)
    parts: dict[str, list[float]] = {"collect_and_render": [], "print": []}

    def sheet() -> None:
        started = time.perf_counter()
        data = evidence.collect(case)
        page = evidence.render_html(data, evidence.data_hash(data), timezone.now(), "bench")
        parts["collect_and_render"].append(time.perf_counter() - started)
        started = time.perf_counter()
        evidence.print_pdf(*page)
        parts["print"].append(time.perf_counter() - started)

    # The first sheet with no printed copy kept (as for captures stored before the copies were
    # kept at capture time); it also warms the disk cache of Chromium's files.
    shutil.rmtree(evidence.copy_cache(), ignore_errors=True)
    cold = timed(1, lambda: evidence.build(case, officer))
    cold_cpu = list(CPU_SECONDS)
    # What the capture worker does after storing each capture (``keep_printed_copy``).
    shutil.rmtree(evidence.copy_cache(), ignore_errors=True)
    copies_started = cpu_seconds()
    for image in images:
        evidence.keep_printed_copy(image)
    copies_cpu = cpu_seconds() - copies_started
    split = timed(repeat, sheet)
    whole_runs: list = []
    whole = timed(repeat, lambda: whole_runs.append(evidence.build(case, officer)))
    whole_cpu = list(CPU_SECONDS)
    built = whole_runs[-1]
    # The download from the web server: its kept browser (``KeptBrowser``) prints every sheet;
    # the first of them starts it, the others find it running. Its floor: an empty page on it.
    kept = evidence.kept_browser()
    web_first = timed(1, lambda: evidence.build(case, officer, keep_browser=True))
    web = timed(repeat, lambda: evidence.build(case, officer, keep_browser=True))
    web_cpu = list(CPU_SECONDS)
    kept_floor = timed(repeat, lambda: kept.print(
        "<!DOCTYPE html><html><body></body></html>", "<span></span>", "<span></span>"))
    kept_floor_cpu = list(CPU_SECONDS)
    kept.stop()
    if out:
        Path(out).write_bytes(built.pdf)
    return {
        "ads": ads, "screenshot_height": height, "screenshots_mb": round(image_bytes / 1e6, 2),
        "pages": built.pages, "pdf_mb": round(len(built.pdf) / 1e6, 2),
        "sheet_s": round(statistics.median(whole), 2), "sheet_runs_s": [round(t, 2) for t in whole],
        "collect_and_render_s": round(statistics.median(parts["collect_and_render"]), 2),
        "print_s": round(statistics.median(parts["print"]), 2),
        "split_total_s": round(statistics.median(split), 2),
        "floor_empty_page_s": round(statistics.median(floor), 2),
        "floor_runs_s": [round(t, 2) for t in floor],
        "ratio_to_floor": round(statistics.median(whole) / statistics.median(floor), 2),
        "sheet_cpu_s": round(statistics.median(whole_cpu), 2),
        "floor_cpu_s": round(statistics.median(floor_cpu), 2),
        "cpu_ratio_to_floor": round(statistics.median(whole_cpu) / statistics.median(floor_cpu), 2),
        "cold_copies_sheet_s": round(cold[0], 2), "cold_copies_sheet_cpu_s": round(cold_cpu[0], 2),
        "copies_at_capture_cpu_s": round(copies_cpu, 2),
        "web_first_sheet_s": round(web_first[0], 2),
        "web_sheet_s": round(statistics.median(web), 2), "web_runs_s": [round(t, 2) for t in web],
        "web_sheet_cpu_s": round(statistics.median(web_cpu), 2),
        "kept_floor_s": round(statistics.median(kept_floor), 2),
        "kept_floor_cpu_s": round(statistics.median(kept_floor_cpu), 2),
        "web_ratio_to_kept_floor": round(statistics.median(web) / statistics.median(kept_floor), 2),
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ads", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--out", help="write the last sheet to this PDF file, to look at")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "review_ui.settings")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TUTORWATCH_DATA_DIR"] = tmp
        if args.db == "sqlite":
            os.environ["TUTORWATCH_DB"] = f"sqlite:///{tmp}/bench.sqlite3"
            result = measure(args.ads, args.repeat, args.height, args.out)
        else:
            import psycopg

            name = f"tw_bench_evidence_{os.getpid()}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                os.environ["TUTORWATCH_DB"] = args.pg.rsplit("/", 1)[0] + f"/{name}"
                result = measure(args.ads, args.repeat, args.height, args.out)
            finally:
                from django.db import connections

                connections.close_all()
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["db"] = args.db
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
