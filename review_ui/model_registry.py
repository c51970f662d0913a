"""Model versions in the store: register a trained model file, promote one, roll back.

A version is a model file that loads with skops' trusted types (:func:`classifier.load_model`)
and its JSON sidecar (version, threshold, data counts, metrics), recorded with the file's
SHA-256. The promoted version is what crawls, ``tutorwatch classify``, re-checks and
``tutorwatch rescore`` use (:func:`current_model_path`); with none promoted, the shipped model.

Promotion compares the candidate's F1 with the current model's on every figure both sidecars
give except ``dev`` (the split the threshold is chosen on): the corpus test split and the
held-out decisions when the training recorded them. A candidate worse on one of them by more
than ``TUTORWATCH_PROMOTE_TOLERANCE`` (default 0.01) is refused unless forced; a figure only one
of the two has is named, and a candidate with no figure in common is refused unless forced.
Every change is one transaction with its audit row: a refused or failed promotion changes
nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from review_ui.models import AuditEvent, ModelVersion

DEFAULT_TOLERANCE = 0.01
UNCOMPARED_SPLITS = frozenset({"dev"})  # the threshold is chosen on dev: not a fair comparison


class RegistryError(Exception):
    """A registration, promotion or rollback that was refused; nothing was changed."""


@dataclass
class Comparison:
    """The candidate's F1 against the current model's, figure by figure."""

    compared: dict[str, tuple[float, float]] = field(default_factory=dict)  # split: (cur, cand)
    missing: list[str] = field(default_factory=list)  # notes on figures only one side has
    worse: list[str] = field(default_factory=list)  # splits worse by more than the tolerance

    @property
    def acceptable(self) -> bool:
        return bool(self.compared) and not self.worse

    def describe(self) -> list[str]:
        lines = [f"{split}: F1 {cand:.4f} against {cur:.4f} for the current model"
                 for split, (cur, cand) in self.compared.items()]
        lines += self.missing
        if not self.compared:
            lines.append("no figure in common with the current model to compare")
        return lines


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tolerance() -> float:
    value = float(getattr(settings, "TUTORWATCH_PROMOTE_TOLERANCE", DEFAULT_TOLERANCE))
    if not 0 <= value <= 1:
        raise RegistryError(f"TUTORWATCH_PROMOTE_TOLERANCE must be between 0 and 1; got {value}")
    return value


def _trained_at(metadata: dict[str, Any]) -> datetime | None:
    raw = metadata.get("trained_at")
    return parse_datetime(raw) if isinstance(raw, str) else None


def register_model(path: str | Path, trained_by: Any = None) -> ModelVersion:
    """Record the model file ``path`` as a version, after checking that it loads with skops'
    trusted types. Registering the same file again returns its version unchanged; another file
    with a registered version string is refused."""
    from classifier import ModelLoadError, load_model

    path = Path(path).resolve()
    try:
        model = load_model(path)
    except ModelLoadError as exc:
        raise RegistryError(str(exc)) from None
    sha256 = file_sha256(path)
    metadata = model.metadata
    with transaction.atomic():
        known = ModelVersion.objects.select_for_update().filter(version=model.version).first()
        if known is not None:
            if known.sha256 != sha256:
                raise RegistryError(
                    f"version {model.version} is already registered for another file "
                    f"({known.path}); a retrained model needs a version of its own"
                )
            return known
        version = ModelVersion.objects.create(
            version=model.version, path=str(path), sha256=sha256,
            trained_by=trained_by if getattr(trained_by, "pk", None) else None,
            trained_at=_trained_at(metadata), examples=metadata.get("examples") or {},
            metrics=metadata.get("metrics") or {}, threshold=model.threshold,
        )
        AuditEvent.record(trained_by, "model.registered", detail={
            "version": version.version, "path": version.path, "sha256": sha256,
        })
    return version


def current() -> ModelVersion | None:
    """The promoted version, or None when the shipped model is current."""
    return ModelVersion.objects.filter(is_current=True).first()


def current_model_path() -> str | None:
    """The promoted version's file, or None for the shipped model. A promoted file that is gone
    or changed since it was registered raises :class:`classifier.ModelLoadError`: what uses
    the model stops rather than score with another one."""
    from classifier import ModelLoadError

    version = current()
    if version is None:
        return None
    try:
        _verified(version)
    except RegistryError as exc:
        raise ModelLoadError(f"the promoted model: {exc}") from None
    return version.path


def _shipped_metrics() -> dict[str, Any]:
    """The shipped model's metrics, from its sidecar (it is the current model when none is
    promoted)."""
    import json

    from classifier.model import DEFAULT_MODEL_PATH

    try:
        return json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text()).get("metrics") or {}
    except (OSError, ValueError):
        return {}


def _f1s(metrics: dict[str, Any]) -> dict[str, float]:
    return {split: float(figures["f1"]) for split, figures in metrics.items()
            if split not in UNCOMPARED_SPLITS and isinstance(figures, dict)
            and isinstance(figures.get("f1"), int | float)}


def compare(candidate: dict[str, Any], current_metrics: dict[str, Any],
            allowed: float) -> Comparison:
    """Compare two sidecars' metrics on the splits both give (see the module's docstring)."""
    new, old = _f1s(candidate), _f1s(current_metrics)
    result = Comparison()
    for split in sorted(new.keys() | old.keys()):
        if split not in new:
            result.missing.append(f"{split}: the candidate has no F1 (the current model's is "
                                  f"{old[split]:.4f}); not compared")
        elif split not in old:
            result.missing.append(f"{split}: the current model has no F1 (the candidate's is "
                                  f"{new[split]:.4f}); not compared")
        else:
            result.compared[split] = (old[split], new[split])
            if new[split] < old[split] - allowed:
                result.worse.append(split)
    return result


def _verified(version: ModelVersion) -> None:
    path = Path(version.path)
    if not path.is_file():
        raise RegistryError(f"version {version.version}: its file {path} is gone")
    if file_sha256(path) != version.sha256:
        raise RegistryError(
            f"version {version.version}: {path} no longer matches the file that was registered "
            "(its SHA-256 changed); register the new file as a version of its own"
        )


def _get(version: str) -> ModelVersion:
    found = ModelVersion.objects.select_for_update().filter(version=version).first()
    if found is None:
        raise RegistryError(f"no model version {version!r}; `tutorwatch model list` shows them")
    return found


def _make_current(chosen: ModelVersion, now: datetime) -> ModelVersion | None:
    before = ModelVersion.objects.select_for_update().filter(is_current=True).first()
    if before is not None:
        before.is_current = False
        before.save(update_fields=["is_current"])
    chosen.is_current = True
    chosen.promoted_at = now
    return before


def promote(version: str, actor: Any = None, *, force: bool = False) -> Comparison:
    """Make ``version`` current: refused (:class:`RegistryError`, nothing changed) for an
    unknown version, a file that changed since it was registered or no longer loads, or a
    candidate worse than the current model (unless ``force``)."""
    from classifier import ModelLoadError, load_model

    allowed = tolerance()
    with transaction.atomic():
        chosen = _get(version)
        if chosen.is_current:
            raise RegistryError(f"version {version} is already the current model")
        _verified(chosen)
        try:
            load_model(chosen.path)
        except ModelLoadError as exc:
            raise RegistryError(str(exc)) from None
        before = current()
        comparison = compare(chosen.metrics,
                             before.metrics if before is not None else _shipped_metrics(),
                             allowed)
        if not comparison.acceptable and not force:
            worse = (f"worse than the current model by more than {allowed} on "
                     f"{', '.join(comparison.worse)}" if comparison.worse
                     else "not comparable with the current model")
            raise RegistryError(f"version {version} is {worse}: "
                                + "; ".join(comparison.describe())
                                + " (use --force to promote it anyway)")
        before = _make_current(chosen, timezone.now())
        chosen.previous = before
        chosen.save(update_fields=["is_current", "promoted_at", "previous"])
        AuditEvent.record(actor, "model.promoted", detail={
            "version": chosen.version, "previous": before.version if before else None,
            "forced": bool(force and not comparison.acceptable),
            "compared": {split: {"current": cur, "candidate": cand}
                         for split, (cur, cand) in comparison.compared.items()},
            "worse": comparison.worse, "tolerance": allowed,
        })
    return comparison


def rollback(actor: Any = None) -> ModelVersion | None:
    """Return to the version that was current before the current one was promoted (None: the
    shipped model). Refused when no version is promoted, or the previous file changed."""
    with transaction.atomic():
        now_current = ModelVersion.objects.select_for_update().filter(is_current=True).first()
        if now_current is None:
            raise RegistryError("no promoted model to roll back from: the shipped model is current")
        back_to = now_current.previous
        if back_to is not None:
            _verified(back_to)
            _make_current(back_to, timezone.now())
            back_to.save(update_fields=["is_current", "promoted_at"])
        else:
            now_current.is_current = False
            now_current.save(update_fields=["is_current"])
        AuditEvent.record(actor, "model.rolled_back", detail={
            "from": now_current.version, "to": back_to.version if back_to else None,
        })
    return back_to
