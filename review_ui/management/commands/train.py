"""``tutorwatch train [--data DIR] [--out MODEL.skops] [--loro]``: train the classifier on the
labeled corpus, choose its threshold on out-of-fold scores (the rule checked on dev first), fit
on train + dev, and write the model, its trusted-types list and a sidecar with library versions,
data hash and metrics (the model's, the char-n-gram baseline's and the keyword list's on dev and
test; with ``--loro``, leave-one-register-out figures too).

``tutorwatch train --with-decisions [--decisions FILE.jsonl] [--out FILE] [--weight W]``: fit a
candidate on the corpus (train + dev) plus officers' decisions (the store's, or an exported or
pooled file), holding out the most recent 20% of decisions by time, and write it (default
``<data dir>/models/candidate-<stamp>.skops``, never the current model unless ``--out`` names
it) with a sidecar comparing it with the current model (``classifier.learn``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from classifier.corpus import DATA_DIR
from classifier.model import DEFAULT_MODEL_PATH

STEPS = 7


class Command(BaseCommand):
    help = "Train the classifier from the labeled corpus."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--data", default=str(DATA_DIR),
                            help="folder with train/dev/test.jsonl")
        parser.add_argument("--out", default=None,
                            help="model file to write (default: the shipped model; with "
                                 "--with-decisions, <data dir>/models/candidate-<stamp>.skops)")
        parser.add_argument("--loro", action="store_true",
                            help="also measure leave-one-register-out (each source_type and "
                                 "layout family held out in turn; several minutes) and record "
                                 "it in the sidecar")
        parser.add_argument("--with-decisions", action="store_true",
                            help="fit a candidate on the corpus plus officers' decisions, the "
                                 "most recent 20%% held out as a check")
        parser.add_argument("--decisions", default=None, metavar="FILE.jsonl",
                            help="with --with-decisions: decisions from this exported or pooled "
                                 "file instead of the store")
        parser.add_argument("--weight", type=float, default=None,
                            help="with --with-decisions: how many corpus examples a decision "
                                 "weighs (default: classifier.learn.DEFAULT_WEIGHT)")
        parser.add_argument("--current", default=None,
                            help="with --with-decisions: the model to compare with (default: "
                                 "the shipped model)")
        parser.add_argument("--real-world", default=None,
                            help="with --with-decisions: labeled JSONL of real posts to compare "
                                 "on (default: ../shared/real-world/texts.jsonl when present)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["with_decisions"]:
            self._with_decisions(options)
            return
        if options["decisions"] or options["weight"] is not None:
            raise CommandError("--decisions and --weight go with --with-decisions")
        options["out"] = options["out"] or str(DEFAULT_MODEL_PATH)
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

    def _with_decisions(self, options: dict[str, Any]) -> None:
        from datetime import UTC, datetime

        from django.conf import settings

        from classifier import ModelLoadError, load_model
        from classifier.corpus import CorpusError
        from classifier.learn import (
            DEFAULT_WEIGHT,
            REAL_WORLD,
            DecisionsError,
            check_decision,
            read_decisions,
            train_with_decisions,
        )

        try:
            current = load_model(options["current"])
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None
        try:
            if options["decisions"]:
                decisions = read_decisions(Path(options["decisions"]))
                source = options["decisions"]
            else:
                from review_ui.decisions_dataset import Tally, examples

                tally = Tally()
                decisions = [check_decision(row, row["id"]) for row in examples(tally)]
                source = "store"
                for why, count in sorted(tally.left_out.items()):
                    self.stderr.write(f"left out {count}: {why}")
        except DecisionsError as exc:
            raise CommandError(str(exc)) from None
        out = Path(options["out"]) if options["out"] else (
            Path(settings.DATA_DIR) / "models"
            / f"candidate-{datetime.now(UTC):%Y%m%dT%H%M%S}.skops")
        real_world = Path(options["real_world"]) if options["real_world"] else REAL_WORLD
        # A sample weighs 1 / the rate it was drawn at, as the store recorded it; for samples
        # without a recorded rate (older pooled files), today's rate, or 0.03 while sampling is off.
        rate = float(getattr(settings, "TUTORWATCH_SAMPLE_RATE", 0.03)) or 0.03
        try:
            with tqdm(total=4, unit="step", file=self.stderr._out) as bar:
                def progress(message: str) -> None:
                    if bar.desc:
                        bar.update(1)
                    bar.set_description(message)

                model = train_with_decisions(
                    decisions, current, out, data_dir=Path(options["data"]),
                    weight=options["weight"] or DEFAULT_WEIGHT, sample_rate=rate,
                    real_world=real_world, source=source, progress=progress)
                bar.update(bar.total - bar.n)
        except (DecisionsError, CorpusError) as exc:
            raise CommandError(str(exc)) from None
        used = model.metadata["decisions"]
        self.stdout.write(f"decisions: {used['used']} fitted on (weight {used['weight']:g}), "
                          f"{used['held_out']} most recent held out")
        self.stdout.write(f"threshold {model.threshold:.3f}: {model.metadata['threshold_rule']}")
        for name, pair in model.metadata["compared"].items():
            cells = []
            for who in ("candidate", "current"):
                f = pair[who]
                cells.append(f"{who} " + (f"P {f['precision']:.3f} R {f['recall']:.3f} "
                                          f"F1 {f['f1']:.3f}" if f["n"] else "-"))
            self.stdout.write(f"{name} (n={pair['candidate']['n']}): {'  |  '.join(cells)}")
        current_path = Path(options["current"] or DEFAULT_MODEL_PATH).resolve()
        self.stdout.write(f"wrote {out}" if Path(out).resolve() == current_path
                          else f"wrote candidate {out} (the current model is unchanged)")
