"""Review queue actions, one set of rules for the JSON API and the call page's form.

Each action checks the role and what the user may see (:mod:`voc.web.views`), then goes through
:class:`voc.store.review.ReviewQueue`, whose :class:`~voc.store.review.ReviewError` says why a state forbids it.
"""

from typing import Any

from fastapi import HTTPException
from pydantic import BaseModel, Field, field_validator, model_validator

from voc.store.review import ReviewItem
from voc.web import views
from voc.web.deps import WebContext, check_reviewer
from voc.web.users import User

__all__ = [
    "AppealIn", "DecideIn", "OverrideIn", "ResolveIn", "act", "appeal", "claim", "decide", "override", "release",
    "resolve",
]


# ---- request bodies ---------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = {"extra": "forbid"}


class OverrideIn(_Body):
    score_override: float | None = Field(None, ge=0, le=100, description="the reviewer's score, 0-100")
    comment: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _something(self) -> "OverrideIn":
        if self.score_override is None and not (self.comment or "").strip():
            raise ValueError("give score_override, comment or both")
        return self


class ResolveIn(_Body):
    score_override: float | None = Field(None, ge=0, le=100, description="default: the override already recorded")
    comment: str | None = Field(None, max_length=4000)


class AppealIn(_Body):
    reason: str = Field(..., min_length=1, max_length=4000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("an appeal needs a reason")
        return v.strip()


class DecideIn(_Body):
    score_override: float | None = Field(None, ge=0, le=100)
    comment: str | None = Field(None, max_length=4000)


# ---- actions ------------------------------------------------------------------------------------
def claim(web: WebContext, user: User, item_id: int) -> ReviewItem:
    check_reviewer(user)
    views.check_item_visible(web.store, user, item_id)
    return web.queue.claim(item_id, user.name)


def release(web: WebContext, user: User, item_id: int) -> ReviewItem:
    check_reviewer(user)
    views.check_item_visible(web.store, user, item_id)
    return web.queue.release(item_id, user.name)


def override(web: WebContext, user: User, item_id: int, body: OverrideIn) -> ReviewItem:
    check_reviewer(user)
    views.check_item_visible(web.store, user, item_id)
    return web.queue.annotate(item_id, user.name, score_override=body.score_override,
                              comment=body.comment.strip() if body.comment else None)


def resolve(web: WebContext, user: User, item_id: int, body: ResolveIn) -> ReviewItem:
    check_reviewer(user)
    row = views.check_item_visible(web.store, user, item_id)
    # resolve() writes both fields: keep what an earlier override recorded unless this call says otherwise
    score = body.score_override if body.score_override is not None else row.score_override
    comment = body.comment.strip() if body.comment and body.comment.strip() else row.comment
    return web.queue.resolve(item_id, user.name, score_override=score, comment=comment)


def appeal(web: WebContext, user: User, item_id: int, body: AppealIn) -> ReviewItem:
    check_reviewer(user)
    views.check_item_visible(web.store, user, item_id)
    return web.queue.appeal(item_id, user.name, body.reason)


def decide(web: WebContext, user: User, item_id: int, body: DecideIn) -> ReviewItem:
    """Supervisors only; the caller checks the role (the API by dependency, the form in :func:`act`)."""
    return web.queue.decide_appeal(item_id, user.name, score_override=body.score_override,
                                   comment=body.comment.strip() if body.comment else None)


def act(web: WebContext, user: User, item_id: int, action: str, data: dict[str, Any]) -> str:
    """One queue action from the call page's form, through the same rules as the API; returns the flash text."""
    if action == "claim":
        claim(web, user, item_id)
        return "claimed"
    if action == "release":
        release(web, user, item_id)
        return "released back to the queue"
    if action == "override":
        override(web, user, item_id, OverrideIn.model_validate(data))
        return "override saved"
    if action == "resolve":
        resolve(web, user, item_id, ResolveIn.model_validate(data))
        return "resolved"
    if action == "appeal":
        appeal(web, user, item_id, AppealIn.model_validate(data))
        return "appeal filed"
    if action == "decide":
        if user.role != "supervisor":
            raise HTTPException(403, "only supervisors decide appeals")
        decide(web, user, item_id, DecideIn.model_validate(data))
        return "appeal decided"
    raise HTTPException(400, f"unknown action {action!r}")
