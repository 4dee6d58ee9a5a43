"""What the web pages and the API show: read-only queries over the store, shaped as plain dicts.

Queue actions (claim, override, resolve, appeal) are not here: they go through
:class:`voc.store.review.ReviewQueue`. This module only decides what a user may *see*.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select

from voc.config import Settings
from voc.store import Store
from voc.store.review import OPEN
from voc.store.schema import (
    CallSentimentRow,
    FindingRow,
    InteractionRow,
    QAResultRow,
    QAReviewRow,
    RouteRow,
    TopicAssignmentRow,
    TopicRow,
)
from voc.web.users import User

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DEPT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class NotVisible(LookupError):
    """The thing does not exist, or this user may not see it (both read as 404/403 to the caller)."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


@dataclass(frozen=True, slots=True)
class QueueFilter:
    queue: str | None = None
    reason: str | None = None
    status: str | None = None
    score_min: float | None = None
    score_max: float | None = None
    sentiment: str | None = None  # negative / neutral / positive
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    mine: bool = False
    limit: int = 200


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


def review_dict(row: QAReviewRow | Any) -> dict[str, Any]:
    """A review item (row or :class:`ReviewItem`) as JSON."""
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
    q = (
        select(QAReviewRow, InteractionRow.external_id, InteractionRow.business_date, InteractionRow.channel,
               InteractionRow.agent_id, QAResultRow.score, CallSentimentRow.score)
        .join(InteractionRow, InteractionRow.id == QAReviewRow.interaction_id)
        .outerjoin(QAResultRow, QAResultRow.interaction_id == QAReviewRow.interaction_id)
        .outerjoin(CallSentimentRow, CallSentimentRow.interaction_id == QAReviewRow.interaction_id)
    )
    if user.role == "reviewer":
        q = q.where(or_(QAReviewRow.status == OPEN, QAReviewRow.assignee == user.name))
    if f.mine:
        q = q.where(QAReviewRow.assignee == user.name)
    if f.status:
        q = q.where(QAReviewRow.status == f.status)
    if f.queue:
        q = q.where(QAReviewRow.queue == f.queue)
    if f.score_min is not None:
        q = q.where(QAResultRow.score >= f.score_min)
    if f.score_max is not None:
        q = q.where(QAResultRow.score <= f.score_max)
    if f.date_from is not None:
        q = q.where(InteractionRow.business_date >= f.date_from)
    if f.date_to is not None:
        q = q.where(InteractionRow.business_date <= f.date_to)
    neg, pos = settings.sentiment.negative_threshold, settings.sentiment.positive_threshold
    if f.sentiment == "negative":
        q = q.where(CallSentimentRow.score < neg)
    elif f.sentiment == "positive":
        q = q.where(CallSentimentRow.score > pos)
    elif f.sentiment == "neutral":
        q = q.where(CallSentimentRow.score >= neg, CallSentimentRow.score <= pos)
    q = q.order_by(QAReviewRow.priority.desc(), QAReviewRow.id)
    if not f.reason:  # reasons are a JSON list: that filter runs below, before the limit
        q = q.limit(f.limit)
    out: list[dict[str, Any]] = []
    with store.db.session() as s:
        for row, ext, day, channel, agent, score, senti in s.execute(q):
            if f.reason and not any(str(r).startswith(f.reason) for r in row.reasons or ()):
                continue
            item = review_dict(row)
            item.pop("history")
            item.update(external_id=ext, business_date=_iso(day), channel=channel, agent_id=agent,
                        qa_score=score, sentiment=None if senti is None else round(senti, 3),
                        sentiment_label=sentiment_label(senti, settings))
            out.append(item)
            if len(out) >= f.limit:
                break
    return out


def queue_choices(store: Store) -> dict[str, list[str]]:
    """Queue names and reason kinds present, for the filter drop-downs."""
    with store.db.session() as s:
        queues = sorted(q for q in s.scalars(select(QAReviewRow.queue).distinct()) if q)
        reasons: set[str] = set()
        for rs in s.scalars(select(QAReviewRow.reasons).limit(5000)):
            reasons.update(str(r).split(":", 1)[0] for r in rs or ())
    return {"queues": queues, "reasons": sorted(reasons)}


def _review_row_for(store: Store, interaction_id: str) -> QAReviewRow | None:
    with store.db.session() as s:
        return s.scalars(select(QAReviewRow).where(QAReviewRow.interaction_id == interaction_id)).first()


def check_item_visible(store: Store, user: User, item_id: int) -> QAReviewRow:
    with store.db.session() as s:
        row = s.get(QAReviewRow, item_id)
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


def call_detail(store: Store, settings: Settings, user: User, interaction_id: str) -> dict[str, Any]:
    """Everything the call page shows. Raises :class:`NotVisible`."""
    if not user.can_review():
        raise NotVisible("department owners see topics and digests only", forbidden=True)
    found = store.interactions(ids=[interaction_id])
    if not found:
        raise NotVisible(f"call {interaction_id} does not exist")
    inter = found[0]
    review = _review_row_for(store, interaction_id)
    if user.role == "reviewer" and (review is None or not can_see_item(user, review.status, review.assignee)):
        raise NotVisible(f"call {interaction_id} is not in your queue", forbidden=True)
    qa = next(iter(store.qa_results([interaction_id])), None)
    utts = store.utterances(interaction_id)
    scores = {s.idx: s for s in store.sentiment_scores(interaction_id)}
    call_senti = store.call_sentiments([interaction_id]).get(interaction_id)
    metrics = store.call_metrics(interaction_id)
    # Which rules point at which utterance, and the words to mark there.
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


def audio_path(store: Store, user: User, interaction_id: str) -> Path:
    """The recording behind a call, after the same visibility check as the call page."""
    if not user.can_review():
        raise NotVisible("department owners see topics and digests only", forbidden=True)
    with store.db.session() as s:
        row = s.get(InteractionRow, interaction_id)
        src, kind = (row.source_path, row.source_kind) if row is not None else (None, None)
    if row is None:
        raise NotVisible(f"call {interaction_id} does not exist")
    review = _review_row_for(store, interaction_id)
    if user.role == "reviewer" and (review is None or not can_see_item(user, review.status, review.assignee)):
        raise NotVisible(f"call {interaction_id} is not in your queue", forbidden=True)
    if kind != "audio" or not src:
        raise NotVisible(f"call {interaction_id} has no recording")
    path = Path(src)
    if not path.is_file():
        raise NotVisible(f"recording of call {interaction_id} is missing on the server ({path.name})")
    return path


# ---- topics, runs, digests ------------------------------------------------------------------
def _routes_by_topic(s) -> dict[str, dict[str, Any]]:
    """The latest routed finding per topic: department, confidence, reason."""
    out: dict[str, dict[str, Any]] = {}
    q = (select(FindingRow.topic_id, FindingRow.run_date, FindingRow.title, RouteRow.department, RouteRow.confidence,
                RouteRow.reason)
         .join(RouteRow, RouteRow.finding_id == FindingRow.id)
         .where(FindingRow.topic_id.is_not(None))
         .order_by(FindingRow.run_date))
    for topic_id, day, title, dept, conf, reason in s.execute(q):
        out[topic_id] = {"department": dept, "confidence": round(conf, 3), "reason": reason, "run_date": _iso(day),
                         "finding": title}
    return out


def topics(store: Store, *, days: int = 30) -> list[dict[str, Any]]:
    with store.db.session() as s:
        last = s.scalar(select(func.max(TopicAssignmentRow.business_date)))
        since = (last or dt.date.today()) - dt.timedelta(days=days - 1)
        recent = dict(s.execute(select(TopicAssignmentRow.topic_id, func.count())
                                .where(TopicAssignmentRow.business_date >= since)
                                .group_by(TopicAssignmentRow.topic_id)).all())
        routes = _routes_by_topic(s)
        rows = list(s.scalars(select(TopicRow).order_by(TopicRow.size.desc(), TopicRow.id)))
        return [{"id": t.id, "label": t.label, "keywords": list(t.keywords or [])[:8], "size": t.size, "status": t.status,
                 "merged_into": t.merged_into, "created_on": _iso(t.created_on), "last_seen": _iso(t.last_seen),
                 "recent": recent.get(t.id, 0), "recent_days": days, "route": routes.get(t.id)} for t in rows]


def topic_detail(store: Store, topic_id: str) -> dict[str, Any]:
    with store.db.session() as s:
        t = s.get(TopicRow, topic_id)
        if t is None:
            raise NotVisible(f"topic {topic_id} does not exist")
        daily = [(d, n) for d, n in s.execute(
            select(TopicAssignmentRow.business_date, func.count()).where(TopicAssignmentRow.topic_id == topic_id)
            .group_by(TopicAssignmentRow.business_date).order_by(TopicAssignmentRow.business_date))]
        findings = []
        for f, r in s.execute(select(FindingRow, RouteRow).outerjoin(RouteRow, RouteRow.finding_id == FindingRow.id)
                              .where(FindingRow.topic_id == topic_id).order_by(FindingRow.run_date.desc()).limit(20)):
            findings.append({"id": f.id, "kind": f.kind, "run_date": _iso(f.run_date), "title": f.title,
                             "summary": f.summary, "count": f.count, "customers": f.customers,
                             "examples": list(f.examples or [])[:5],
                             "department": r.department if r else None,
                             "confidence": round(r.confidence, 3) if r else None, "reason": r.reason if r else None})
        calls = list(s.execute(select(TopicAssignmentRow.interaction_id, InteractionRow.external_id,
                                      TopicAssignmentRow.business_date, TopicAssignmentRow.similarity)
                               .join(InteractionRow, InteractionRow.id == TopicAssignmentRow.interaction_id)
                               .where(TopicAssignmentRow.topic_id == topic_id)
                               .order_by(TopicAssignmentRow.business_date.desc(), TopicAssignmentRow.similarity.desc())
                               .limit(20)))
        route = _routes_by_topic(s).get(topic_id)
        return {
            "id": t.id, "label": t.label, "keywords": list(t.keywords or []), "size": t.size, "status": t.status,
            "merged_into": t.merged_into, "created_on": _iso(t.created_on), "last_seen": _iso(t.last_seen),
            "examples": list(t.examples or []), "route": route,
            "daily": [{"date": _iso(d), "count": n} for d, n in fill_days(daily)],
            "findings": findings,
            "interactions": [{"id": i, "external_id": e, "business_date": _iso(d), "similarity": round(sim, 3)}
                             for i, e, d, sim in calls],
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


def digest_file(exports_dir: Path, user: User, date: str, department: str | None) -> Path:
    """The digest HTML for a date (overview, or one department). Names are checked, and the resolved
    path must stay inside ``exports_dir``: no traversal, no symlinks out."""
    if not DATE_DIR.match(date):
        raise NotVisible(f"{date!r} is not a digest date (YYYY-MM-DD)")
    if department is not None and not DEPT_NAME.match(department):
        raise NotVisible(f"{department!r} is not a department name")
    if (department is not None and user.role == "department_owner" and user.department
            and department != user.department):
        raise NotVisible(f"digest of {department} is not yours", forbidden=True)
    root = Path(exports_dir).resolve()
    rel = Path(date) / ("overview.html" if department is None else f"departments/{department}.html")
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotVisible(f"no digest {rel}")
    return path
