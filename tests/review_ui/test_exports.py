import csv
import io
import json

import pytest
from openpyxl import load_workbook

from review_ui.exports import FLAT_FIELDS, write_csv, write_jsonl, write_xlsx
from tests.review_ui.conftest import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def ads(db):
    make_item(url="http://127.0.0.1/a", title="=HYPERLINK(\"http://evil\")", text="+1 正文\x01控制字符")
    make_item(url="http://127.0.0.1/b", title="无害的标题", label=0, score=0.2)


def test_jsonl_has_the_architecture_fields(ads):
    out = io.BytesIO()
    assert write_jsonl(out, None) == 2
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    for field in ["url", "source", "title", "text", "posted_at", "contacts", "score", "flagged", "status"]:
        assert field in rows[0]
    assert rows[0]["contacts"] == {"phones": ["13912345678"], "wechat_ids": ["tutor_abc"]}
    assert rows[0]["posted_at"] == "2026-10-30T09:00:00+08:00"
    assert (rows[0]["flagged"], rows[0]["status"]) == (True, "pending")
    assert (rows[1]["flagged"], rows[1]["status"]) == (False, "not_queued")


def test_csv_neutralises_formulas(ads):
    out = io.BytesIO()
    write_csv(out)
    text = out.getvalue().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == FLAT_FIELDS
    assert rows[1][FLAT_FIELDS.index("title")].startswith("'=")
    assert rows[1][FLAT_FIELDS.index("text")].startswith("'+")


def test_xlsx_neutralises_formulas_and_drops_control_characters(ads):
    out = io.BytesIO()
    write_xlsx(out)
    sheet = load_workbook(io.BytesIO(out.getvalue())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == FLAT_FIELDS
    title = values[1][FLAT_FIELDS.index("title")]
    assert title.startswith("'=") and sheet.cell(row=2, column=FLAT_FIELDS.index("title") + 1).data_type == "s"
    assert "\x01" not in values[1][FLAT_FIELDS.index("text")]
