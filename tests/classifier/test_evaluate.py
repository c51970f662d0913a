import json

import pytest

from classifier.evaluate import format_report, prf, report
from classifier.keywords import keyword_label


def test_prf_counts():
    assert prf([1, 1, 0, 0], [1, 0, 1, 0]) == {
        "precision": 0.5, "recall": 0.5, "f1": 0.5, "n": 4, "positives": 2, "flagged": 2,
    }


def test_report_groups_by_category_and_source_type():
    rows = [
        {"text": "a", "label": 1, "category": "tuoguan", "source_type": "chat", "hard": True},
        {"text": "b", "label": 1, "category": "online", "source_type": "chat"},
        {"text": "c", "label": 0, "category": "news_or_notice", "source_type": "news",
         "hard": True},
    ]
    result = report(rows, [1, 0, 1], None, ["tuoguan", "online", "unrelated"])
    assert result["per_category"]["tuoguan"]["recall"] == 1.0
    assert result["per_source_type"]["news"]["flagged_share"] == 1.0
    assert result["hard_positive_recall"] == 1.0
    assert result["hard_negative_false_flag_rate"] == 1.0
    assert result["category_confusion"] == {"tuoguan": {"tuoguan": 1}}


def test_the_report_shows_the_char_ngram_baseline_beside_the_model_and_the_keywords():
    rows = [
        {"text": "a", "label": 1, "category": "tuoguan", "source_type": "chat"},
        {"text": "b", "label": 1, "category": "online", "source_type": "sms"},
        {"text": "c", "label": 0, "category": "unrelated", "source_type": "sms"},
        {"text": "d", "label": 0, "category": "news_or_notice", "source_type": "news"},
    ]
    result = {"model": report(rows, [1, 1, 0, 0], None, None),
              "baseline": report(rows, [1, 0, 1, 0], None, None),
              "keywords": report(rows, [0, 0, 1, 1], None, None),
              "threshold": 0.5, "model_version": "v"}
    text = format_report(result)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines[3:6]] == ["tutorwatch", "char", "keyword"]
    assert lines[4].split()[-2:] == ["0.500", "4"]  # the baseline's F1 and n
    assert "F1 above the char n-gram baseline: +0.500" in text
    sms = next(line for line in lines if line.startswith("sms"))
    assert sms.split()[-2:] == ["0.00", "0.00"]  # its F1 per group, then the keyword list's
    news = next(line for line in lines if line.startswith("news"))
    assert news.count("flagged") == 2


def test_the_keyword_baseline_is_a_plain_substring_match():
    assert keyword_label("周末补习班") == 1
    assert keyword_label("周末补 习班") == 0  # a keyword list is blind to spacing


@pytest.mark.once  # the classifier's command; the store only names the promoted model
@pytest.mark.slow
def test_evaluate_prints_figures_and_writes_the_curve(tutorwatch, tmp_path):
    data = tmp_path / "labeled.jsonl"
    rows = [
        {"id": 1, "text": "初二数学 周末一对一上门辅导 提分快", "label": 1,
         "category": "open_tutoring", "source_type": "classified"},
        {"id": 2, "text": "出租两室一厅 近地铁", "label": 0, "category": "unrelated",
         "source_type": "classified"},
        {"id": 3, "text": "教育局：严禁在职教师有偿补课，举报电话 12345", "label": 0,
         "category": "news_or_notice", "source_type": "news"},
    ]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    plot = tmp_path / "curve.png"
    out = tmp_path / "figures.json"
    done = tutorwatch("evaluate", "--data", str(data), "--plot", str(plot), "--json", str(out))
    text = done.stdout.decode()
    assert "keyword list" in text and "source_type" in text and "category" in text
    assert "char n-gram baseline" in text and "F1 above the char n-gram baseline" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures = json.loads(out.read_text())
    assert figures["model"]["overall"]["n"] == 3
    assert figures["baseline"]["overall"]["n"] == 3


def test_evaluating_dev_says_the_shipped_model_has_seen_it(tutorwatch, tmp_path):
    from classifier.corpus import load_split

    done = tutorwatch("evaluate", "--split", "dev", "--plot", str(tmp_path / "dev.png"))
    text = done.stdout.decode()
    assert f"dev: {len(load_split('dev'))} examples" in text and "fitted on train + dev" in text
    assert "char n-gram baseline" in text
