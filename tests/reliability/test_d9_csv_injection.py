"""D9: every CSV voc writes is spreadsheet-safe (one helper, voc.csvsafe): digests, customer exports, QA export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from tests.reliability.hostile import DAY

EVIL = ['=HYPERLINK("http://evil.example/x","点我")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1"]


def _cells(path) -> list[str]:
    text = path.read_text(encoding="utf-8-sig")
    return [c for row in csv.reader(io.StringIO(text)) for c in row]


def _assert_safe(cells: list[str]) -> None:
    for c in cells:  # a spreadsheet evaluates a cell starting with one of these, unless it is a plain number
        assert not c.startswith(("=", "+", "-", "@", "\t", "\r")) or re.fullmatch(r"[+-][\d.,]+%?", c), c
    assert not any(c in EVIL for c in cells)


def test_digest_csvs_escape_formulas(tmp_path):
    from voc.records import Finding, Route
    from voc.report import DigestData, write_digests

    finding = Finding(id="F1", kind="emerging_topic", run_date=DAY, title=EVIL[0], summary=EVIL[1], count=3,
                      examples=tuple(EVIL[2:]), details={"growth": 1.5})
    data = DigestData(run_date=DAY, findings=[finding], routes=[Route("F1", "after_sales", 0.9, EVIL[3])])
    write_digests(data, tmp_path, formats=("csv",))
    for name in ("routes.csv", "departments/after_sales.csv"):
        cells = _cells(tmp_path / name)
        _assert_safe(cells)
        assert "'" + EVIL[0] in cells and "+150%" in cells  # escaped text; numbers stay numbers


def test_customer_exports_escape_formulas(tmp_path):
    from voc.customers import CustomerReport, write_customer_exports
    from voc.customers.model import CustomerRisk, RepeatStats

    risk = CustomerRisk(EVIL[0], "vip", 100.0, 1.0, 2.0, {"repeat": 2.0}, (EVIL[1],), 2, DAY)
    report = CustomerReport(DAY, DAY - dt.timedelta(days=29), RepeatStats("all", 1, 0, 1, 1), {}, [risk], [])
    (path,) = write_customer_exports(report, tmp_path)
    _assert_safe(_cells(path))


def test_the_qa_export_escapes_formulas(tmp_path):
    from typer.testing import CliRunner

    from voc.cli import app
    from voc.records import Channel, Interaction
    from voc.store import Store
    from voc.store.review import ReviewQueue

    url = f"sqlite:///{tmp_path / 'voc.db'}"
    store = Store.open(url)
    store.add_interaction(Interaction(id="call-1", channel=Channel.CALL, business_date=DAY, content_hash="h",
                                      external_id=EVIL[4]), "audio")
    ReviewQueue(store.db).enqueue("call-1", EVIL[0], ["low_score"], 1.0)
    store.close()
    out = tmp_path / "qa.csv"
    res = CliRunner().invoke(app, ["qa", "export", "-o", str(out)], env={"VOC_DATABASE_URL": url})
    assert res.exit_code == 0, res.output
    cells = _cells(out)
    _assert_safe(cells)
    assert "'" + EVIL[0] in cells


def test_the_helper_leaves_numbers_alone():
    from voc.csvsafe import safe_cell

    assert [safe_cell(v) for v in (-0.35, "-0.35", "+12%", "1,000", "-", "=1", "")] == \
        [-0.35, "-0.35", "+12%", "1,000", "'-", "'=1", ""]
