"""Does the classifier's fast copy of library code still pay, and do its switches of library
behaviour? Batch scoring with and without each one, in one run.

    python benchmarks/classifier_copies.py [--texts 512] [--rounds 15] [--batches 1,10,100,256]
                                           [--against DIR]

The same corpus texts are scored with ``Classifier.classify`` (score, category, 8 evidence
spans, as a crawl and ``tutorwatch classify`` ask) in batches of each size: 1, 10 and 100 as
a crawl's pipeline worker makes them, 256 as ``tutorwatch classify`` does. Besides the code as
it is, each variant turns one thing off:

- ``jieba's cut``: ``jieba.Tokenizer.lcut(text, HMM=False)`` instead of
  ``classifier.tokenize.cut_exact``, the one fast copy of library code left;
- ``checks on``: scikit-learn's checks of valid input on each call, which the classifier turns
  off with the public ``sklearn.config_context(assume_finite=True,
  skip_parameter_validation=True)``;
- ``category weights in C order``: the category model's ``coef_`` as it is fitted and saved,
  not laid out in Fortran order (SciPy then copies the transposed weights on every product);
- ``--against DIR``: the classifier of another checkout (say a ``git worktree`` of an older
  commit), run in a child process on the same texts, interleaved with the others.

The copies removed on 2026-12-06 (the TF-IDF transform and the calibrated and category
probabilities computed from private fitted attributes) were measured with this script as it was
at commit f005af3, where each of them could be turned off; docs/benchmarks.md has the figures.

Runs are interleaved (every variant once per round, in a rotating order) and timed in CPU
seconds of the process, because other work may share the machine; each variant's best round
counts. Prints CPU milliseconds per ad and, per variant, the ratio of its time to the code as it
is (above 1: what the variant turns off saves time) and the share of the variant's time that
the code as it is saves. Every variant is first checked to give the same verdicts.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if "--serve" not in sys.argv:  # a served run imports the checkout it was started for
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402

from classifier import load_model  # noqa: E402
from classifier import model as model_module  # noqa: E402
from classifier import tokenize as tokenize_module  # noqa: E402
from classifier.corpus import load_split  # noqa: E402
from classifier.model import Classifier  # noqa: E402

Patch = Callable[[Classifier, ExitStack], None]


def _set(stack: ExitStack, owner: Any, name: str, value: Any) -> None:
    """``owner.name = value`` until the variant ends."""
    saved = getattr(owner, name)
    setattr(owner, name, value)
    stack.callback(setattr, owner, name, saved)


def jieba_cut(model: Classifier, stack: ExitStack) -> None:
    tokenizer = tokenize_module.tokenizer()
    _set(stack, tokenize_module, "cut_exact", lambda text: tokenizer.lcut(text, HMM=False))


def checks_on(model: Classifier, stack: ExitStack) -> None:
    _set(stack, model_module, "_trusted_input", nullcontext)


def category_weights_in_c_order(model: Classifier, stack: ExitStack) -> None:
    _set(stack, model.category_model, "coef_",
         np.ascontiguousarray(model.category_model.coef_))


VARIANTS: dict[str, list[Patch]] = {
    "as it is": [],
    "jieba's cut": [jieba_cut],
    "checks on": [checks_on],
    "category weights in C order": [category_weights_in_c_order],
}


@contextmanager
def variant(model: Classifier, patches: list[Patch]) -> Iterator[None]:
    with ExitStack() as stack:
        for patch in patches:
            patch(model, stack)
        yield


def corpus_texts(count: int) -> list[str]:
    corpus = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    return list(itertools.islice(itertools.cycle(corpus), count))


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]


def cpu_seconds(model: Classifier, texts: list[str], batch: int) -> float:
    gc.collect()
    started = time.process_time()
    for start in range(0, len(texts), batch):
        model.classify(texts[start:start + batch])
    return time.process_time() - started


def verdicts(model: Classifier, texts: list[str]) -> list[dict[str, Any]]:
    return [v.as_dict() for v in model.classify(texts[:200])]


def serve(count: int) -> None:
    """The child process of ``--against``: answers "verdicts" and "time BATCH" on stdin."""
    texts, model = corpus_texts(count), load_model()
    import classifier

    print(json.dumps({"texts": _digest(texts), "code": classifier.__file__}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "verdicts":
            print(json.dumps(verdicts(model, texts)), flush=True)
        elif command == "time":
            print(cpu_seconds(model, texts, int(argument)), flush=True)


class Other:
    """Another checkout's classifier, in a child process that imports that checkout."""

    def __init__(self, directory: Path, count: int, texts: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(directory)}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--texts", str(count)], cwd=directory,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        hello = json.loads(self.process.stdout.readline())
        if hello["texts"] != _digest(texts):
            raise SystemExit(f"{directory}: its corpus gives other texts")
        if not Path(hello["code"]).resolve().is_relative_to(directory.resolve()):
            raise SystemExit(f"{directory}: the child imported {hello['code']}")

    def ask(self, line: str) -> Any:
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=512, help="texts per timing (512)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (15)")
    parser.add_argument("--batches", default="1,10,100,256", help="batch sizes (1,10,100,256)")
    parser.add_argument("--against", type=Path, default=None,
                        help="another checkout whose classifier to time alongside")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.texts)
        return
    batches = [int(b) for b in args.batches.split(",")]
    texts, model = corpus_texts(args.texts), load_model()

    # Every variant once before timing (jieba's dictionary, normalisation's caches), checking
    # that it gives the same verdicts.
    reference = verdicts(model, texts)
    for name, patches in VARIANTS.items():
        with variant(model, patches):
            if verdicts(model, texts) != reference:
                raise SystemExit(f"{name}: verdicts differ")
    names = list(VARIANTS)
    other = None
    if args.against is not None:
        other = Other(args.against, args.texts, texts)
        if other.ask("verdicts") != reference:
            raise SystemExit(f"{args.against}: verdicts differ")
        names.append(str(args.against))

    load_before = os.getloadavg()[0]
    best: dict[tuple[str, int], float] = {}
    try:
        for round_ in range(args.rounds):
            order = names[round_ % len(names):] + names[:round_ % len(names)]
            for batch in batches:
                for name in order:
                    if name in VARIANTS:
                        with variant(model, VARIANTS[name]):
                            seconds = cpu_seconds(model, texts, batch)
                    else:
                        seconds = other.ask(f"time {batch}")
                    best[(name, batch)] = min(best.get((name, batch), seconds), seconds)
    finally:
        if other is not None:
            other.close()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}, scikit-learn {sklearn.__version__}; 1-minute load "
          f"average {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print(f"{len(texts)} texts ({sum(map(len, texts)) / len(texts):.0f} characters on average), "
          f"best of {args.rounds} interleaved rounds; CPU ms per ad, ×: time / time as it is, "
          "%: share of the variant's time the code as it is saves")
    width = max(map(len, names)) + 2
    print(f"{'variant':<{width}}" + "".join(f"{f'batch {b}':>23}" for b in batches))
    for name in names:
        cells = []
        for batch in batches:
            ms = best[(name, batch)] / len(texts) * 1000
            ratio = best[(name, batch)] / best[("as it is", batch)]
            cells.append(f"{ms:>23.3f}" if name == "as it is"
                         else f"{ms:>8.3f} ×{ratio:5.2f} {1 - 1 / ratio:5.0%}")
        print(f"{name:<{width}}" + "".join(cells))


if __name__ == "__main__":
    main()
