"""``tutorwatch train [--data DIR] [--out MODEL.skops]``: train the classifier on the labeled
corpus, choose its threshold on out-of-fold scores (the rule checked on dev first), fit on
train + dev, and write the model, its trusted-types list and a sidecar
with library versions, data hash and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from classifier.corpus import DATA_DIR
from classifier.model import DEFAULT_MODEL_PATH

STEPS = 7


class Command(BaseCommand):
    help = "Train the classifier from the labeled corpus."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", default=str(DATA_DIR),
                            help="folder with train/dev/test.jsonl")
        parser.add_argument("--out", default=str(DEFAULT_MODEL_PATH), help="model file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier.train import train

        with tqdm(total=STEPS, unit="step", file=self.stderr._out) as bar:
            def progress(message: str) -> None:
                if bar.desc:  # the step named before this one is done
                    bar.update(1)
                bar.set_description(message)

            model = train(Path(options["data"]), Path(options["out"]), progress=progress)
            bar.update(STEPS - bar.n)
        names = {"dev": "dev (model fitted on train alone)", "test": "test"}
        for split, figures in model.metadata["metrics"].items():
            self.stdout.write(
                f"{names.get(split, split)}: precision {figures['precision']:.3f}  "
                f"recall {figures['recall']:.3f}  "
                f"F1 {figures['f1']:.3f}  (n={figures['n']})"
            )
        self.stdout.write(f"threshold {model.threshold:.3f}; wrote {options['out']}")
