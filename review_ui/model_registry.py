"""Model versions in the store: register a trained model file, promote one, roll back.

A version is a model file that loads with skops' trusted types (:func:`classifier.load_model`)
and its JSON sidecar (version, threshold, data counts, metrics), recorded with the file's
SHA-256 and who trained it. Every model ``tutorwatch train`` writes is registered when there is
a store; the promoted version is what crawls, ``tutorwatch classify``, re-checks and
``tutorwatch rescore`` use (:func:`current_model_path`); with none promoted, the shipped model.

Promotion compares the candidate's F1 with the current model's on the corpus test split and the
held-out decisions. A candidate trained with decisions carries both models' figures on the same
data (its sidecar's ``compared``, recorded at registration): those are used when the model it
was trained against is still the current one. Otherwise (a plain corpus model, or another
version promoted since) the figures both sidecars carry are compared, except ``dev`` (the split
the threshold is chosen on) and ``held_out_decisions`` (each training holds out other
decisions), and what could not be compared is named. A candidate worse on one figure by more
than ``TUTORWATCH_PROMOTE_TOLERANCE`` (default 0.01), or with no figure to compare, is refused
unless forced. Every change is one transaction with its audit row: a refused or failed
promotion changes nothing. Messages are in the active language (English on the command line,
the page's language on the versions page).
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
from django.utils.translation import gettext as _

from review_ui.models import AuditEvent, ModelVersion

DEFAULT_TOLERANCE = 0.01
UNCOMPARED_SPLITS = frozenset({"dev", "held_out_decisions"})  # not the same data from one
# training to the next (dev chose the threshold; each training holds out its own decisions)
PROMOTION_FIGURES = ("test", "held_out_decisions")  # refused when worse on one of these


class RegistryError(Exception):
    """A registration, promotion or rollback that was refused; nothing was changed."""


def split_name(split: str) -> str:
    """A figure's name in the active language."""
    names = {"test": _("the corpus test split"), "held_out_decisions": _("the held-out decisions"),
             "real_world": _("real-world posts")}
    return names.get(split, split)


@dataclass
class Comparison:
    """The candidate's F1 against the current model's, figure by figure."""

    compared: dict[str, tuple[float, float]] = field(default_factory=dict)  # split: (cur, cand)
    missing: list[str] = field(default_factory=list)  # notes on figures that were not compared
    worse: list[str] = field(default_factory=list)  # splits worse by more than the tolerance
    informative: dict[str, tuple[float, float]] = field(default_factory=dict)  # shown, not judged
    against: str = ""  # the current model's version

    @property
    def acceptable(self) -> bool:
        return bool(self.compared) and not self.worse

    def gains(self) -> dict[str, float]:
        """How much higher the candidate's F1 is, on the figures where it is higher."""
        return {split: cand - cur for split, (cur, cand) in self.compared.items() if cand > cur}

    @property
    def beats(self) -> bool:
        """Acceptable for promotion and better on at least one figure."""
        return self.acceptable and bool(self.gains())

    def describe(self) -> list[str]:
        lines = [_("%(split)s: F1 %(candidate).4f against %(current).4f for the current model")
                 % {"split": split_name(split), "candidate": cand, "current": cur}
                 for split, (cur, cand) in self.compared.items()]
        lines += [_("%(split)s: F1 %(candidate).4f against %(current).4f for the current model "
                    "(shown, not a condition of promotion)")
                  % {"split": split_name(split), "candidate": cand, "current": cur}
                  for split, (cur, cand) in self.informative.items()]
        lines += self.missing
        if not self.compared:
            lines.append(_("no figure in common with the current model to compare"))
        return lines


def os_user() -> str:
    """The operating-system user running this command: who acted, when no site user did."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        import os

        return f"uid {os.getuid()}"


def store_absent() -> str | None:
    """Why there is no store to register a trained model in, or None when there is one.

    There is none when the database is a SQLite file that does not exist yet: a development
    checkout that never ran ``tutorwatch migrate``. Any other database is a configured store,
    which must then be reachable and migrated (:meth:`review_ui.store.Store.check`)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.creation.is_in_memory_db(name) or Path(name).exists():
        return None
    return f"no store: the SQLite database {name} does not exist (`tutorwatch migrate` makes it)"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tolerance() -> float:
    value = float(getattr(settings, "TUTORWATCH_PROMOTE_TOLERANCE", DEFAULT_TOLERANCE))
    if not 0 <= value <= 1:
        raise RegistryError(_("TUTORWATCH_PROMOTE_TOLERANCE must be between 0 and 1; got "
                              "%(value)s") % {"value": value})
    return value


def _trained_at(metadata: dict[str, Any]) -> datetime | None:
    raw = metadata.get("trained_at")
    return parse_datetime(raw) if isinstance(raw, str) else None


def _compared_at_training(metadata: dict[str, Any]) -> dict[str, Any]:
    """A candidate sidecar's side-by-side figures, with the version they were measured against."""
    figures = metadata.get("compared")
    against = (metadata.get("current_model") or {}).get("version")
    if not isinstance(figures, dict) or not isinstance(against, str):
        return {}
    return {"against": against, "figures": figures}


def _metrics(metadata: dict[str, Any]) -> dict[str, Any]:
    """The sidecar's metrics, plus a candidate's own figures on the data it was compared on
    (held-out decisions, real-world posts), so that the versions page shows them."""
    metrics = dict(metadata.get("metrics") or {})
    for split, pair in (metadata.get("compared") or {}).items():
        if isinstance(pair, dict) and isinstance(pair.get("candidate"), dict):
            metrics.setdefault(split, pair["candidate"])
    return metrics


def register_model(path: str | Path, trained_by: Any = None, trained_by_name: str = "",
                   default_name: str = "") -> ModelVersion:
    """Record the model file ``path`` as a version, after checking that it loads with skops'
    trusted types. ``trained_by`` is a user, ``trained_by_name`` who trained it as the training
    names them (the OS user, "scheduler"); without either, the sidecar's ``trained_by``, else
    ``default_name``. Registering the same file again returns its version unchanged; another
    file with a registered version string is refused."""
    from classifier import ModelLoadError, load_model

    path = Path(path).resolve()
    try:
        model = load_model(path)
    except ModelLoadError as exc:
        raise RegistryError(_("the model file does not load: %(reason)s") % {"reason": exc}
                            ) from None
    sha256 = file_sha256(path)
    metadata = model.metadata or {}
    user = trained_by if getattr(trained_by, "pk", None) else None
    name = (trained_by_name or (user.get_username() if user else "")
            or str(metadata.get("trained_by") or "") or default_name)[:150]
    with transaction.atomic():
        known = ModelVersion.objects.select_for_update().filter(version=model.version).first()
        if known is not None:
            if known.sha256 != sha256:
                raise RegistryError(
                    _("version %(version)s is already registered for another file (%(path)s); "
                      "a retrained model needs a version of its own")
                    % {"version": model.version, "path": known.path})
            return known
        version = ModelVersion.objects.create(
            version=model.version, path=str(path), sha256=sha256, trained_by=user,
            trained_by_name=name, trained_at=_trained_at(metadata),
            examples=metadata.get("examples") or {}, metrics=_metrics(metadata),
            compared=_compared_at_training(metadata), threshold=model.threshold,
        )
        AuditEvent.record(user, "model.registered", detail={
            "version": version.version, "path": version.path, "sha256": sha256,
            "trained_by": name,
        })
    return version


def current() -> ModelVersion | None:
    """The promoted version, or None when the shipped model is current."""
    return ModelVersion.objects.filter(is_current=True).first()


def current_model_path() -> str | None:
    """The promoted version's file, or None for the shipped model. A promoted file that is gone
    or changed since it was registered raises :class:`classifier.ModelLoadError`: what uses
    the model stops rather than score with another one."""
    from django.utils import translation

    from classifier import ModelLoadError

    version = current()
    if version is None:
        return None
    try:
        with translation.override(None):  # for logs and the command line: English
            _verified(version)
    except RegistryError as exc:
        raise ModelLoadError(f"the promoted model: {exc}") from None
    return version.path


def _shipped_sidecar() -> dict[str, Any]:
    """The shipped model's sidecar (it is the current model when none is promoted)."""
    import json

    from classifier.model import DEFAULT_MODEL_PATH

    try:
        sidecar = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}
    return sidecar if isinstance(sidecar, dict) else {}


def _f1(figures: Any) -> float | None:
    if isinstance(figures, dict) and figures.get("n", 1) and isinstance(
            figures.get("f1"), int | float) and not isinstance(figures.get("f1"), bool):
        return float(figures["f1"])
    return None


def _f1s(metrics: dict[str, Any]) -> dict[str, float]:
    return {split: f1 for split, figures in metrics.items()
            if split not in UNCOMPARED_SPLITS and (f1 := _f1(figures)) is not None}


def compare(candidate: dict[str, Any], current_metrics: dict[str, Any],
            allowed: float) -> Comparison:
    """Compare two sidecars' metrics on the splits both give (see the module's docstring)."""
    new, old = _f1s(candidate), _f1s(current_metrics)
    result = Comparison()
    for split in sorted(new.keys() | old.keys()):
        if split not in new:
            result.missing.append(
                _("%(split)s: the candidate has no F1 (the current model's is %(f1).4f); not "
                  "compared") % {"split": split_name(split), "f1": old[split]})
        elif split not in old:
            result.missing.append(
                _("%(split)s: the current model has no F1 (the candidate's is %(f1).4f); not "
                  "compared") % {"split": split_name(split), "f1": new[split]})
        else:
            result.compared[split] = (old[split], new[split])
            if new[split] < old[split] - allowed:
                result.worse.append(split)
    return result


def compare_at_training(figures: dict[str, Any], allowed: float) -> Comparison:
    """Compare on the candidate's side-by-side figures (its sidecar's ``compared``): the test
    split and the held-out decisions decide; other data (real-world posts) is shown."""
    result = Comparison()
    for split, pair in figures.items():
        if not isinstance(pair, dict):
            continue
        cand, cur = _f1(pair.get("candidate")), _f1(pair.get("current"))
        if split not in PROMOTION_FIGURES:
            if cand is not None and cur is not None:
                result.informative[split] = (cur, cand)
            continue
        if cand is None or cur is None:
            result.missing.append(_("%(split)s: no F1 measured at training; not compared")
                                  % {"split": split_name(split)})
            continue
        result.compared[split] = (cur, cand)
        if cand < cur - allowed:
            result.worse.append(split)
    for split in PROMOTION_FIGURES:
        if split not in figures:
            result.missing.append(_("%(split)s: not measured at training; not compared")
                                  % {"split": split_name(split)})
    return result


def compare_with_current(chosen: ModelVersion, before: ModelVersion | None,
                         allowed: float) -> Comparison:
    """How ``chosen`` compares with the current model ``before`` (None: the shipped model)."""
    shipped = _shipped_sidecar() if before is None else {}
    against = before.version if before is not None else str(shipped.get("version") or "")
    at_training = chosen.compared or {}
    if at_training.get("against") == against and isinstance(at_training.get("figures"), dict):
        result = compare_at_training(at_training["figures"], allowed)
    else:
        result = compare(chosen.metrics,
                         before.metrics if before is not None else shipped.get("metrics") or {},
                         allowed)
        if at_training.get("against"):
            result.missing.insert(0, _(
                "trained against %(trained)s, not the current model %(current)s: the figures "
                "measured then are not compared, only those both sidecars carry")
                % {"trained": at_training["against"], "current": against or "?"})
    result.against = against
    return result


def _verified(version: ModelVersion) -> None:
    path = Path(version.path)
    if not path.is_file():
        raise RegistryError(_("version %(version)s: its file %(path)s is gone")
                            % {"version": version.version, "path": path})
    if file_sha256(path) != version.sha256:
        raise RegistryError(
            _("version %(version)s: %(path)s no longer matches the file that was registered "
              "(its SHA-256 changed); register the new file as a version of its own")
            % {"version": version.version, "path": path})


def _get(version: str) -> ModelVersion:
    found = ModelVersion.objects.select_for_update().filter(version=version).first()
    if found is None:
        raise RegistryError(_("no model version %(version)r; `tutorwatch model list` shows them")
                            % {"version": version})
    return found


def _make_current(chosen: ModelVersion, now: datetime) -> ModelVersion | None:
    before = ModelVersion.objects.select_for_update().filter(is_current=True).first()
    if before is not None:
        before.is_current = False
        before.save(update_fields=["is_current"])
    chosen.is_current = True
    chosen.promoted_at = now
    return before


def refusal(version: str, comparison: Comparison, allowed: float) -> str:
    """Why ``version`` is not promoted without force, in the active language."""
    if comparison.worse:
        why = _("version %(version)s is worse than the current model by more than %(tolerance)s "
                "on %(splits)s") % {"version": version, "tolerance": allowed,
                                   "splits": ", ".join(split_name(s) for s in comparison.worse)}
    else:
        why = _("version %(version)s is not comparable with the current model") % {
            "version": version}
    return (f"{why}: " + "; ".join(comparison.describe())
            + _(" (use --force to promote it anyway)"))


def promote(version: str, actor: Any = None, *, force: bool = False, by: str = "",
            ) -> Comparison:
    """Make ``version`` current: refused (:class:`RegistryError`, nothing changed) for an
    unknown version, a file that changed since it was registered or no longer loads, or a
    candidate worse than the current model (unless ``force``). ``by`` names who promoted it
    when no user did (the OS user of a command line, "scheduler")."""
    from classifier import ModelLoadError, load_model

    allowed = tolerance()
    with transaction.atomic():
        chosen = _get(version)
        if chosen.is_current:
            raise RegistryError(_("version %(version)s is already the current model")
                                % {"version": version})
        _verified(chosen)
        try:
            load_model(chosen.path)
        except ModelLoadError as exc:
            raise RegistryError(_("the model file does not load: %(reason)s") % {"reason": exc}
                                ) from None
        comparison = compare_with_current(chosen, current(), allowed)
        if not comparison.acceptable and not force:
            raise RegistryError(refusal(version, comparison, allowed))
        before = _make_current(chosen, timezone.now())
        chosen.previous = before
        chosen.save(update_fields=["is_current", "promoted_at", "previous"])
        AuditEvent.record(actor, "model.promoted", detail={
            "version": chosen.version, "previous": before.version if before else None,
            "against": comparison.against,
            "forced": bool(force and not comparison.acceptable),
            "compared": {split: {"current": cur, "candidate": cand}
                         for split, (cur, cand) in comparison.compared.items()},
            "worse": comparison.worse, "tolerance": allowed,
            **({"by": by} if by else {}),
        })
    return comparison


def rollback(actor: Any = None, by: str = "") -> ModelVersion | None:
    """Return to the version that was current before the current one was promoted (None: the
    shipped model). Refused when no version is promoted, or the previous file changed."""
    with transaction.atomic():
        now_current = ModelVersion.objects.select_for_update().filter(is_current=True).first()
        if now_current is None:
            raise RegistryError(_("no promoted model to roll back from: the shipped model is "
                                  "current"))
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
            **({"by": by} if by else {}),
        })
    return back_to
