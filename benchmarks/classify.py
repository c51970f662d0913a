"""Classifier throughput against jieba segmentation of the same texts alone, in one run.

    python benchmarks/classify.py [--n 20000]
    python benchmarks/classify.py --process [--n 20000] [--repeat 3] [--against DIR]

Texts are the labeled corpus repeated to N (lengths 8–789 characters). Prints ads per second
for both and the ratio classify / jieba (1.0 would mean classifying costs no more than
segmenting), plus the model's load time and file size.

``--process`` times whole processes instead (issue 22): ``tutorwatch classify IN -o OUT`` on
the N ads as JSON lines, start-up included (imports, the store asked for the promoted model,
the model and jieba's dictionary loaded), against a floor process that imports jieba, loads
its dictionary and the domain dictionary, reads the same lines and writes each text's jieba
segmentation. Each round runs the floor and then the command (and ``--against DIR``'s command,
another checkout, with its own code first on ``PYTHONPATH``); it prints each process's CPU
seconds (user + system, from ``wait4``), wall seconds and peak resident memory, and the ratio
floor / classify of each round, CPU and wall, with their medians. The store is a fresh,
migrated SQLite file in a temporary directory unless ``--db URL`` names one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from classifier import DEFAULT_MODEL_PATH, load_model
from classifier.corpus import load_split
from classifier.tokenize import DOMAIN_DICT, segment, tokenizer

ROOT = Path(__file__).resolve().parent.parent
# The floor: jieba alone, as a whole process, on the same lines.
FLOOR = """
import json, logging, sys
import jieba
jieba.setLogLevel(logging.WARNING)
cutter = jieba.Tokenizer()
cutter.initialize()
with open(sys.argv[3], "rb") as handle:
    cutter.load_userdict(handle)
source = open(sys.argv[1], encoding="utf-8")
with source, open(sys.argv[2], "w", encoding="utf-8") as sink:
    for line in source:
        row = json.loads(line)
        sink.write(json.dumps({"id": row.get("id"), "words": cutter.lcut(row["text"])},
                              ensure_ascii=False) + "\\n")
"""


def _run(command: list[str], env: dict[str, str], cwd: str | Path = ROOT,
         label: str = "") -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak resident MB) of one child process, which must succeed.

    ``cwd`` is the checkout whose code runs: ``python -m`` puts the working directory first on
    ``sys.path``, ahead of ``PYTHONPATH``."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=cwd, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode(errors="replace") if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{error}")
    result = (usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024)
    if label:
        print(f"  {label}: CPU {result[0]:.2f} s, wall {result[1]:.2f} s", flush=True)
    return result


def whole_process(texts: list[str], repeat: int, against: str | None, db: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tw-classify-bench-") as tmp:
        work = Path(tmp)
        source = work / "ads.jsonl"
        with open(source, "w", encoding="utf-8") as handle:
            for number, text in enumerate(texts):
                handle.write(json.dumps({"id": number, "text": text}, ensure_ascii=False) + "\n")
        env = {**os.environ, "TUTORWATCH_DATA_DIR": str(work),
               "TUTORWATCH_DB": db or f"sqlite:///{work / 'store.sqlite3'}"}
        checkouts = {"classify": str(ROOT)}
        if against:
            checkouts["against"] = str(Path(against).resolve())
        if not db:
            subprocess.run([sys.executable, "-m", "review_ui.cli", "migrate", "-v0"], check=True,
                           env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
        floor_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        results: dict[str, list[tuple[float, float, float]]] = {"jieba": []}
        results.update({name: [] for name in checkouts})
        for number in range(1, repeat + 1):
            results["jieba"].append(_run(
                [sys.executable, "-c", FLOOR, str(source), str(work / "floor.jsonl"),
                 str(DOMAIN_DICT)], floor_env, label=f"round {number} jieba",
            ))
            for name, checkout in checkouts.items():
                # Each checkout's own code: its directory first on sys.path (until 2026-12-06
                # evening, --against ran this checkout's code from its working directory).
                results[name].append(_run(
                    [sys.executable, "-m", "review_ui.cli", "classify", str(source), "-o",
                     str(work / f"{name}.jsonl")], {**env, "PYTHONPATH": checkout},
                    cwd=checkout, label=f"round {number} {name}",
                ))
            if against and number == 1:
                same = ((work / "classify.jsonl").read_bytes()
                        == (work / "against.jsonl").read_bytes())
                print(f"  outputs of the two checkouts identical: {same}", flush=True)
        print(f"{'process':10} {'round':>5} {'CPU s':>7} {'wall s':>7} {'peak MB':>8} "
              f"{'ratio CPU':>9} {'ratio wall':>10}")
        for name, runs in results.items():
            for number, (cpu, wall, peak) in enumerate(runs, 1):
                floor_cpu, floor_wall, _ = results["jieba"][number - 1]
                print(f"{name:10} {number:5} {cpu:7.2f} {wall:7.2f} {peak:8.0f} "
                      f"{floor_cpu / cpu:9.2f} {floor_wall / wall:10.2f}")
            if name != "jieba":
                cpu_ratios = [f[0] / r[0] for f, r in zip(results["jieba"], runs, strict=True)]
                wall_ratios = [f[1] / r[1] for f, r in zip(results["jieba"], runs, strict=True)]
                print(f"{name}: median ratio jieba / classify, CPU "
                      f"{statistics.median(cpu_ratios):.2f}, wall "
                      f"{statistics.median(wall_ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--process", action="store_true",
                        help="time whole processes: tutorwatch classify against jieba alone")
    parser.add_argument("--repeat", type=int, default=3, help="rounds with --process")
    parser.add_argument("--against", default=None,
                        help="with --process: another checkout's tutorwatch classify too")
    parser.add_argument("--db", default=None, help="with --process: the store's URL")
    args = parser.parse_args()

    corpus = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    texts = list(itertools.islice(itertools.cycle(corpus), args.n))
    chars = sum(len(t) for t in texts)
    if args.process:
        print(f"machine: {platform.machine()} python {platform.python_version()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"texts: {len(texts)} ({chars / len(texts):.0f} characters on average)")
        whole_process(texts, args.repeat, args.against, args.db)
        return

    started = time.perf_counter()
    model = load_model()
    load_seconds = time.perf_counter() - started
    tokenizer()  # both sides start with jieba's dictionary loaded
    model.classify(texts[:10])

    started = time.perf_counter()
    for text in texts:
        segment(text)
    jieba_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, len(texts), args.batch):
        model.classify(texts[start:start + args.batch])
    classify_seconds = time.perf_counter() - started

    print(f"machine: {platform.machine()} {platform.processor() or ''} "
          f"python {platform.python_version()}")
    print(f"texts: {len(texts)} ({chars / len(texts):.0f} characters on average)")
    print(f"model: {DEFAULT_MODEL_PATH.stat().st_size / 1e6:.1f} MB, "
          f"loaded in {load_seconds:.2f} s")
    print(f"jieba segmentation alone: {len(texts) / jieba_seconds:8.0f} ads/s "
          f"({jieba_seconds:.2f} s)")
    print(f"tutorwatch classify:      {len(texts) / classify_seconds:8.0f} ads/s "
          f"({classify_seconds:.2f} s)")
    print(f"ratio classify / jieba: {jieba_seconds / classify_seconds:.2f}")


if __name__ == "__main__":
    main()
