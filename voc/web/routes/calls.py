"""The call page (transcript, QA evidence, review forms), its JSON and its recording."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import ValidationError

from voc.store import web_views
from voc.store.review import ReviewError
from voc.web import actions, views
from voc.web.deps import ApiUser, PageUser, Web, csrf_ok, flash, forbidden_page, page
from voc.web.views import NotVisible

__all__ = ["router"]

AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac",
               ".m4a": "audio/mp4", ".opus": "audio/ogg"}

router = APIRouter()


@router.get("/calls/{interaction_id}", include_in_schema=False)
def call_page(request: Request, interaction_id: str, user: PageUser, web: Web):
    if not web.store.interactions(ids=[interaction_id]):  # the visible id (C009, a chat's own id) works too
        found = web.store.resolve_ids([interaction_id])
        if len(found) == 1:
            return RedirectResponse(f"/calls/{found[0]}", status_code=303)
    detail = views.call_detail(web.store, web.settings, user, interaction_id)
    nxt = web_views.next_open_item(web.store, after=detail["review"]["id"] if detail["review"] else None)
    return page(request, "call.html.j2", {"c": detail, "next_call": nxt.interaction_id if nxt else None})


@router.post("/calls/{interaction_id}/action", include_in_schema=False)
async def call_action(request: Request, interaction_id: str, user: PageUser, web: Web):
    form = await request.form()
    if not csrf_ok(request, form.get("csrf_token")):
        return forbidden_page(request, "the form expired (CSRF token missing or wrong); reload and try again")
    detail = views.call_detail(web.store, web.settings, user, interaction_id)
    review = detail["review"]
    if review is None:
        return forbidden_page(request, "this call is not in the review queue")
    action = str(form.get("action") or "")
    data = {k: v for k, v in form.items() if k not in ("csrf_token", "action") and str(v).strip() != ""}
    try:
        done = actions.act(web, user, review["id"], action, data)
    except ValidationError as exc:
        flash(request, "; ".join(f"{'.'.join(str(x) for x in e['loc']) or action}: {e['msg']}"
                                 for e in exc.errors()), "error")
    except (ReviewError, HTTPException, NotVisible) as exc:
        flash(request, getattr(exc, "detail", None) or str(exc), "error")
    else:
        label = detail["interaction"]["external_id"] or interaction_id
        if action == "resolve":  # on to the next open item, highest priority first
            nxt = web_views.next_open_item(web.store, after=review["id"])
            flash(request, f"{label}: {done}" + ("; this is the next open item" if nxt else "; the queue is empty"))
            return RedirectResponse(f"/calls/{nxt.interaction_id}" if nxt else "/queue", status_code=303)
        flash(request, done)
    return RedirectResponse(f"/calls/{interaction_id}", status_code=303)


@router.get("/api/calls/{interaction_id}", tags=["calls"])
def api_call(interaction_id: str, user: ApiUser, web: Web) -> dict[str, Any]:
    """A call (or text contact): redacted transcript, QA rules with evidence, sentiment, review state."""
    return views.call_detail(web.store, web.settings, user, interaction_id)


@router.get("/api/calls/{interaction_id}/audio", tags=["calls"])
def api_audio(interaction_id: str, user: ApiUser, web: Web):
    """The call's recording; HTTP Range requests are honoured (seeking in the player)."""
    path = views.audio_path(web.store, user, interaction_id, roots=[web.settings.inbox])
    return FileResponse(path, media_type=_audio_type(path), headers={"cache-control": "private, max-age=300"})


def _audio_type(path: Path) -> str:
    return AUDIO_TYPES.get(path.suffix.lower(), "application/octet-stream")
