"""``tutorwatch train [--data DIR] [--out MODEL.skops] [--loro]``: train the classifier on the
labeled corpus, choose its threshold on out-of-fold scores (the rule checked on dev first), fit
on train + dev, and write the model, its trusted-types list and a sidecar with library versions,
data hash and metrics (the model's, the char-n-gram baseline's and the keyword list's on dev and
test; with ``--loro``, leave-one-register-out figures too).

``tutorwatch train --with-decisions [--decisions FILE.jsonl] [--out FILE] [--weight W]``: fit a
candidate on the corpus (train + dev) plus officers' decisions (the store's, or an exported or
pooled file), holding out the most recent 20% of decisions by time, and write it (default
``<data dir>/models/candidate-<stamp>.skops``, never the current model unless ``--out`` names
it) with a sidecar comparing it with the current model (``TUTORWATCH_MODEL``, else the promoted
version, else the shipped model; ``classifier.learn``).

Every model trained is registered as a model version (``review_ui.model_registry``), trained by
``--trained-by USER`` or else the OS user, whenever there is a store; a configured store that
cannot be reached or is not migrated stops the command before it trains. Without a store (a
development checkout whose SQLite file does not exist yet) the model is written and the command
says it was not registered. One training runs at a time: a second one is refused while the lock
in the data directory is held (``review_ui.scheduling.training_lock``).

``--scheduled`` is the scheduler's training (``tutorwatch schedule``,
``TUTORWATCH_TRAIN_SCHEDULE``): with the store's decisions, trained by "scheduler", at a lower
CPU priority; skipped when another training holds the lock, or when the decisions, the corpus
and the current model are those of the scheduler's last candidate. The candidate is reported by
``review_ui.scheduling.report_candidate`` (an alert when it beats the current model, promotion
only with ``TUTORWATCH_AUTO_PROMOTE``); a failure is alerted and exits 1."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, no_translations
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
                                 "weighs (default: chosen by classifier.learn.decision_weight — "
                                 "together a quarter of the corpus while decisions are few, "
                                 "3 each from about 300 on)")
        parser.add_argument("--current", default=None,
                            help="with --with-decisions: the model to compare with (default: "
                                 "the shipped model)")
        parser.add_argument("--real-world", default=None,
                            help="with --with-decisions: labeled JSONL of real posts to compare "
                                 "on (default: ../shared/real-world/texts.jsonl when present)")
        parser.add_argument("--trained-by", default=None, metavar="USER",
                            help="the user who trains it, as the model version records it "
                                 "(default: the OS user running this command)")
        parser.add_argument("--scheduled", action="store_true",
                            help="the scheduler's training (implies --with-decisions): "
                                 "registered as trained by the scheduler, alerts when the "
                                 "candidate beats the current model or the training fails")

    @no_translations  # the command line speaks English; the pages and alerts Chinese
    def handle(self, *args: Any, **options: Any) -> None:
        if options["scheduled"]:
            options["with_decisions"] = True
            try:
                self._run(options)
            except Exception as exc:
                self._alert_failure(exc)
                raise CommandError(f"scheduled training failed: {exc}") from None
            return
        self._run(options)

    def _run(self, options: dict[str, Any]) -> None:
        from django.conf import settings

        from review_ui import model_registry
        from review_ui.scheduling import TrainingBusy, training_lock

        if not options["with_decisions"] and (options["decisions"]
                                              or options["weight"] is not None):
            raise CommandError("--decisions and --weight go with --with-decisions")
        absent = model_registry.store_absent()
        if absent is None:
            self._check_store()
        user, name = self._trainer(options, absent)
        try:
            with training_lock(Path(settings.DATA_DIR) / "train.lock"):
                if options["scheduled"]:
                    _lower_priority()
                trained = (self._with_decisions(options, name, absent) if options["with_decisions"]
                           else self._corpus(options, name))
                if trained is None:
                    return
                out, created = trained
                if absent is not None:
                    self.stdout.write(f"not registered as a model version: {absent}")
                    return
                version = self._register(out, created, user, name)
        except TrainingBusy as exc:
            if options["scheduled"]:
                self.stdout.write(f"scheduled training skipped: {exc}")
                return
            raise CommandError(str(exc)) from None
        if options["scheduled"]:
            from review_ui.scheduling import report_candidate

            comparison, done = report_candidate(version, settings.TUTORWATCH_AUTO_PROMOTE)
            for line in comparison.describe():
                self.stdout.write(f"  {line}")
            self.stdout.write(done)

    def _check_store(self) -> None:
        from review_ui.store import Store, StoreNotReady

        try:
            Store().check()
        except StoreNotReady as exc:
            raise CommandError(f"{exc} (a trained model is registered in the store)") from None

    def _trainer(self, options: dict[str, Any], absent: str | None) -> tuple[Any, str]:
        """(the user, the name) a version records as who trained it."""
        from django.contrib.auth import get_user_model

        from review_ui.model_registry import os_user

        if options["scheduled"]:
            return None, "scheduler"
        wanted = options["trained_by"]
        if not wanted:
            return None, os_user()
        if absent is not None:
            return None, wanted
        user = get_user_model().objects.filter(username=wanted).first()
        if user is None:
            raise CommandError(f"--trained-by: no user {wanted!r}")
        return user, user.get_username()

    def _register(self, out: Path, created: bool, user: Any, name: str) -> Any:
        """Register the model just written; if that fails, a new file is removed again (no model
        without its version) and the command fails."""
        from review_ui import model_registry

        try:
            version = model_registry.register_model(out, trained_by=user, trained_by_name=name)
        except Exception as exc:
            if created:
                for path in (out, out.with_suffix(".json"), out.with_suffix(".trusted.json")):
                    path.unlink(missing_ok=True)
            raise CommandError(f"{out} was trained but not registered: {exc}"
                               + (" (the file was removed)" if created else "")) from None
        self.stdout.write(f"registered model version {version.version} (trained by {name}); "
                          f"`tutorwatch model promote {version.version}` makes it current")
        return version

    def _alert_failure(self, exc: Exception) -> None:
        from review_ui.alerts import compose_training_failed, send_training_alert

        try:
            send_training_alert(*compose_training_failed(str(exc)))
        except Exception as alert_error:  # the failure itself is what the exit status reports
            self.stderr.write(f"could not send the failure alert: {alert_error}")

    def _corpus(self, options: dict[str, Any], name: str) -> tuple[Path, bool]:
        options["out"] = options["out"] or str(DEFAULT_MODEL_PATH)
        from classifier.train import train

        out = Path(options["out"])
        created = not out.exists()
        with tqdm(total=STEPS + options["loro"], unit="step", file=self.stderr._out) as bar:
            def progress(message: str) -> None:
                if bar.desc:  # the step named before this one is done
                    bar.update(1)
                bar.set_description(message)

            model = train(Path(options["data"]), out, progress=progress,
                          loro=options["loro"], trained_by=name)
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
        return out, created

    def _with_decisions(self, options: dict[str, Any], name: str, absent: str | None,
                        ) -> tuple[Path, bool] | None:
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

        current_path = Path(self._current_path(options, absent) or DEFAULT_MODEL_PATH)
        try:
            current = load_model(current_path)
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
        if options["scheduled"]:
            unchanged = _unchanged_since(decisions, Path(options["data"]), current.version)
            if unchanged:
                self.stdout.write(f"scheduled training skipped: {unchanged}")
                return None
        out = Path(options["out"]) if options["out"] else (
            Path(settings.DATA_DIR) / "models"
            / f"candidate-{datetime.now(UTC):%Y%m%dT%H%M%S}.skops")
        created = not out.exists()
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
                    real_world=real_world, source=source, progress=progress,
                    trained_by=name)
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
        self.stdout.write(f"wrote {out}" if Path(out).resolve() == current_path.resolve()
                          else f"wrote candidate {out} (the current model is unchanged)")
        return out, created

    @staticmethod
    def _current_path(options: dict[str, Any], absent: str | None) -> str | None:
        """The model a candidate is compared with: ``--current``, else the one crawls use."""
        from django.conf import settings

        from review_ui.model_registry import current_model_path

        if options["current"]:
            return options["current"]
        if settings.TUTORWATCH_MODEL:
            return settings.TUTORWATCH_MODEL
        return current_model_path() if absent is None else None


def _lower_priority() -> None:
    """Let crawls and the review UI have the CPU first: a scheduled training is not urgent."""
    try:
        os.nice(10)
    except OSError:
        pass


def _unchanged_since(decisions: list[dict[str, Any]], data_dir: Path, current: str) -> str:
    """Why a scheduled training would learn nothing new (the scheduler's last candidate was
    trained on the same decisions and corpus against the same current model), or ""."""
    import json

    from classifier.corpus import data_hash
    from classifier.learn import decisions_digest
    from review_ui.models import ModelVersion

    last = (ModelVersion.objects.filter(trained_by_name="scheduler")
            .order_by("-registered_at", "-pk").first())
    if last is None:
        return ""
    try:
        sidecar = json.loads(Path(last.path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    same = (
        (sidecar.get("decisions") or {}).get("sha256") == decisions_digest(decisions)
        and sidecar.get("data_sha256") == data_hash([data_dir / f"{n}.jsonl"
                                                     for n in sidecar.get("fitted_on", [])])
        and (sidecar.get("current_model") or {}).get("version") == current
    )
    return (f"the decisions, the corpus and the current model are those of candidate "
            f"{last.version}") if same else ""
