"""What the web pages and the API show: the store's read models (:mod:`voc.store.web_views`) shaped as plain dicts.

Queue actions (claim, override, resolve, appeal) are not here: they go through
:class:`voc.store.review.ReviewQueue`. This module only decides what a user may *see*.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from voc.config import Settings
from voc.store import Store, web_views
from voc.store.review import OPEN, ReviewItem
from voc.store.web_views import QueueFilter, TopicInfo, TopicRoute
from voc.web.users import User

if TYPE_CHECKING:
    from voc.records import SentimentScore, Utterance

__all__ = [
    "NotVisible", "QueueFilter", "audio_path", "call_detail", "can_see_item", "check_item_visible", "digest_dates",
    "digest_file", "fill_days", "queue_choices", "queue_items", "review_dict", "sentiment_label", "topic_detail",
    "topics", "trend_svg_points",
]

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEPT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NotVisible(LookupError):
    """The thing does not exist, or this user may not see it (both read as 404/403 to the caller)."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def sentiment_label(score: float | None, settings: Settings) -> str | None:
    if score is None:
        return None
    if score < settings.sentiment.negative_threshold:
        return "negative"
    if score > settings.sentiment.positive_threshold:
        return "positive"
    return "neutral"


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def review_dict(row: ReviewItem) -> dict[str, Any]:
    """A review item as JSON."""
    return {
        "id": row.id,
        "interaction_id": row.interaction_id,
        "queue": row.queue,
        "reasons": list(row.reasons or ()),
        "priority": round(row.priority, 3),
        "status": row.status,
        "assignee": row.assignee,
        "score_override": row.score_override,
        "comment": row.comment,
        "appeal_reason": row.appeal_reason,
        "history": list(row.history or ()),
        "created_at": _iso(row.created_at),
    }


def can_see_item(user: User, status: str, assignee: str | None) -> bool:
    if user.role == "supervisor":
        return True
    if user.role == "reviewer":
        return status == OPEN or assignee == user.name
    return False


def queue_items(store: Store, settings: Settings, user: User, f: QueueFilter) -> list[dict[str, Any]]:
    """Review items this user may see, filtered, highest priority first."""
    rows = web_views.queue_rows(store, f, reviewer=user.name if user.role == "reviewer" else None, me=user.name,
                                negative_below=settings.sentiment.negative_threshold,
                                positive_above=settings.sentiment.positive_threshold)
    out: list[dict[str, Any]] = []
    for r in rows:
        item = review_dict(r.item)
        item.pop("history")
        item.update(external_id=r.external_id, business_date=_iso(r.business_date), channel=r.channel,
                    agent_id=r.agent_id, qa_score=r.qa_score,
                    sentiment=None if r.sentiment is None else round(r.sentiment, 3),
                    sentiment_label=sentiment_label(r.sentiment, settings))
        out.append(item)
    return out


def queue_choices(store: Store) -> dict[str, list[str]]:
    """Queue names and reason kinds present, for the filter drop-downs."""
    queues, reasons = web_views.queue_choices(store)
    return {"queues": queues, "reasons": reasons}


def check_item_visible(store: Store, user: User, item_id: int) -> ReviewItem:
    row = web_views.review_item(store, item_id)
    if row is None:
        raise NotVisible(f"review item {item_id} does not exist")
    if not can_see_item(user, row.status, row.assignee):
        why = "is already claimed by another reviewer" if row.status == "claimed" else "is not yours"
        raise NotVisible(f"review item {item_id} {why}", forbidden=True)
    return row


def _highlight(text: str, needles: list[str]) -> list[dict[str, Any]]:
    """Split ``text`` into parts, marking the first occurrence of each needle (templates escape every part)."""
    spans: list[tuple[int, int]] = []
    for n in needles:
        if not n:
            continue
        k = text.find(n)
        if k >= 0:
            spans.append((k, k + len(n)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    parts, pos = [], 0
    for a, b in merged:
        if a > pos:
            parts.append({"text": text[pos:a], "mark": False})
        parts.append({"text": text[a:b], "mark": True})
        pos = b
    if pos < len(text):
        parts.append({"text": text[pos:], "mark": False})
    return parts


def _visible_review(store: Store, user: User, interaction_id: str) -> ReviewItem | None:
    """The call's review item; reviewers may only open calls whose item they may see."""
    review = web_views.review_for_interaction(store, interaction_id)
    if user.role == "reviewer" and (review is None or not can_see_item(user, review.status, review.assignee)):
        raise NotVisible(f"call {interaction_id} is not in your queue", forbidden=True)
    return review


def _qa_rules(qa: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """The QA rules with their evidence, and which rules point at which utterance (with the words to mark there)."""
    ev_by_idx: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rules = []
    for o in (qa or {}).get("outcomes", []):
        evid = []
        for e in o.get("evidence") or ():
            idx = e.get("idx")
            entry = {"idx": idx, "start": e.get("start"), "text": e.get("text"), "matched": e.get("matched"),
                     "how": e.get("how"), "window": e.get("window")}
            evid.append(entry)
            if idx is not None:
                ev_by_idx[int(idx)].append({"rule_id": o.get("rule_id"), "name": o.get("name"), "passed": o.get("passed"),
                                            "window": e.get("window") or e.get("matched")})
        rules.append({"rule_id": o.get("rule_id"), "name": o.get("name"), "passed": o.get("passed"),
                      "weight": o.get("weight"), "detail": o.get("detail"), "evidence": evid})
    return rules, ev_by_idx


def _transcript_lines(utts: list[Utterance], scores: dict[int, SentimentScore],
                      ev_by_idx: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    lines = []
    for u in utts:
        marks = ev_by_idx.get(u.idx, [])
        sc = scores.get(u.idx)
        lines.append({
            "idx": u.idx, "role": u.role.value, "start": round(u.start, 2), "end": round(u.end, 2), "text": u.text,
            "parts": _highlight(u.text, [m["window"] for m in marks if m.get("window")]),
            "evidence": [{"rule_id": m["rule_id"], "name": m["name"], "passed": m["passed"]} for m in marks],
            "sentiment": None if sc is None else round(sc.score, 3),
            "sentiment_label": sc.label if sc is not None else None,
        })
    return lines


def call_detail(store: Store, settings: Settings, user: User, interaction_id: str) -> dict[str, Any]:
    """Everything the call page shows. Raises :class:`NotVisible`."""
    if not user.can_review():
        raise NotVisible("department owners see topics and digests only", forbidden=True)
    found = store.interactions(ids=[interaction_id])
    if not found:
        raise NotVisible(f"call {interaction_id} does not exist")
    inter = found[0]
    review = _visible_review(store, user, interaction_id)
    qa = next(iter(store.qa_results([interaction_id])), None)
    utts = store.utterances(interaction_id)
    scores = {s.idx: s for s in store.sentiment_scores(interaction_id)}
    call_senti = store.call_sentiments([interaction_id]).get(interaction_id)
    metrics = store.call_metrics(interaction_id)
    rules, ev_by_idx = _qa_rules(qa)
    lines = _transcript_lines(utts, scores, ev_by_idx)
    kind = store.source_kind(interaction_id)
    shown_attrs = {k: v for k, v in inter.attributes.items() if k in settings.web.show_attributes}
    return {
        "interaction": {
            "id": inter.id, "external_id": inter.external_id, "channel": inter.channel.value,
            "business_date": _iso(inter.business_date), "started_at": _iso(inter.started_at), "queue": inter.queue,
            "agent_id": inter.agent_id, "customer_tier": inter.customer_tier, "attributes": shown_attrs,
            "source_kind": kind, "has_audio": kind == "audio" and bool(inter.source_path),
            "text": inter.text if not utts else None,
        },
        "utterances": lines,
        "qa": None if qa is None else {"queue": qa["queue"], "script": qa["script"], "score": qa["score"],
                                       "review_reasons": qa["review_reasons"], "rules": rules},
        "sentiment": None if call_senti is None else {
            "score": round(call_senti.score, 3), "label": sentiment_label(call_senti.score, settings),
            "trajectory": call_senti.trajectory, "escalation": call_senti.escalation,
            "reasons": list(call_senti.reasons)},
        "metrics": None if metrics is None else {
            k: getattr(metrics, k) for k in ("duration_s", "agent_talk_s", "customer_talk_s", "silence_s",
                                             "longest_silence_s", "overtalk_s", "agent_talk_ratio")},
        "review": None if review is None else review_dict(review),
    }


def audio_path(store: Store, user: User, interaction_id: str, roots: Sequence[Path] = ()) -> Path:
    """The recording behind a call, after the same visibility check as the call page; only a file that resolves
    inside one of ``roots`` (the inbox) is served, whatever path the store holds."""
    if not user.can_review():
        raise NotVisible("department owners see topics and digests only", forbidden=True)
    source = web_views.recording_source(store, interaction_id)
    if source is None:
        raise NotVisible(f"call {interaction_id} does not exist")
    src, kind = source
    _visible_review(store, user, interaction_id)
    if kind != "audio" or not src:
        raise NotVisible(f"call {interaction_id} has no recording")
    path = Path(src).resolve()
    if not any(path.is_relative_to(Path(root).resolve()) for root in roots):
        raise NotVisible(f"the recording of call {interaction_id} is not in the inbox, so it is not served",
                         forbidden=True)
    if not path.is_file():
        raise NotVisible(f"recording of call {interaction_id} is missing on the server")
    return path


# ---- topics, runs, digests ------------------------------------------------------------------
def _route(r: TopicRoute | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {"department": r.department, "confidence": round(r.confidence, 3), "reason": r.reason,
            "run_date": _iso(r.run_date), "finding": r.finding}


def _topic_head(t: TopicInfo) -> dict[str, Any]:
    return {"id": t.id, "label": t.label, "keywords": list(t.keywords), "size": t.size, "status": t.status,
            "merged_into": t.merged_into, "created_on": _iso(t.created_on), "last_seen": _iso(t.last_seen)}


def topics(store: Store, *, days: int = 30) -> list[dict[str, Any]]:
    out = []
    for s in web_views.topic_summaries(store, days=days):
        head = _topic_head(s.topic)
        out.append({**head, "keywords": head["keywords"][:8], "recent": s.recent, "recent_days": days,
                    "route": _route(s.route)})
    return out


def topic_detail(store: Store, topic_id: str) -> dict[str, Any]:
    d = web_views.topic_detail(store, topic_id)
    if d is None:
        raise NotVisible(f"topic {topic_id} does not exist")
    findings = [{"id": f.id, "kind": f.kind, "run_date": _iso(f.run_date), "title": f.title, "summary": f.summary,
                 "count": f.count, "customers": f.customers, "examples": list(f.examples)[:5],
                 "department": f.department,
                 "confidence": round(f.confidence, 3) if f.confidence is not None else None, "reason": f.reason}
                for f in d.findings]
    return {
        **_topic_head(d.topic), "examples": list(d.topic.examples), "route": _route(d.route),
        "daily": [{"date": _iso(day), "count": n} for day, n in fill_days(d.daily)],
        "findings": findings,
        "interactions": [{"id": c.interaction_id, "external_id": c.external_id,
                          "visible_id": c.external_id or c.interaction_id, "business_date": _iso(c.business_date),
                          "similarity": round(c.similarity, 3), "preview": c.preview} for c in d.calls],
    }


def fill_days(daily: list[tuple[dt.date, int]]) -> list[tuple[dt.date, int]]:
    """Daily counts with the missing days in between as zeros (a trend chart needs them)."""
    if not daily:
        return []
    have = dict(daily)
    first, last = daily[0][0], daily[-1][0]
    return [(first + dt.timedelta(days=k), have.get(first + dt.timedelta(days=k), 0)) for k in range((last - first).days + 1)]


def trend_svg_points(daily: list[dict[str, Any]], width: int = 640, height: int = 160, pad: int = 24) -> dict[str, Any]:
    """Coordinates for the inline SVG trend chart (the template draws them)."""
    if not daily:
        return {"points": "", "dots": [], "max": 0, "width": width, "height": height}
    top = max(d["count"] for d in daily) or 1
    n = len(daily)
    step = (width - 2 * pad) / max(n - 1, 1)
    dots = []
    for k, d in enumerate(daily):
        x = pad + k * step
        y = height - pad - (height - 2 * pad) * d["count"] / top
        dots.append({"x": round(x, 1), "y": round(y, 1), "date": d["date"], "count": d["count"]})
    return {"points": " ".join(f"{p['x']},{p['y']}" for p in dots), "dots": dots, "max": top, "width": width,
            "height": height, "first": daily[0]["date"], "last": daily[-1]["date"]}


def digest_dates(exports_dir: Path, user: User) -> list[dict[str, Any]]:
    """Dated digest folders (newest first) with the HTML files this user may open."""
    root = Path(exports_dir)
    if not root.is_dir():
        return []
    out = []
    for d in sorted((p for p in root.iterdir() if p.is_dir() and DATE_DIR.match(p.name)), reverse=True):
        depts = sorted(p.stem for p in (d / "departments").glob("*.html") if DEPT_NAME.match(p.stem))
        if user.role == "department_owner" and user.department:
            depts = [x for x in depts if x == user.department]
        if (d / "overview.html").is_file() or depts:
            out.append({"date": d.name, "overview": (d / "overview.html").is_file(), "departments": depts})
    return out


def digest_file(exports_dir: Path, user: User, date: str, department: str | None, suffix: str = ".html") -> Path:
    """The digest HTML for a date (overview, or one department; ``suffix="_outreach.csv"``: the department's outreach
    list). Names are checked, and the resolved path must stay inside ``exports_dir``: no traversal, no symlinks out."""
    if suffix not in (".html", "_outreach.csv"):
        raise NotVisible(f"no digest file of kind {suffix!r}")
    if not DATE_DIR.match(date):
        raise NotVisible(f"{date!r} is not a digest date (YYYY-MM-DD)")
    if department is not None and not DEPT_NAME.match(department):
        raise NotVisible(f"{department!r} is not a department name")
    if (department is not None and user.role == "department_owner" and user.department
            and department != user.department):
        raise NotVisible(f"digest of {department} is not yours", forbidden=True)
    root = Path(exports_dir).resolve()
    rel = Path(date) / ("overview.html" if department is None else f"departments/{department}{suffix}")
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotVisible(f"no digest {rel}")
    return path


# ---- runs -----------------------------------------------------------------------------------------
def human_time(value: str | None, tz: str) -> str:
    """An ISO timestamp as ``2026-11-20 09:05:03`` in the configured timezone (``settings.timezone``)."""
    if not value:
        return ""
    from zoneinfo import ZoneInfo

    try:
        t = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S")


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{s} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


def runs_summary(runs: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    """One summary row per run (local times, duration, summed counts, the stages that failed); stages kept."""
    out = []
    for r in runs:
        stages = r.get("stages") or []
        start, end = r.get("started_at"), r.get("finished_at")
        secs = ((dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()
                if start and end else sum(s.get("seconds") or 0 for s in stages) or None)
        out.append({**r, "started": human_time(start, tz), "finished": human_time(end, tz),
                    "duration": human_duration(secs), "seconds": secs,
                    "processed": sum(s.get("processed") or 0 for s in stages),
                    "skipped": sum(s.get("skipped") or 0 for s in stages),
                    "failed": sum(s.get("failed") or 0 for s in stages),
                    "failed_stages": [s["stage"] for s in stages if s.get("status") == "failed" or s.get("failed")]})
    return out
