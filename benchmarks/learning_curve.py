"""The learning curve: how many officers' decisions teach the model a disguise it has not seen.

    python benchmarks/learning_curve.py [--steps 10,20,40,80] [--weights 3,10,30] [--sweep-at 40]
                                        [--weight W] [--seed 0] [--data FILE]

``benchmarks/data/novel_form_zhenglishi.jsonl`` holds 160 ads of a disguise form the corpus does
not have: 80 positives (layout ``novel_zhenglishi``), "错题整理师" and its kin (学习整理师,
卷面整理, 整理营) who come home, sit in a study room or call by video to "organise" a pupil's
wrong answers, that is, explain exam papers and teach the textbook, naming the volume (七上,
八下) rather than the subject and grade; and 80 look-alikes (``novel_zhenglishi_lookalike``)
with the same words: home organisers (收纳), adults' 错题 services, 错题 printers, pure care,
news, parents' questions. The shipped model finds 25 of the 80 positives. (``novel_form.jsonl``,
the earlier 题本杀 form, is kept: the shipped model already flags it, so it cannot show
learning; docs/benchmarks.md.)

In a temporary SQLite store, the ads are scored by the current model and stored as a crawl
stores them (the store's ingest function, imported in ``ingest`` below). The form is split in
two halves, stratified and seeded. An officer then decides ads of the first half through the
REST API (token auth), half each way (positives confirmed, look-alikes dismissed, alternately);
an ad the model did not flag is not in the queue, so it is queued as an exploration sample
(``ReviewItem(sample=True)``), as the sampling does. After each step (decisions so far, capped
at the half's size), ``tutorwatch train --with-decisions`` fits a candidate, which is measured
on the second half (recall on its positives, false flags on its look-alikes), beside its
sidecar's corpus-test and real-world/ F1 and the current model's.

By default every candidate is fitted at the weight ``train --with-decisions`` chooses when none
is given (``classifier.learn.decision_weight``: the decisions together weigh a share of the
corpus while they are few). ``--weights 3,10,30`` tries constant weights instead, at
``--sweep-at`` decisions: for each, a candidate fitted on train alone plus the decisions is
measured on dev and on the held-out (most recent 20%) decisions; the weight with the best sum
of the two F1s wins (the smaller on a tie) and is used from then on (before it, the default).
The second half and the test split choose nothing. ``--weight`` fixes one constant weight.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "novel_form_zhenglishi.jsonl"
SOURCE = "novel_form_site"


def ingest(items: list[dict]) -> None:
    """The store's ingest function, as a crawl calls it (the one place it is imported)."""
    from review_ui.store.ingest import ingest as store_ingest

    store_ingest(items)


def setup(workdir: Path) -> None:
    os.environ["TUTORWATCH_DATA_DIR"] = str(workdir)
    os.environ["TUTORWATCH_DB"] = f"sqlite:///{workdir / 'curve.sqlite3'}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "review_ui.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def halves(rows: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Each label split in two, seeded; the first half ordered one positive, one look-alike."""
    rng = random.Random(seed)
    first_pos, first_neg, second = [], [], []
    for label, bucket in ((1, first_pos), (0, first_neg)):
        group = [r for r in rows if r["label"] == label]
        rng.shuffle(group)
        bucket.extend(group[:len(group) // 2])
        second.extend(group[len(group) // 2:])
    first = [r for pair in zip(first_pos, first_neg, strict=False) for r in pair]
    return first, second


def store(rows: list[dict], model) -> None:
    verdicts = model.classify([r["text"] for r in rows])
    items = []
    for row, verdict in zip(rows, verdicts, strict=True):
        title, _, body = row["text"].partition("\n")
        items.append({
            "url": f"http://127.0.0.1/novel/{row['id']}", "source": SOURCE, "title": title,
            "body_text": body, "fetched_at": "2026-12-01T10:00:00+08:00",
            "posted_at": "2026-11-30T09:00:00+08:00", "phones": [], "wechat_ids": [],
            "raw_body": row["text"].encode(), "raw_content_type": "text/html; charset=utf-8",
            "raw_encoding": "utf-8",
            "verdict": {"score": verdict.score, "label": verdict.label,
                        "category": verdict.category, "evidence": verdict.evidence,
                        "model_version": model.version},
        })
    ingest(items)


def officer_client():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from review_ui.roles import OFFICERS, grant

    user = get_user_model().objects.create_user("curve_officer", password="x" * 20)
    grant(user, OFFICERS)
    out = StringIO()
    call_command("token", "curve_officer", stdout=out)
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip()}")
    return client


def decide(client, row: dict) -> bool:
    """Decide one ad through the API (queued as a sample first when the model did not flag it);
    returns whether it was a sample."""
    from review_ui.models import Ad, ReviewItem

    ad = Ad.objects.get(url=f"http://127.0.0.1/novel/{row['id']}")
    item = ReviewItem.objects.filter(ad=ad).first()
    if item is None:
        item = ReviewItem.objects.create(ad=ad, sample=True)
    body = {"decision": "confirmed" if row["label"] else "dismissed", "reason": row["category"],
            "note": "learning curve"}
    response = client.post(f"/api/v1/items/{item.pk}/decision/", body, format="json")
    if response.status_code != 200:
        raise SystemExit(f"deciding {row['id']}: {response.status_code} {response.content!r}")
    return item.sample


def on_second_half(model, second: list[dict]) -> dict:
    flagged = model.predict([r["text"] for r in second])
    pos = [f for f, r in zip(flagged, second, strict=True) if r["label"] == 1]
    neg = [f for f, r in zip(flagged, second, strict=True) if r["label"] == 0]
    return {"recall": sum(pos) / len(pos), "false_flags": int(sum(neg)), "lookalikes": len(neg)}


def f1(compared: dict, data: str, who: str) -> str:
    value = compared.get(data, {}).get(who, {}).get("f1")
    return "-" if value is None else f"{value:.3f}"


def sweep(weights: list[float], current) -> tuple[float, list[dict]]:
    from classifier.corpus import load_split
    from classifier.learn import check_decision, figures, train_with_decisions
    from review_ui.decisions_dataset import examples

    decisions = [check_decision(r, r["id"]) for r in examples()]
    dev = load_split("dev")
    results = []
    for weight in weights:
        out = Path(os.environ["TUTORWATCH_DATA_DIR"]) / f"sweep-{weight:g}.skops"
        model = train_with_decisions(decisions, current, out, weight=weight,
                                     corpus_splits=("train",), real_world=None)
        held = model.metadata["compared"]["held_out_decisions"]["candidate"]
        results.append({"weight": weight, "dev_f1": figures(model, dev)["f1"],
                        "held_out_f1": held.get("f1", 0.0), "held_out_n": held["n"]})
        print(f"  weight {weight:g}: dev F1 {results[-1]['dev_f1']:.3f}, held-out decisions F1 "
              f"{results[-1]['held_out_f1']:.3f} (n={held['n']})", flush=True)
    best = max(results, key=lambda r: (r["dev_f1"] + r["held_out_f1"], -r["weight"]))
    return best["weight"], results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="10,20,40,80")
    parser.add_argument("--weights", default="",
                        help="try these constant weights at --sweep-at decisions (e.g. 3,10,30); "
                             "default: none, the weight train --with-decisions chooses")
    parser.add_argument("--sweep-at", type=int, default=40)
    parser.add_argument("--weight", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA,
                        help="the form's ads (JSONL, corpus format); default %(default)s")
    args = parser.parse_args()
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="tw-curve-"))
    setup(workdir)
    from django.core.management import call_command

    from classifier import load_model

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line]
    first, second = halves(rows, args.seed)
    current = load_model()
    store(rows, current)
    client = officer_client()
    base = on_second_half(current, second)
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"current model {current.version}, threshold {current.threshold:.3f}")
    print(f"first half {len(first)} ads (decided), second half {len(second)} (measured); "
          f"current model on the second half: recall {base['recall']:.3f}, "
          f"false flags {base['false_flags']}/{base['lookalikes']}", flush=True)

    steps = [int(s) for s in args.steps.split(",")]
    decided, samples, weight, lines = 0, 0, args.weight, []
    for step in steps:
        target = min(step, len(first))
        while decided < target:
            samples += decide(client, first[decided])
            decided += 1
        if args.weights and weight is None and decided >= min(args.sweep_at, len(first)):
            print(f"choosing the weight at {decided} decisions (train-only fits; dev and the "
                  "held-out decisions):", flush=True)
            weight, _ = sweep([float(w) for w in args.weights.split(",")], current)
            print(f"  chosen weight {weight:g}", flush=True)
        out = workdir / f"candidate-{step}.skops"
        given = ["--weight", str(weight)] if weight is not None else []
        call_command("train", "--with-decisions", "--out", str(out), *given,
                     stdout=StringIO(), stderr=StringIO())
        meta = json.loads(out.with_suffix(".json").read_text())
        candidate = load_model(out)
        half = on_second_half(candidate, second)
        compared = meta["compared"]
        lines.append(
            f"| {step}{'' if target == step else f' ({decided})'} | {samples} | "
            f"{meta['decisions']['used']}/{meta['decisions']['held_out']} | "
            f"{meta['decisions']['weight']:.3g} | {half['recall']:.3f} | "
            f"{half['false_flags']}/{half['lookalikes']} | "
            f"{f1(compared, 'test', 'candidate')} ({f1(compared, 'test', 'current')}) | "
            f"{f1(compared, 'real_world', 'candidate')} "
            f"({f1(compared, 'real_world', 'current')}) |")
        print(lines[-1], flush=True)
    print()
    print("| decisions asked (made) | of them samples | fitted/held out | weight | "
          "recall, 2nd half positives | false flags, 2nd half look-alikes | "
          "corpus test F1 (current) | real-world F1 (current) |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    print(f"\ncurrent model on the 2nd half: recall {base['recall']:.3f}, false flags "
          f"{base['false_flags']}/{base['lookalikes']}; {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
