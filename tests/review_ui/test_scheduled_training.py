"""Training as the store sees it: every trained model registered (or, without a store, said not
to be), one training at a time, and the scheduler's training (``train --scheduled``): registered
as the scheduler's, skipped when nothing changed, alerted when it beats the current model or
fails, promoted only with TUTORWATCH_AUTO_PROMOTE and through the tolerance check."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from classifier import load_model
from crawler.config import BUNDLED_DIR
from review_ui import model_registry
from review_ui.models import AuditEvent, ModelVersion
from review_ui.scheduling import report_candidate, training_lock
from tests.review_ui.test_model_registry import model_file
from tests.review_ui.test_train_with_decisions import (  # noqa: F401 - the fixture
    decide_ads,
    real_world_file,
    small_corpus,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def alerts_to(settings, webhook):
    settings.TUTORWATCH_ALERT_EMAILS = []
    settings.TUTORWATCH_ALERT_WEBHOOK = webhook.url
    settings.TUTORWATCH_ALERT_WEBHOOK_SECRET = ""
    settings.TUTORWATCH_UI_URL = "https://tw.example.gov.cn"
    settings.TUTORWATCH_AUTO_PROMOTE = False
    return webhook


def alerts(webhook) -> list[str]:
    return [posted["json"]["text"]["content"] for posted in webhook.received]


def run(*args: str) -> str:
    out = StringIO()
    call_command("train", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- report_candidate: what the scheduler does with a registered candidate -------------------
def candidate(tmp_path: Path, name: str, **compared: tuple[float, float]) -> ModelVersion:
    return model_registry.register_model(
        model_file(tmp_path / name, name, 0.97, compared=compared), trained_by_name="scheduler")


def test_a_candidate_that_beats_the_current_model_is_alerted_with_its_gains_not_promoted(
    tmp_path, webhook
):
    version = candidate(tmp_path, "better", test=(0.950, 0.962),
                        held_out_decisions=(0.700, 0.800), real_world=(0.90, 0.89))
    comparison, done = report_candidate(version, auto_promote=False)
    assert comparison.beats and model_registry.current() is None
    [text] = alerts(webhook)
    assert text.startswith("tutorwatch：候选模型 better 优于当前模型")
    assert "语料测试集：F1 0.9620，当前模型为 0.9500（+0.0120）" in text
    assert "留出的审核决定：F1 0.8000，当前模型为 0.7000（+0.1000）" in text
    assert "真实帖子：F1 0.8900，当前模型为 0.9000（-0.0100）" in text
    assert "tutorwatch model promote better" in text
    assert "https://tw.example.gov.cn/dashboard/models/" in text
    assert not AuditEvent.objects.filter(action="model.promoted").exists()


def test_with_auto_promote_a_better_candidate_is_promoted_as_the_scheduler(tmp_path, webhook):
    version = candidate(tmp_path, "better", test=(0.95, 0.96), held_out_decisions=(0.7, 0.7))
    report_candidate(version, auto_promote=True)
    assert model_registry.current() == version
    event = AuditEvent.objects.get(action="model.promoted")
    assert event.actor is None and event.detail["by"] == "scheduler"
    assert event.detail["forced"] is False
    [text] = alerts(webhook)
    assert "已自动启用" in text


def test_a_candidate_worse_on_one_figure_is_neither_promoted_nor_alerted(tmp_path, webhook):
    # Better on the test split, worse beyond the tolerance on the held-out decisions.
    version = candidate(tmp_path, "mixed", test=(0.90, 0.99), held_out_decisions=(0.8, 0.7))
    comparison, done = report_candidate(version, auto_promote=True)
    assert not comparison.beats and comparison.worse == ["held_out_decisions"]
    assert model_registry.current() is None and webhook.received == []
    assert not AuditEvent.objects.filter(action="model.promoted").exists()


def test_an_equal_candidate_does_not_beat_the_current_model(tmp_path, webhook):
    version = candidate(tmp_path, "same", test=(0.95, 0.95), held_out_decisions=(0.8, 0.8))
    comparison, _ = report_candidate(version, auto_promote=True)
    assert comparison.acceptable and not comparison.beats
    assert model_registry.current() is None and webhook.received == []


# --- the train command and the store --------------------------------------------------------
def test_an_unknown_trainer_is_refused_before_training(tmp_path, small_corpus):  # noqa: F811
    out = tmp_path / "m.skops"
    with pytest.raises(CommandError, match="--trained-by: no user 'nobody'"):
        run("--data", str(small_corpus), "--out", str(out), "--trained-by", "nobody")
    assert not out.exists()


def test_one_training_at_a_time(tmp_path, settings, small_corpus, webhook):  # noqa: F811
    settings.DATA_DIR = tmp_path / "data"
    out = tmp_path / "m.skops"
    with training_lock(settings.DATA_DIR / "train.lock"):
        with pytest.raises(CommandError, match=r"another training is running \(pid \d+"):
            run("--data", str(small_corpus), "--out", str(out))
        # The scheduler's training is skipped, not failed: no alert.
        report = run("--scheduled", "--data", str(small_corpus), "--out", str(out))
        assert "scheduled training skipped: another training is running" in report
    assert not out.exists() and not ModelVersion.objects.exists()
    assert webhook.received == []


def test_a_scheduled_training_that_fails_is_alerted_and_registers_nothing(
    tmp_path, settings, small_corpus, webhook  # noqa: F811
):
    settings.DATA_DIR = tmp_path / "data"
    with pytest.raises(CommandError, match="scheduled training failed: no decisions to train on"):
        run("--scheduled", "--data", str(small_corpus))
    [text] = alerts(webhook)
    assert text.startswith("tutorwatch：定时训练失败") and "no decisions to train on" in text
    assert not ModelVersion.objects.exists()
    assert not (settings.DATA_DIR / "models").exists()


@pytest.mark.slow
def test_the_scheduled_training_registers_its_candidate_and_skips_when_nothing_changed(
    tmp_path, settings, small_corpus, officer, webhook  # noqa: F811
):
    settings.DATA_DIR = tmp_path / "data"
    decide_ads(officer, 6)
    args = ("--scheduled", "--data", str(small_corpus), "--real-world",
            str(real_world_file(tmp_path)))
    report = run(*args)
    [version] = ModelVersion.objects.all()
    assert version.trained_by_name == "scheduler" and version.trained_by is None
    assert json.loads(Path(version.path).with_suffix(".json").read_text())["trained_by"] == (
        "scheduler")
    assert version.compared["against"] == load_model().version
    # Alerted exactly when it beats the current model on the same data.
    comparison = model_registry.compare_with_current(version, None, model_registry.tolerance())
    assert len(webhook.received) == (1 if comparison.beats else 0), report
    assert model_registry.current() is None  # TUTORWATCH_AUTO_PROMOTE is off

    assert "scheduled training skipped: the decisions, the corpus and the current model are " \
           f"those of candidate {version.version}" in run(*args)
    assert ModelVersion.objects.count() == 1


def test_a_configured_store_that_cannot_be_reached_stops_training_before_it_starts(
    tutorwatch, tmp_path, small_corpus  # noqa: F811
):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    tutorwatch.env["TUTORWATCH_DB"] = f"postgresql://postgres@127.0.0.1:{port}/tutorwatch"
    out = tmp_path / "m.skops"
    done = tutorwatch("train", "--data", str(small_corpus), "--out", str(out), check=False)
    assert done.returncode == 1
    assert f"cannot reach the PostgreSQL database 'tutorwatch' at 127.0.0.1:{port}" in (
        done.stderr.decode())
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.once  # no store at all
def test_without_a_store_plain_training_writes_the_model_and_says_it_is_not_registered(
    tutorwatch, tmp_path, small_corpus  # noqa: F811
):
    missing = tmp_path / "never-migrated.sqlite3"
    tutorwatch.env["TUTORWATCH_DB"] = f"sqlite:///{missing}"
    out = tmp_path / "m.skops"
    done = tutorwatch("train", "--data", str(small_corpus), "--out", str(out), timeout=300)
    assert f"not registered as a model version: no store: the SQLite database {missing} " \
           "does not exist" in done.stdout.decode()
    assert load_model(out).metadata["trained_by"]  # the OS user
    assert not missing.exists()  # nothing was created on the way


def test_schedule_check_lists_the_training_job_and_a_bad_cron_is_one_line(tutorwatch, tmp_path):
    tutorwatch.env["TUTORWATCH_TRAIN_SCHEDULE"] = "15 2 * * *"
    tutorwatch.env["TUTORWATCH_SOURCES_DIR"] = str(BUNDLED_DIR)
    tutorwatch("migrate", "-v", "0")
    out = tutorwatch("schedule", "--check").stdout.decode()
    [line] = [row for row in out.splitlines() if row.startswith("(model)\ttrain")]
    assert line.startswith("(model)\ttrain\t15 2 * * *\tnext ") and " 02:15 " in line
    assert "never promoted by the scheduler (TUTORWATCH_AUTO_PROMOTE is off)" in out
    tutorwatch.env["TUTORWATCH_TRAIN_SCHEDULE"] = "15 25 * * *"
    done = tutorwatch("schedule", "--check", check=False)
    assert done.returncode == 2
    [message] = done.stderr.decode().strip().splitlines()
    assert message.startswith("TUTORWATCH_TRAIN_SCHEDULE must be a five-field cron expression")
    assert "got '15 25 * * *'" in message
    tutorwatch.env["TUTORWATCH_TRAIN_SCHEDULE"] = ""
    tutorwatch.env["TUTORWATCH_AUTO_PROMOTE"] = "sometimes"
    done = tutorwatch("schedule", "--check", check=False)
    assert done.returncode == 2 and done.stderr.decode().strip() == (
        "TUTORWATCH_AUTO_PROMOTE must be one of 1/0, true/false, yes/no, on/off; got "
        "'sometimes'")
