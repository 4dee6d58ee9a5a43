"""Read model: what the sentiment stage has stored, summarised for ``voc status`` (trajectories, escalations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from voc.store.schema import CallSentimentRow, InteractionRow

if TYPE_CHECKING:
    from voc.store.repo import Store

# CallSentiment.trajectory values -> the words `voc status` reports.
TRAJECTORY_NAMES = {"improving": "improved", "worsening": "worsened", "stable": "flat"}
MAX_LISTED = 10


def sentiment_overview(store: Store, negative_threshold: float = -0.35, max_listed: int = MAX_LISTED) -> dict[str, Any]:
    """Counts over the stored call sentiments (one query each, no per-row work in Python beyond the list).

    Returns ``{"calls": {"scored", "improved", "worsened", "flat", "escalations"},
    "texts": {"scored", "negative", "escalations"}, "scorers": {name: n}, "escalated_calls": [...]}``;
    a text counts as negative when its score is below ``negative_threshold`` (``sentiment.negative_threshold``);
    ``escalated_calls`` holds up to ``max_listed`` escalated calls, most negative first, with their reasons.
    """
    is_call = InteractionRow.channel == "call"
    calls = {"scored": 0, "improved": 0, "worsened": 0, "flat": 0, "escalations": 0}
    texts = {"scored": 0, "negative": 0, "escalations": 0}
    scorers: dict[str, int] = {}
    with store.db.session() as s:
        joined = select(CallSentimentRow).join(InteractionRow, InteractionRow.id == CallSentimentRow.interaction_id)
        base = joined.with_only_columns(
            InteractionRow.channel, CallSentimentRow.trajectory, CallSentimentRow.escalation, func.count()
        ).group_by(InteractionRow.channel, CallSentimentRow.trajectory, CallSentimentRow.escalation)
        for channel, trajectory, escalation, n in s.execute(base):
            call = channel == "call"
            bucket = calls if call else texts
            bucket["scored"] += n
            bucket["escalations"] += n if escalation else 0
            if call:
                name = TRAJECTORY_NAMES.get(trajectory, trajectory)
                calls[name] = calls.get(name, 0) + n
        texts["negative"] = s.scalar(
            joined.with_only_columns(func.count()).where(~is_call, CallSentimentRow.score < negative_threshold)
        ) or 0
        for name, n in s.execute(
            select(CallSentimentRow.scorer, func.count()).group_by(CallSentimentRow.scorer)
        ):
            scorers[name] = n
        listed = s.execute(
            joined.with_only_columns(
                CallSentimentRow.interaction_id, InteractionRow.external_id, CallSentimentRow.score,
                CallSentimentRow.trajectory, CallSentimentRow.reasons,
            ).where(is_call, CallSentimentRow.escalation.is_(True))
            .order_by(CallSentimentRow.score, CallSentimentRow.interaction_id).limit(max_listed)
        ).all()
    escalated = [
        {"id": iid, "external_id": ext, "score": round(float(score), 4),
         "trajectory": TRAJECTORY_NAMES.get(traj, traj), "reasons": list(reasons or [])}
        for iid, ext, score, traj, reasons in listed
    ]
    return {"calls": calls, "texts": texts, "scorers": scorers, "escalated_calls": escalated}
