"""Pipeline runs and their stages (reviewers and supervisors)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from voc.web import views
from voc.web.deps import PageUser, Reviewer, Web, forbidden_page, page

__all__ = ["router"]

router = APIRouter()


@router.get("/runs", include_in_schema=False)
def runs_page(request: Request, user: PageUser, web: Web):
    if not user.can_review():
        return forbidden_page(request, "department owners see topics and digests only")
    runs = views.runs_summary(web.store.runs(limit=50), web.settings.timezone)
    return page(request, "runs.html.j2", {"runs": runs, "tz": web.settings.timezone})


@router.get("/api/runs", tags=["runs"])
def api_runs(user: Reviewer, web: Web, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    return {"runs": web.store.runs(limit=limit)}
