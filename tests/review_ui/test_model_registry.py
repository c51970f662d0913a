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
               decisions_f1: float | None = None, compared: dict | None = None,
               against: str | None = None) -> Path:
    """A copy of the shipped model under its own version, with the given figures; with
    ``compared`` ({data: (current F1, candidate F1)}), a candidate's side-by-side figures
    measured against version ``against`` (default: the shipped model's)."""
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
    if compared is not None:
        shipped = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["version"]
        sidecar["current_model"] = {"version": against or shipped, "threshold": 0.5}
        sidecar["compared"] = {
            data: {"current": {"f1": cur, "precision": cur, "recall": cur, "n": 40},
                   "candidate": {"f1": cand, "precision": cand, "recall": cand, "n": 40}}
            for data, (cur, cand) in compared.items()}
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
        "from": "better", "to": "good", "by": model_registry.os_user()}
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
    with pytest.raises(CommandError, match="on the corpus test split"):
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


def test_a_candidate_is_judged_on_its_figures_beside_the_current_model_on_the_same_data(db,
                                                                                        tmp_path):
    # Its test F1 beats the shipped model's sidecar figure, but on the held-out decisions the
    # shipped model, measured on the same decisions, does better by more than the tolerance.
    model_registry.register_model(model_file(
        tmp_path / "c", "cand", 0.99, compared={"test": (0.90, 0.91),
                                               "held_out_decisions": (0.80, 0.70),
                                               "real_world": (0.5, 0.9)}))
    with pytest.raises(CommandError) as refused:
        call_command("model", "promote", "cand")
    message = str(refused.value)
    assert "worse than the current model by more than 0.01 on the held-out decisions" in message
    assert "the held-out decisions: F1 0.7000 against 0.8000" in message
    assert "the corpus test split: F1 0.9100 against 0.9000" in message  # not 0.99 vs sidecar
    assert "real-world posts: F1 0.9000 against 0.5000 for the current model (shown" in message
    assert model_registry.current() is None
    assert not AuditEvent.objects.filter(action="model.promoted").exists()
    call_command("model", "promote", "cand", "--force")
    event = AuditEvent.objects.get(action="model.promoted")
    assert event.detail["forced"] is True and event.detail["worse"] == ["held_out_decisions"]
    assert event.detail["compared"]["held_out_decisions"] == {"current": 0.8, "candidate": 0.7}
    assert event.detail["by"] == model_registry.os_user()


def test_a_candidate_worse_on_the_test_split_beside_the_current_model_is_refused(db, tmp_path):
    model_registry.register_model(model_file(
        tmp_path / "c", "cand", 0.99, compared={"test": (0.95, 0.93),
                                               "held_out_decisions": (0.80, 0.95)}))
    with pytest.raises(CommandError, match="by more than 0.01 on the corpus test split"):
        call_command("model", "promote", "cand")
    assert model_registry.current() is None


def test_a_candidate_trained_against_another_model_falls_back_to_the_sidecars(good, tmp_path,
                                                                              capsys):
    call_command("model", "promote", "good")
    # Trained against the shipped model, which is no longer current: its side-by-side figures
    # say nothing about "good"; the test figures both sidecars carry are compared instead.
    model_registry.register_model(model_file(
        tmp_path / "c", "late", 0.975, compared={"test": (0.5, 0.975),
                                                "held_out_decisions": (0.1, 0.9)}))
    call_command("model", "promote", "late")
    out = capsys.readouterr().out
    assert "not the current model good" in out
    assert "the corpus test split: F1 0.9750 against 0.9700" in out
    assert model_registry.current().version == "late"


def test_registering_records_the_candidates_own_figures_and_who_trained_it(db, tmp_path):
    path = model_file(tmp_path, "cand", 0.95, compared={"test": (0.9, 0.95),
                                                       "held_out_decisions": (0.8, 0.85)})
    call_command("model", "register", str(path))
    version = ModelVersion.objects.get(version="cand")
    assert version.trained_by is None and version.trained_by_name == model_registry.os_user()
    assert version.metrics["held_out_decisions"]["f1"] == 0.85  # shown on the versions page
    assert version.compared["figures"]["held_out_decisions"]["current"]["f1"] == 0.8
    assert version.compared["against"] == json.loads(
        DEFAULT_MODEL_PATH.with_suffix(".json").read_text())["version"]


def test_a_registered_file_that_fails_the_trusted_types_check_is_not_promoted(good, tmp_path,
                                                                              monkeypatch):
    from classifier import model as classifier_model

    call_command("model", "promote", "good")
    model_registry.register_model(model_file(tmp_path / "b", "better", 0.99, 0.99))
    # This release no longer trusts one of the types the file holds (the file is unchanged).
    dropped = [t for t in classifier_model.TRUSTED_TYPES if "jieba_tokens" in t]
    assert dropped
    monkeypatch.setattr(classifier_model, "TRUSTED_TYPES",
                        [t for t in classifier_model.TRUSTED_TYPES if t not in dropped])
    with pytest.raises(CommandError, match="does not load.*untrusted type.*jieba_tokens"):
        call_command("model", "promote", "better")
    assert model_registry.current().version == "good"
    assert AuditEvent.objects.filter(action="model.promoted").count() == 1


def test_a_version_whose_file_is_gone_is_not_promoted_and_the_current_one_stays(good, tmp_path):
    call_command("model", "promote", "good")
    gone = model_registry.register_model(model_file(tmp_path / "g", "gone", 0.99, 0.99))
    Path(gone.path).unlink()
    with pytest.raises(CommandError, match="its file .* is gone"):
        call_command("model", "promote", "gone")
    assert model_registry.current().version == "good"
    assert model_registry.current_model_path() == good.path
