"""``tutorwatch train [--data DIR] [--out MODEL.skops] [--loro]``: train the classifier on the
labeled corpus, choose its threshold on out-of-fold scores (the rule checked on dev first), fit
on train + dev, and write the model, its trusted-types list and a sidecar with library versions,
data hash and metrics (the model's, the char-n-gram baseline's and the keyword list's on dev and
test; with ``--loro``, leave-one-register-out figures too)."""

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
        parser.add_argument("--loro", action="store_true",
                            help="also measure leave-one-register-out (each source_type and "
                                 "layout family held out in turn; several minutes) and record "
                                 "it in the sidecar")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier.train import train

        with tqdm(total=STEPS + options["loro"], unit="step", file=self.stderr._out) as bar:
            def progress(message: str) -> None:
                if bar.desc:  # the step named before this one is done
                    bar.update(1)
                bar.set_description(message)

            model = train(Path(options["data"]), Path(options["out"]), progress=progress,
                          loro=options["loro"])
            bar.update(bar.total - bar.n)
        names = {"dev": "dev (model fitted on train alone)", "test": "test"}
        metadata = model.metadata
        for split, figures in metadata["metrics"].items():
            base = metadata["baseline_metrics"][split]["f1"]
            words = metadata["keyword_metrics"][split]["f1"]
            self.stdout.write(
                f"{names.get(split, split)}: precision {figures['precision']:.3f}  "
                f"recall {figures['recall']:.3f}  "
                f"F1 {figures['f1']:.3f}  (n={figures['n']}; char n-gram baseline F1 "
                f"{base:.3f}, keyword list F1 {words:.3f})"
            )
        if "leave_one_register_out" in metadata:
            from classifier.loro import format_loro

            self.stdout.write(format_loro(metadata["leave_one_register_out"]))
        self.stdout.write(f"threshold {model.threshold:.3f}; wrote {options['out']}")
