"""Digest files: Markdown and HTML render, ranked and escaped; an empty night still writes its overview;
Markdown splits under a byte limit without cutting a UTF-8 character."""

from __future__ import annotations

import csv
import datetime as dt

from voc.records import Finding, Route
from voc.report import DigestData, split_markdown, write_digests

RUN = dt.date(2026, 11, 23)


def sample_digest(n_findings: int = 3, example: str = "物流太慢了") -> DigestData:
    findings = [
        Finding(id=f"f{i}", kind="emerging_topic", run_date=RUN, title=f"话题 {i}", summary="摘要",
                count=10 * (i + 1), customers=i + 1, value_weight=float(i + 1),
                examples=(example, "第二个例子"), details={"growth": 0.5 * i})
        for i in range(n_findings)
    ]
    routes = [Route(f.id, "logistics" if i % 2 == 0 else "finance", 0.8, "keywords 物流") for i, f in enumerate(findings)]
    return DigestData(run_date=RUN, findings=findings, routes=routes,
                      department_names={"logistics": "物流配送 (Logistics)", "finance": "财务 (Finance)"},
                      volumes={"call": 120, "review": 30}, sentiment={"mean": -0.21, "negative_share": 0.35},
                      qa={"scored": 120, "mean_score": 81.5})


def test_digest_files_render_ranked_and_escaped(tmp_path):
    data = sample_digest(3, example="<script>alert('x')</script> 快递丢了")
    paths = write_digests(data, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in paths)
    assert names == sorted([
        "overview.md", "overview.html", "routes.csv",
        *(f"departments/{d}.{ext}" for d in ("logistics", "finance") for ext in ("md", "html", "csv")),
    ])
    html = (tmp_path / "departments" / "logistics.html").read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html
    md = (tmp_path / "departments" / "logistics.md").read_text("utf-8")
    # Ranked by value weight: f2 (3.0) before f0 (1.0); reasons and growth are shown.
    assert md.index("话题 2") < md.index("话题 0")
    assert "why here: keywords 物流" in md and "growth +100%" in md
    overview = (tmp_path / "overview.md").read_text("utf-8")
    assert "call: 120" in overview and "物流配送 (Logistics)" in overview
    # summary keys in words (voc.labels), shares as percentages; the CSV keeps its machine column names
    assert "mean QA score: 81.5" in overview and "negative share: 35.0%" in overview and "scored: 120" in overview
    assert "mean sentiment (-1 … +1): -0.21" in overview
    assert "negative_share" not in overview and "mean_score" not in overview
    html_overview = (tmp_path / "overview.html").read_text("utf-8")
    assert "<th>negative share</th><td>35.0%</td>" in html_overview and "negative_share" not in html_overview
    assert "kind: emerging topic" in md and "emerging_topic" not in md
    with (tmp_path / "routes.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and {r["department"] for r in rows} == {"logistics", "finance"}
    assert {r["kind"] for r in rows} == {"emerging_topic"}  # CSV is a machine interface: keys, not words


def test_digest_with_no_findings_still_writes_overview(tmp_path):
    data = DigestData(run_date=RUN, findings=[], routes=[])
    paths = write_digests(data, tmp_path, formats=["md"])
    assert [p.name for p in paths] == ["overview.md"]
    assert "No findings today." in paths[0].read_text("utf-8")


def test_split_markdown_respects_utf8_bytes():
    text = "\n".join(f"第{i}行：" + "客户反馈" * 30 for i in range(200))
    parts = split_markdown(text, 4096)
    assert len(parts) > 1
    assert all(len(p.encode("utf-8")) <= 4096 for p in parts)
    assert "\n".join(parts).replace("\n", "") == text.replace("\n", "")
