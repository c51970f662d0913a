"""End-to-end crawl of the three sandbox sites: the full pipeline (clean text, contacts,
classify, store) against plain Scrapy on the same pages with the same settings (no item
pipelines), in one run, each into a fresh SQLite store.

    python benchmarks/crawl_sandbox.py [--repeat 3]

Prints pages, ads and seconds for each and the throughput ratio full / plain.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from crawler.config import BUNDLED_DIR
from crawler.sandbox import DEFAULT_PORTS, start_sandbox

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "review_ui.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, check=True)
    return done.stdout.decode()


def crawl_once(sources: list[Path], plain: bool, workdir: Path) -> tuple[int, int, float]:
    env = {**os.environ, "TUTORWATCH_DATA_DIR": str(workdir),
           "TUTORWATCH_DB": f"sqlite:///{workdir / 'store.sqlite3'}",
           "TUTORWATCH_CRAWL_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "review_ui.settings",
           "TUTORWATCH_ALLOW_NETWORKS": "127.0.0.0/8"}  # the sandbox sites are on 127.0.0.1
    run(["migrate", "-v", "0"], env)
    args = ["crawl"] + [a for path in sources for a in ("--source", str(path))]
    if plain:
        args += ["-s", "ITEM_PIPELINES={}"]
    out = run(args, env)
    pages = sum(int(n) for n in re.findall(r"pages (\d+)", out))
    ads = sum(int(n) for n in re.findall(r"ads (\d+)", out))
    seconds = float(re.search(r"done in ([\d.]+) s", out).group(1))
    return pages, ads, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sandbox = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            sources = []
            for site, port in DEFAULT_PORTS.items():
                text = (BUNDLED_DIR / f"sandbox_{site}.yaml").read_text(encoding="utf-8")
                path = Path(tmp) / f"sandbox_{site}.yaml"
                path.write_text(
                    text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{sandbox.ports[site]}"),
                    encoding="utf-8",
                )
                sources.append(path)
            results = {"plain": [], "full": []}
            for i in range(args.repeat):
                for mode in ("plain", "full"):
                    workdir = Path(tmp) / f"{mode}{i}"
                    workdir.mkdir()
                    results[mode].append(crawl_once(sources, mode == "plain", workdir))
    finally:
        sandbox.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    best = {}
    for mode, runs in results.items():
        pages, ads, seconds = min(runs, key=lambda r: r[2])
        best[mode] = pages / seconds
        print(f"{mode:5}: {pages} pages, {ads} ads, best of {len(runs)}: {seconds:.2f} s "
              f"({pages / seconds:.0f} pages/s)")
    print(f"throughput ratio full / plain Scrapy: {best['full'] / best['plain']:.2f}")


if __name__ == "__main__":
    main()
