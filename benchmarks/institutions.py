"""Name matching of ads against a licensing list (issue 19 point 2): precision and recall on the
labeled sample, and the time per ad against a 20,000-institution list.

    python benchmarks/institutions.py [--institutions 20000] [--repeat 3]

No store: the matcher (``review_ui.institutions.names.NameIndex``) is what an ad meets the
first time it is read after it or the lists changed (the page then reads the stored matches).

1. Precision and recall on benchmarks/data/institution_pairs.jsonl (written by
   benchmarks/make_institution_pairs.py): the list is every institution of the sample plus, as
   institutions of their own, the look-alike brands of its hard cases. A pair counts as
   matched when its institution is among the ad's matches at a score at least the threshold.
   Printed for thresholds 70 to 100, by case, and at ``NAME_THRESHOLD``.
2. Time per ad: the same list plus generated institutions up to ``--institutions`` (random
   brands of two or three characters in random cities and legal forms), matched against the
   sample's ads and the real-world texts (/work/shared/real-world/texts.jsonl, when present).
   The floor is reading the ad's candidates alone (``candidates_in``: folding and scanning the
   text), measured in the same run; the ratio says what the list lookups add.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from make_institution_pairs import BRANDS, CITIES  # noqa: E402

from review_ui.institutions.names import (  # noqa: E402
    NAME_THRESHOLD,
    NameIndex,
    brand_of,
    candidates_in,
)

PAIRS = ROOT / "benchmarks" / "data" / "institution_pairs.jsonl"
REAL_WORLD = Path("/work/shared/real-world/texts.jsonl")
TARGET_MS = 10.0
BRAND_CHARS = "启明博雅德智慧星辰晨曦书香优学乐思远睿卓越龙门青苗新起点育英求知金太阳天才华文翰墨" \
              "东方红光彩虹蓝天白云海山川河湖春夏秋冬梅兰竹菊松柏桃李"
CITY_NAMES = ["长沙", "株洲", "湘潭", "衡阳", "岳阳", "常德", "益阳", "郴州", "永州", "怀化",
              "娄底", "邵阳", "张家界", "吉首"]
FORMS = ["教育培训学校有限公司", "教育科技有限公司", "文化艺术培训中心", "培训学校",
         "教育咨询有限公司", "托管服务中心", "艺术培训学校", "科技培训中心"]


def sample_list(pairs: list[dict]) -> list[str]:
    names = sorted({pair["institution"] for pair in pairs})
    names += [f"{CITIES[i % len(CITIES)][0]}市{alike}教育咨询有限公司"
              for i, (_brand, alike, _missed) in enumerate(BRANDS)]
    return names


def generated(count: int, rng: random.Random) -> list[str]:
    names = []
    for _ in range(count):
        brand = "".join(rng.sample(BRAND_CHARS, rng.choice((2, 2, 3))))
        names.append(f"{rng.choice(CITY_NAMES)}市{brand}{rng.choice(FORMS)}")
    return names


def evaluate(pairs: list[dict], names: list[str]) -> None:
    ids = {name: pk for pk, name in enumerate(names)}
    index = NameIndex([(pk, *brand_of(name)) for name, pk in ids.items()], threshold=0)
    scored = []
    for pair in pairs:
        scores = {m.institution_id: m.score for m in index.match(pair["ad"])}
        scored.append((pair, scores.get(ids[pair["institution"]], 0.0)))
    print(f"labeled sample: {len(pairs)} pairs, {sum(p['same'] for p in pairs)} same, "
          f"list of {len(names)} institutions")
    print("threshold  precision  recall  TP  FP  FN")
    for threshold in (70, 75, 80, 85, 90, 95, 100):
        tp = sum(1 for p, s in scored if p["same"] and s >= threshold)
        fp = sum(1 for p, s in scored if not p["same"] and s >= threshold)
        fn = sum(1 for p, s in scored if p["same"] and s < threshold)
        precision = tp / (tp + fp) if tp + fp else 1.0
        mark = "  <- NAME_THRESHOLD" if threshold == NAME_THRESHOLD else ""
        print(f"{threshold:9d}  {precision:9.3f}  {tp / (tp + fn):6.3f}  {tp:2d}  {fp:2d}  "
              f"{fn:2d}{mark}")
    by_case: Counter = Counter()
    for pair, score in scored:
        by_case[pair["case"], pair["same"], score >= NAME_THRESHOLD] += 1
    print(f"by case at {NAME_THRESHOLD:g} (case, same, matched): count")
    for key in sorted(by_case):
        print(f"  {key}: {by_case[key]}")


def timed(function, texts: list[str], repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter()
            function(text)
            runs.append((time.perf_counter() - start) * 1000)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--institutions", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines()]
    names = sample_list(pairs)
    evaluate(pairs, names)

    rng = random.Random(20000)
    names += generated(max(0, args.institutions - len(names)), rng)
    start = time.perf_counter()
    entries = [(pk, *brand_of(name)) for pk, name in enumerate(names)]
    normalised = time.perf_counter() - start
    start = time.perf_counter()
    index = NameIndex(entries)  # what a process does once per version of the lists
    built = time.perf_counter() - start
    texts = [pair["ad"] for pair in pairs]
    if REAL_WORLD.exists():
        texts += [json.loads(line)["text"] for line in REAL_WORLD.read_text(
            encoding="utf-8").splitlines()]
    regions = index.known_regions  # as the index passes them
    floor = timed(lambda text: candidates_in(text, regions), texts, args.repeat)
    match = timed(index.match, texts, args.repeat)
    p95 = statistics.quantiles(match, n=20)[-1]
    print(f"\nlist of {len(index)} institutions ({len(index.brands)} distinct brands): names "
          f"normalised in {normalised:.2f} s (at import), index built in {built:.2f} s (once "
          f"per process and version of the lists); {len(texts)} ads x {args.repeat}")
    print(f"floor (candidates only): mean {statistics.fmean(floor):.3f} ms, p95 "
          f"{statistics.quantiles(floor, n=20)[-1]:.3f} ms")
    print(f"match: mean {statistics.fmean(match):.3f} ms, p95 {p95:.3f} ms, max "
          f"{max(match):.3f} ms; {statistics.fmean(match) / statistics.fmean(floor):.1f}x the "
          f"floor; target {TARGET_MS:g} ms per ad: "
          f"{'met' if p95 <= TARGET_MS else 'NOT met'} (p95)")


if __name__ == "__main__":
    main()
