"""``tutorwatch evaluate [--split test|dev] [--data FILE] [--model PATH] [--plot FILE]``:
precision / recall / F1 overall, per category and per source_type, the confusion of categories,
a precision-recall curve as PNG, and the same figures for the char-n-gram baseline (fitted on
the same splits as the model) and a plain keyword list on the same data.

``tutorwatch evaluate --loro [--register KEY=VALUE ...]``: leave-one-register-out figures
instead (``classifier.loro``): per source_type and layout family, the model and the baseline
fitted on train + dev without it, measured on it, beside the keyword list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("Measure the classifier (beside the char-n-gram baseline and the keyword list) on a "
            "labeled split or file, or leave one register out at a time (--loro).")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--split", choices=["test", "dev"], default="test")
        parser.add_argument("--data", help="a labeled JSONL file instead of a split "
                                           "({id, text, label[, category, source_type, hard]})")
        parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
        parser.add_argument("--plot", default=None,
                            help="where to write the precision-recall curve "
                                 "(default pr-<name>.png)")
        parser.add_argument("--json", default=None, help="also write the figures as JSON here")
        parser.add_argument("--corpus", default=None,
                            help="folder with train/dev/test.jsonl for the baseline and --loro "
                                 "(default: the bundled corpus)")
        parser.add_argument("--loro", action="store_true",
                            help="leave-one-register-out: per source_type and layout family, "
                                 "fit on train + dev without it and measure on it")
        parser.add_argument("--register", action="append", default=None, metavar="KEY=VALUE",
                            help="with --loro: only this register (source_type=job, "
                                 "layout=NAME); repeatable")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier.corpus import DATA_DIR, CorpusError

        corpus = Path(options["corpus"]) if options["corpus"] else DATA_DIR
        try:
            if options["loro"]:
                self._loro(corpus, options)
            else:
                self._evaluate(corpus, options)
        except CorpusError as exc:
            raise CommandError(str(exc)) from None

    def _loro(self, corpus: Path, options: dict[str, Any]) -> None:
        from classifier.corpus import load_split
        from classifier.loro import format_loro, leave_one_register_out, parse_register

        try:
            only = ([parse_register(text) for text in options["register"]]
                    if options["register"] else None)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        rows = load_split("train", corpus) + load_split("dev", corpus)
        result = leave_one_register_out(rows, only, progress=lambda m: self.stderr.write(m))
        self.stdout.write(format_loro(result))
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
            )

    def _evaluate(self, corpus: Path, options: dict[str, Any]) -> None:
        from classifier import ModelLoadError, load_model
        from classifier.baseline import fit_on_splits
        from classifier.corpus import load_split
        from classifier.evaluate import dump, evaluate, format_report, plot_pr_curve

        try:
            model = load_model(options["model"])
        except ModelLoadError as exc:
            raise CommandError(str(exc)) from None
        if options["data"]:
            path = Path(options["data"])
            try:
                rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                        if line.strip()]
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {path}: {exc}") from None
            bad = [i for i, r in enumerate(rows, 1)
                   if not isinstance(r, dict) or r.get("label") not in (0, 1) or "text" not in r]
            if bad:
                raise CommandError(f"{path}:{bad[0]}: each line needs text and label 0 or 1")
            name = path.stem
        else:
            rows = load_split(options["split"], corpus)
            name = options["split"]
        fitted_on = model.metadata.get("fitted_on", ["train"])
        # The baseline learns from the same examples as the model it is compared with.
        baseline = fit_on_splits(fitted_on, corpus)
        result = evaluate(model, rows, baseline)
        self.stdout.write(f"{name}: {len(rows)} examples")
        if not options["data"] and name == "dev" and "dev" in fitted_on:
            self.stdout.write(
                "note: this model was fitted on train + dev, so these dev figures are not "
                "held out; the sidecar's dev figures come from a model fitted on train alone"
            )
        self.stdout.write(f"char n-gram baseline: TF-IDF of character 1-3-grams + logistic "
                          f"regression, fitted on {' + '.join(fitted_on)}, flagging at 0.5")
        self.stdout.write(format_report(result))
        plot = Path(options["plot"] or f"pr-{name}.png")
        plot_pr_curve(rows, result["model"]["scores"], model.threshold,
                      result["keywords"]["overall"], plot, f"precision-recall: {name}",
                      char_ngrams=result["baseline"]["overall"])
        self.stdout.write(f"precision-recall curve: {plot}")
        if options["json"]:
            dump(result, Path(options["json"]))
