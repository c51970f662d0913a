"""Classifier throughput against jieba segmentation of the same texts alone, in one run.

    python benchmarks/classify.py [--n 20000]

Texts are the labeled corpus repeated to N (lengths 8–789 characters). Prints ads per second
for both and the ratio classify / jieba (1.0 would mean classifying costs no more than
segmenting), plus the model's load time and file size.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time

from classifier import DEFAULT_MODEL_PATH, load_model
from classifier.corpus import load_split
from classifier.tokenize import segment, tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    corpus = [r["text"] for split in ("train", "dev", "test") for r in load_split(split)]
    texts = list(itertools.islice(itertools.cycle(corpus), args.n))
    chars = sum(len(t) for t in texts)

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
