"""The review queue: its page (filters, claim buttons) and the queue part of the JSON API."""

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from voc.config import Settings
from voc.store.review import ReviewError
from voc.web import actions, views
from voc.web.actions import AppealIn, DecideIn, OverrideIn, ResolveIn
from voc.web.deps import PageUser, Reviewer, Supervisor, Web, csrf_ok, flash, forbidden_page, page
from voc.web.views import QueueFilter

__all__ = ["router"]

STATUSES = Literal["open", "claimed", "resolved", "appealed", "closed"]
SENTIMENTS = Literal["negative", "neutral", "positive"]
QueueName = Annotated[str | None, Query(alias="queue", max_length=64)]

router = APIRouter()


# ---- pages --------------------------------------------------------------------------------------
@router.get("/queue", include_in_schema=False)
def queue_page(request: Request, user: PageUser, web: Web):
    if not user.can_review():
        return forbidden_page(request, "department owners see topics and digests only")
    raw = dict(request.query_params)
    try:
        f = _filter_from(raw, web.settings)
        error = None
    except (ValueError, ValidationError) as exc:
        f, error = QueueFilter(limit=web.settings.web.page_size), f"filter ignored: {exc}"
    items = views.queue_items(web.store, web.settings, user, f)
    return page(request, "queue.html.j2", {"items": items, "f": raw, "error": error,
                                           "choices": views.queue_choices(web.store)})


@router.post("/queue/{item_id}/claim", include_in_schema=False)
async def claim_page(request: Request, item_id: int, user: PageUser, web: Web):
    form = await request.form()
    if not csrf_ok(request, form.get("csrf_token")):
        return forbidden_page(request, "the form expired (CSRF token missing or wrong); reload and try again")
    if not user.can_review():
        return forbidden_page(request, "only reviewers and supervisors claim calls")
    row = views.check_item_visible(web.store, user, item_id)
    try:
        web.queue.claim(item_id, user.name)
        flash(request, f"claimed item {item_id}")
    except ReviewError as exc:
        flash(request, str(exc), "error")
    return RedirectResponse(f"/calls/{row.interaction_id}", status_code=303)


def _filter_from(raw: dict[str, str], settings: Settings) -> QueueFilter:
    """The queue page's filter form (empty fields = no filter)."""

    def num(key: str) -> float | None:
        v = raw.get(key, "").strip()
        if not v:
            return None
        x = float(v)
        if not 0 <= x <= 100:
            raise ValueError(f"{key} must be between 0 and 100")
        return x

    def day(key: str) -> dt.date | None:
        v = raw.get(key, "").strip()
        return dt.date.fromisoformat(v) if v else None

    status = raw.get("status") or None
    if status and status not in ("open", "claimed", "resolved", "appealed", "closed"):
        raise ValueError(f"unknown status {status!r}")
    sentiment = raw.get("sentiment") or None
    if sentiment and sentiment not in ("negative", "neutral", "positive"):
        raise ValueError(f"unknown sentiment {sentiment!r}")
    return QueueFilter(queue=raw.get("queue") or None, reason=raw.get("reason") or None, status=status,
                       score_min=num("score_min"), score_max=num("score_max"), sentiment=sentiment,
                       date_from=day("date_from"), date_to=day("date_to"), mine=raw.get("mine") == "1",
                       limit=settings.web.page_size)


# ---- JSON API -----------------------------------------------------------------------------------
@router.get("/api/queue", tags=["queue"])
def api_queue(
    user: Reviewer,
    web: Web,
    queue_name: QueueName = None,
    reason: Annotated[str | None, Query(max_length=64)] = None,
    status: STATUSES | None = None,
    score_min: Annotated[float | None, Query(ge=0, le=100)] = None,
    score_max: Annotated[float | None, Query(ge=0, le=100)] = None,
    sentiment: SENTIMENTS | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> dict[str, Any]:
    """Review items you may see (reviewers: open ones and your own), highest priority first."""
    if score_min is not None and score_max is not None and score_min > score_max:
        raise HTTPException(422, "score_min is above score_max")
    if date_from and date_to and date_from > date_to:
        raise HTTPException(422, "date_from is after date_to")
    f = QueueFilter(queue=queue_name, reason=reason, status=status, score_min=score_min, score_max=score_max,
                    sentiment=sentiment, date_from=date_from, date_to=date_to, mine=mine, limit=limit)
    items = views.queue_items(web.store, web.settings, user, f)
    return {"count": len(items), "items": items}


@router.get("/api/queue/{item_id}", tags=["queue"])
def api_item(item_id: int, user: Reviewer, web: Web) -> dict[str, Any]:
    return views.review_dict(views.check_item_visible(web.store, user, item_id))


@router.post("/api/queue/claim-next", tags=["queue"])
def api_claim_next(user: Reviewer, web: Web, queue_name: QueueName = None):
    """Claim the highest-priority open item (204 when the queue is empty)."""
    item = web.queue.claim_next(user.name, queue_name)
    if item is None:
        return Response(status_code=204)
    return views.review_dict(item)


@router.post("/api/queue/{item_id}/claim", tags=["queue"])
def api_claim(item_id: int, user: Reviewer, web: Web) -> dict[str, Any]:
    return views.review_dict(actions.claim(web, user, item_id))


@router.post("/api/queue/{item_id}/release", tags=["queue"])
def api_release(item_id: int, user: Reviewer, web: Web) -> dict[str, Any]:
    return views.review_dict(actions.release(web, user, item_id))


@router.post("/api/queue/{item_id}/override", tags=["queue"])
def api_override(item_id: int, body: OverrideIn, user: Reviewer, web: Web) -> dict[str, Any]:
    """Record a score override and/or comment on your claimed item."""
    return views.review_dict(actions.override(web, user, item_id, body))


@router.post("/api/queue/{item_id}/resolve", tags=["queue"])
def api_resolve(item_id: int, body: ResolveIn, user: Reviewer, web: Web) -> dict[str, Any]:
    return views.review_dict(actions.resolve(web, user, item_id, body))


@router.post("/api/queue/{item_id}/appeal", tags=["queue"])
def api_appeal(item_id: int, body: AppealIn, user: Reviewer, web: Web) -> dict[str, Any]:
    """Appeal a resolved item (a supervisor decides it)."""
    return views.review_dict(actions.appeal(web, user, item_id, body))


@router.post("/api/queue/{item_id}/decide", tags=["queue"])
def api_decide(item_id: int, body: DecideIn, user: Supervisor, web: Web) -> dict[str, Any]:
    """Supervisors: close an appealed item, optionally with a new score."""
    return views.review_dict(actions.decide(web, user, item_id, body))
