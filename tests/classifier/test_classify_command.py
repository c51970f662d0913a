import json

import pytest


@pytest.mark.once  # the classifier's command; the store only names the promoted model
@pytest.mark.slow
def test_classify_keeps_order_and_fields(tutorwatch, tmp_path):
    rows = [
        {"id": 7, "text": "初二数学 周末一对一上门辅导 提分快 V信 shuxue01"},
        {"id": "b", "text": "出租两室一厅 近地铁"},
        {"id": None, "text": ""},
        {"id": "big", "text": "补习" * 50_000},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    out = tmp_path / "out.jsonl"
    tutorwatch("classify", str(src), "-o", str(out))
    results = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in results] == [7, "b", None, "big"]
    for result in results:
        assert set(result) == {"id", "score", "label", "category", "evidence", "model_version"}
        assert 0 <= result["score"] <= 1 and result["label"] in (0, 1)
    assert results[0]["label"] == 1 and results[1]["label"] == 0


@pytest.mark.once  # the classifier's command; the store only names the promoted model
@pytest.mark.slow
def test_a_line_that_is_not_json_is_named(tutorwatch, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "text": "ok"}\nnot json\n', encoding="utf-8")
    done = tutorwatch("classify", str(src), "-o", str(tmp_path / "o.jsonl"), check=False)
    assert done.returncode != 0
    assert b"in.jsonl:2" in done.stderr
