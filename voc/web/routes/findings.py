"""Findings: the department owner's inbox, one finding (contacts, outreach list), confirm / re-route, outreach CSV."""

import datetime as dt
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from voc.web import owner
from voc.web.deps import ApiUser, PageUser, Web, csrf_ok, flash, forbidden_page, page
from voc.web.linking import id_tokens, link_parts, linker

__all__ = ["router"]

router = APIRouter()
Day = Annotated[dt.date | None, Query(alias="date")]
Dept = Annotated[str | None, Query(max_length=64)]


class RouteIn(BaseModel):
    model_config = {"extra": "forbid"}
    department: str = Field(..., min_length=1, max_length=64, description="department id that owns the finding")
    reason: str | None = Field(None, max_length=2000, description="why (required when the department changes)")


# ---- pages --------------------------------------------------------------------------------------
@router.get("/findings", include_in_schema=False)
def findings_page(request: Request, user: PageUser, web: Web, day: Day = None, department: Dept = None):
    inbox = owner.findings_inbox(web.store, web.settings, user, day, department or None)
    return page(request, "findings.html.j2", {"inbox": inbox, "can_route": owner.can_route(user)})


@router.get("/findings/{finding_id}", include_in_schema=False)
def finding_page(request: Request, finding_id: str, user: PageUser, web: Web):
    f = owner.finding_detail(web.store, web.settings, user, finding_id)
    texts = " ".join([f["reason"] or "", f["summary"], *(c["visible_id"] for c in f["contacts"])])
    href = linker(web.store, user, id_tokens(texts))
    return page(request, "finding.html.j2", {
        "f": f, "can_route": owner.can_route(user), "departments": owner.department_names(web.settings),
        "reason_parts": link_parts(f["reason"] or "", href), "summary_parts": link_parts(f["summary"], href)})


@router.post("/findings/{finding_id}/route", include_in_schema=False)
async def route_form(request: Request, finding_id: str, user: PageUser, web: Web):
    form = await request.form()
    if not csrf_ok(request, form.get("csrf_token")):
        return forbidden_page(request, "the form expired (CSRF token missing or wrong); reload and try again")
    department = str(form.get("department") or "").strip()
    try:
        r = owner.reroute(web.store, web.settings, user, finding_id, department, str(form.get("reason") or ""))
    except owner.RerouteError as exc:
        flash(request, str(exc), "error")
        return RedirectResponse(f"/findings/{quote(finding_id)}", status_code=303)
    flash(request, f"{finding_id} → {r.department} ({r.reason})")
    if user.role == "department_owner" and r.department != user.department:
        return RedirectResponse("/findings", status_code=303)  # no longer hers: back to the inbox
    return RedirectResponse(f"/findings/{quote(finding_id)}", status_code=303)


@router.get("/findings/{finding_id}/outreach.csv", include_in_schema=False)
def outreach_download(finding_id: str, user: PageUser, web: Web):
    return _csv(owner.finding_detail(web.store, web.settings, user, finding_id))


# ---- JSON API -----------------------------------------------------------------------------------
@router.get("/api/findings", tags=["findings"])
def api_findings(user: ApiUser, web: Web, day: Day = None, department: Dept = None) -> dict[str, Any]:
    """A date's findings (default: the latest) with their routes; department owners get their department's only."""
    return owner.findings_inbox(web.store, web.settings, user, day, department or None)


@router.get("/api/findings/{finding_id}", tags=["findings"])
def api_finding(finding_id: str, user: ApiUser, web: Web) -> dict[str, Any]:
    """One finding with its route, member contacts (visible ids, text previews) and its outreach list."""
    return owner.finding_detail(web.store, web.settings, user, finding_id)


@router.post("/api/findings/{finding_id}/route", tags=["findings"])
def api_route(finding_id: str, body: RouteIn, user: ApiUser, web: Web) -> dict[str, Any]:
    """Confirm (same department) or re-route (another one, with a reason) a finding, as `voc findings confirm`
    does: route memory and the router's training examples learn from it."""
    try:
        r = owner.reroute(web.store, web.settings, user, finding_id, body.department, body.reason)
    except owner.RerouteError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"finding_id": r.finding_id, "department": r.department, "confidence": r.confidence, "reason": r.reason}


@router.get("/api/findings/{finding_id}/outreach.csv", tags=["findings"])
def api_outreach_csv(finding_id: str, user: ApiUser, web: Web):
    """The finding's outreach list as CSV (UTF-8 with BOM, spreadsheet-safe cells)."""
    return _csv(owner.finding_detail(web.store, web.settings, user, finding_id))


def _csv(f: dict[str, Any]) -> Response:
    if f["outreach"] is None:
        raise HTTPException(404, f"finding {f['id']} has no topic, so no outreach list")
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"outreach_{f['topic_id'] or 'finding'}_{f['run_date']}.csv")
    return Response(owner.outreach_csv(f["outreach"]), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})
