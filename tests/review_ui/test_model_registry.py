"""Model versions in the store: register, promote (refused when worse, unless forced),
roll back, and the refusals that change nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import skops.io as sio
from django.core.management import CommandError, call_command

from classifier.model import DEFAULT_MODEL_PATH
from classifier.normalize import normalize
from review_ui import model_registry
from review_ui.models import AuditEvent, ModelVersion


def model_file(folder: Path, version: str, test_f1: float | None = 0.97,
               decisions_f1: float | None = None) -> Path:
    """A copy of the shipped model under its own version, with the given figures."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(version.encode()).hexdigest()[:12]}.skops"
    shutil.copyfile(DEFAULT_MODEL_PATH, path)
    sidecar = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    metrics = {"dev": {"f1": 0.99}}
    if test_f1 is not None:
        metrics["test"] = {"f1": test_f1, "precision": 0.9, "recall": 0.9, "n": 654}
    if decisions_f1 is not None:
        metrics["decisions"] = {"f1": decisions_f1, "n": 40}
    sidecar.update(version=version, metrics=metrics, trained_at="2026-12-06T10:00:00+00:00")
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


@pytest.fixture
def good(db, tmp_path):
    return model_registry.register_model(model_file(tmp_path / "a", "good", 0.97, 0.90))


def test_registering_records_hash_counts_metrics_and_is_audited(db, tmp_path, supervisor):
    path = model_file(tmp_path, "v1", 0.95)
    version = model_registry.register_model(path, trained_by=supervisor)
    assert version.sha256 == model_registry.file_sha256(path)
    assert version.metrics["test"]["f1"] == 0.95
    assert version.examples["train"] > 0
    assert version.trained_by == supervisor and not version.is_current
    event = AuditEvent.objects.get(action="model.registered")
    assert event.actor == supervisor and event.detail["version"] == "v1"
    # The same file again: the same version, no second row.
    assert model_registry.register_model(path).pk == version.pk
    assert AuditEvent.objects.filter(action="model.registered").count() == 1


def test_a_file_with_untrusted_types_is_not_registered(db, tmp_path):
    path = tmp_path / "evil.skops"
    sio.dump({"pipeline": normalize}, path)
    path.with_suffix(".json").write_text(json.dumps({"threshold": 0.5, "version": "evil"}))
    with pytest.raises(CommandError, match="untrusted type.*classifier.normalize.normalize"):
        call_command("model", "register", str(path))
    assert not ModelVersion.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="model.").exists()


def test_promote_rollback_and_the_current_path(good, tmp_path, capsys):
    assert model_registry.current_model_path() is None
    call_command("model", "promote", "good")
    assert model_registry.current_model_path() == good.path
    better = model_registry.register_model(model_file(tmp_path / "b", "better", 0.975, 0.91))
    call_command("model", "promote", "better")
    assert ModelVersion.objects.get(is_current=True) == better
    event = AuditEvent.objects.filter(action="model.promoted").latest("pk")
    assert event.detail["previous"] == "good" and event.detail["forced"] is False
    call_command("model", "rollback")
    assert ModelVersion.objects.get(is_current=True).version == "good"
    assert AuditEvent.objects.get(action="model.rolled_back").detail == {
        "from": "better", "to": "good"}
    call_command("model", "rollback")  # back to the shipped model
    assert model_registry.current_model_path() is None
    with pytest.raises(CommandError, match="no promoted model"):
        call_command("model", "rollback")
    call_command("model", "list")
    assert "* (shipped model)" in capsys.readouterr().out


def test_a_worse_candidate_is_refused_unless_forced(good, tmp_path, settings):
    call_command("model", "promote", "good")
    model_registry.register_model(model_file(tmp_path / "w", "worse", 0.97, 0.85))
    with pytest.raises(CommandError, match="worse than the current model by more than 0.01 on "
                                           "decisions"):
        call_command("model", "promote", "worse")
    assert ModelVersion.objects.get(is_current=True).version == "good"
    assert AuditEvent.objects.filter(action="model.promoted").count() == 1
    # Within a wider tolerance it passes; here it is forced, and the audit row says so.
    call_command("model", "promote", "worse", "--force")
    assert ModelVersion.objects.get(is_current=True).version == "worse"
    event = AuditEvent.objects.filter(action="model.promoted").latest("pk")
    assert event.detail["forced"] is True and event.detail["worse"] == ["decisions"]


def test_the_tolerance_is_a_setting(good, tmp_path, settings):
    call_command("model", "promote", "good")
    model_registry.register_model(model_file(tmp_path / "w", "slightly", 0.95, 0.90))
    with pytest.raises(CommandError, match="on test"):
        call_command("model", "promote", "slightly")
    settings.TUTORWATCH_PROMOTE_TOLERANCE = 0.05
    call_command("model", "promote", "slightly")
    assert model_registry.current().version == "slightly"


def test_a_missing_figure_is_named(good, tmp_path, capsys):
    call_command("model", "promote", "good")
    model_registry.register_model(model_file(tmp_path / "n", "nodecisions", 0.97, None))
    call_command("model", "promote", "nodecisions")
    out = capsys.readouterr().out
    assert "decisions: the candidate has no F1" in out


def test_an_unknown_version_is_an_error_and_changes_nothing(good):
    call_command("model", "promote", "good")
    with pytest.raises(CommandError, match="no model version 'nope'"):
        call_command("model", "promote", "nope")
    assert model_registry.current().version == "good"


def test_a_file_changed_since_registration_is_refused(good, tmp_path):
    tampered = model_registry.register_model(model_file(tmp_path / "t", "tampered", 0.98))
    with Path(tampered.path).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(CommandError, match="no longer matches"):
        call_command("model", "promote", "tampered")
    assert model_registry.current() is None
    assert not AuditEvent.objects.filter(action="model.promoted").exists()


def test_the_command_exits_1_on_a_refusal(db):
    from review_ui.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["tutorwatch", "model", "promote", "nope"])
    assert exit_.value.code == 1
