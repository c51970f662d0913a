"""``tutorwatch evaluate [--split test|dev] [--data FILE] [--model PATH] [--plot FILE]``:
precision / recall / F1 overall, per category and per source_type, the confusion of categories,
a precision-recall curve as PNG, and the same figures for a plain keyword list on the same data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Measure the classifier (and the keyword baseline) on a labeled split or file."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--split", choices=["test", "dev"], default="test")
        parser.add_argument("--data", help="a labeled JSONL file instead of a split "
                                           "({id, text, label[, category, source_type, hard]})")
        parser.add_argument("--model", default=None, help="model file (default: the shipped model)")
        parser.add_argument("--plot", default=None,
                            help="where to write the precision-recall curve "
                                 "(default pr-<name>.png)")
        parser.add_argument("--json", default=None, help="also write the figures as JSON here")

    def handle(self, *args: Any, **options: Any) -> None:
        from classifier import ModelLoadError, load_model
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
                   if r.get("label") not in (0, 1) or "text" not in r]
            if bad:
                raise CommandError(f"{path}:{bad[0]}: each line needs text and label 0 or 1")
            name = path.stem
        else:
            rows = load_split(options["split"])
            name = options["split"]
        result = evaluate(model, rows)
        self.stdout.write(f"{name}: {len(rows)} examples")
        fitted_on_dev = "dev" in model.metadata.get("fitted_on", ["train"])
        if not options["data"] and name == "dev" and fitted_on_dev:
            self.stdout.write(
                "note: this model was fitted on train + dev, so these dev figures are not "
                "held out; the sidecar's dev figures come from a model fitted on train alone"
            )
        self.stdout.write(format_report(result))
        plot = Path(options["plot"] or f"pr-{name}.png")
        plot_pr_curve(rows, result["model"]["scores"], model.threshold,
                      result["keywords"]["overall"], plot, f"precision-recall: {name}")
        self.stdout.write(f"precision-recall curve: {plot}")
        if options["json"]:
            dump(result, Path(options["json"]))
