"""Department digests and the management overview as Markdown, HTML (self-contained, escaped) and CSV."""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voc.csvsafe import safe_writer
from voc.labels import kind_label, summary_label, summary_value
from voc.records import Finding, Route, contact_label, visible_id

logger = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
OVERVIEW = "overview"  # pseudo-department id: webhooks subscribed to it get the management overview
CSV_COLUMNS = (
    "rank", "department", "finding_id", "kind", "title", "count", "customers", "value_weight", "growth",
    "confidence", "reason", "examples", "topic_id", "contact_ids",
)
CONTACTS_SHOWN = 10  # contact ids listed per finding in the Markdown/HTML digests (the CSV lists all)


@dataclass(frozen=True, slots=True)
class DigestData:
    """Everything a digest shows, as plain data (the pipeline reads it from the store)."""

    run_date: dt.date
    findings: Sequence[Finding]
    routes: Sequence[Route]
    department_names: Mapping[str, str] = field(default_factory=dict)  # id -> display name
    volumes: Mapping[str, int] = field(default_factory=dict)  # interactions per channel
    sentiment: Mapping[str, float] = field(default_factory=dict)  # e.g. mean, negative_share, escalations
    qa: Mapping[str, float] = field(default_factory=dict)  # e.g. scored, mean_score, below_threshold, in_review
    top_n: int = 10  # findings listed in the overview
    examples_per_finding: int = 3
    customers: Mapping[str, Any] | None = None  # voc.customers.CustomerReport.to_digest(); section shown when set
    # interaction id -> (channel, visible id: the source's call / record id, see voc.records.visible_id)
    contacts: Mapping[str, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DigestItem:
    rank: int
    finding: Finding
    route: Route
    contacts: tuple[tuple[str, str], ...] = ()  # (channel, visible id) of the finding's contacts, calls first

    @property
    def contact_ids(self) -> list[str]:
        """The visible ids of the finding's contacts (C009, the chat's own id), calls first."""
        return [cid for _channel, cid in self.contacts]

    @property
    def contact_labels(self) -> list[str]:
        """``call C009``, ``chat T00152``: ids with their kind, told apart from topic ids such as ``T0013``."""
        return [contact_label(channel, cid) if channel else cid for channel, cid in self.contacts]

    @property
    def sparkline(self) -> str:
        """``details['trend']`` (daily counts, oldest first) as a block sparkline, '' when absent."""
        return sparkline(self.finding.details.get("trend") or ())

    @property
    def vip_customers(self) -> int:
        return int(self.finding.details.get("vip_customers") or 0)

    @property
    def call_ids(self) -> list[str]:
        return [str(c) for c in self.finding.details.get("call_ids") or ()]

    @property
    def growth(self) -> str:
        """``details['growth']`` (ratio over baseline) as text, or '' when the finding has none."""
        growth = self.finding.details.get("growth")
        if isinstance(growth, int | float):
            return f"{growth:+.0%}"
        return str(growth or "")


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[Any]) -> str:
    """Daily counts as Unicode blocks (renders in Markdown, chat apps and mail)."""
    nums = [float(v) for v in values if isinstance(v, int | float)]
    if not nums:
        return ""
    top = max(nums) or 1.0
    return "".join(SPARK[min(len(SPARK) - 1, int(round(v / top * (len(SPARK) - 1))))] for v in nums)


def department_items(data: DigestData) -> dict[str, list[DigestItem]]:
    """Routed findings per department, ranked by value weight, then count (highest first)."""
    by_id = {f.id: f for f in data.findings}
    grouped: dict[str, list[tuple[Finding, Route]]] = {}
    for route in data.routes:
        finding = by_id.get(route.finding_id)
        if finding is None:
            logger.warning("route for unknown finding %s skipped", route.finding_id)
            continue
        grouped.setdefault(route.department, []).append((finding, route))
    out = {}
    for dept, pairs in sorted(grouped.items()):
        pairs.sort(key=lambda p: (-p[0].value_weight, -p[0].count, p[0].id))
        out[dept] = [DigestItem(i, f, r, _contacts(f, data.contacts) if data.contacts else ()) for i, (f, r) in enumerate(pairs, start=1)]
    return out


def _contacts(finding: Finding, known: Mapping[str, tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The finding's contacts as (channel, visible id), calls first (their ids are what people look up), then in
    the finding's order; an interaction the mapping does not know shows its own id."""
    pairs = [known.get(iid, ("", visible_id(None, iid))) for iid in finding.interaction_ids]
    return tuple(sorted(pairs, key=lambda p: p[0] != "call"))


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


@functools.lru_cache(maxsize=2)
def _environment(html: bool):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=html,  # HTML: every value escaped; Markdown goes to chat apps as text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["one_line"] = _one_line
    env.filters["num"] = lambda v: f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else v
    # summary keys and finding kinds in words (voc.labels, shared with the web app); CSV keeps the keys
    env.filters["label"] = summary_label
    env.filters["kind"] = kind_label
    env.globals["summary_value"] = summary_value
    return env


def _context(data: DigestData, items: Mapping[str, list[DigestItem]]) -> dict[str, Any]:
    overview = sorted((i for its in items.values() for i in its), key=lambda i: (-i.finding.value_weight, -i.finding.count))
    return {
        "run_date": data.run_date.isoformat(),
        "names": dict(data.department_names),
        "items": items,
        "top": overview[: data.top_n],
        "volumes": dict(data.volumes),
        "sentiment": dict(data.sentiment),
        "qa": dict(data.qa),
        "n_examples": data.examples_per_finding,
        "n_contacts": CONTACTS_SHOWN,
        "customers": dict(data.customers) if data.customers else None,
        "totals": {
            d: {"findings": len(its), "count": sum(i.finding.count for i in its),
                "customers": sum(i.finding.customers for i in its),
                "value_weight": sum(i.finding.value_weight for i in its)}
            for d, its in items.items()
        },
    }


def render_department(data: DigestData, department: str, fmt: str = "md") -> str:
    """One department's digest as Markdown (``md``) or HTML (``html``)."""
    items = department_items(data)
    ctx = _context(data, items) | {"department": department, "dept_items": items.get(department, [])}
    return _environment(fmt == "html").get_template(f"department.{fmt}.j2").render(ctx)


def render_overview(data: DigestData, fmt: str = "md") -> str:
    """The management overview (all departments) as Markdown or HTML."""
    items = department_items(data)
    return _environment(fmt == "html").get_template(f"overview.{fmt}.j2").render(_context(data, items))


def render_csv(items: Sequence[DigestItem], examples: int = 3) -> str:
    buf = io.StringIO()
    writer = safe_writer(buf, lineterminator="\n")  # titles, reasons and examples quote customers
    writer.writerow(CSV_COLUMNS)
    for item in items:
        f, r = item.finding, item.route
        writer.writerow([
            item.rank, r.department, f.id, f.kind, _one_line(f.title), f.count, f.customers,
            round(f.value_weight, 3), item.growth, round(r.confidence, 3), _one_line(r.reason),
            " | ".join(_one_line(e) for e in f.examples[:examples]), f.topic_id or "", ";".join(item.contact_ids),
        ])
    return buf.getvalue()


def write_digests(data: DigestData, out_dir: str | Path, formats: Sequence[str] = ("md", "html", "csv")) -> list[Path]:
    """Write ``overview.*``, ``departments/<id>.*`` and ``routes.csv`` under ``out_dir``; return the paths."""
    unknown = set(formats) - {"md", "html", "csv"}
    if unknown:
        raise ValueError(f"report.formats: unknown format(s) {sorted(unknown)}; expected md, html or csv")
    out = Path(out_dir)
    (out / "departments").mkdir(parents=True, exist_ok=True)
    items = department_items(data)
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        written.append(path)

    for fmt in ("md", "html"):
        if fmt in formats:
            write(out / f"overview.{fmt}", render_overview(data, fmt))
            for dept in items:
                write(out / "departments" / f"{dept}.{fmt}", render_department(data, dept, fmt))
    if "csv" in formats:
        for dept, its in items.items():
            write(out / "departments" / f"{dept}.csv", render_csv(its, data.examples_per_finding))
        everything = [i for its in items.values() for i in its]
        write(out / "routes.csv", render_csv(everything, data.examples_per_finding))
    logger.info("wrote %d digest files for %d departments to %s", len(written), len(items), out)
    return written
