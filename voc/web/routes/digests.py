"""The archive of department digests under ``exports_dir``, served read-only in a sandbox."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from voc.web import views
from voc.web.deps import ApiUser, PageUser, Web, page
from voc.web.linking import digest_fragment, id_tokens, linker
from voc.web.views import NotVisible

__all__ = ["DIGEST_CSP", "router"]

# Digests are generated HTML: no scripts, no requests out, not even same-origin.
DIGEST_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

router = APIRouter()


@router.get("/digests", include_in_schema=False)
def digests_page(request: Request, user: PageUser, web: Web):
    return page(request, "digests.html.j2", {"dates": views.digest_dates(web.exports_dir, user)})


@router.get("/digests/{date}/overview.html", include_in_schema=False)
def digest_overview(date: str, user: PageUser, web: Web):
    return _digest_response(views.digest_file(web.exports_dir, user, date, None))


@router.get("/digests/{date}/departments/{name}", include_in_schema=False)
def digest_department(date: str, name: str, user: PageUser, web: Web):
    if name.endswith("_outreach.csv"):  # the outreach list a department digest links to
        path = views.digest_file(web.exports_dir, user, date, name.removesuffix("_outreach.csv"), "_outreach.csv")
        return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{date}_{name}")
    if not name.endswith(".html"):
        raise NotVisible(f"no digest {name}")
    return _digest_response(views.digest_file(web.exports_dir, user, date, name.removesuffix(".html")))


@router.get("/digests/{date}/view", include_in_schema=False)
def digest_overview_page(request: Request, date: str, user: PageUser, web: Web):
    """The overview inside the app: its navigation, ids linked to their pages."""
    return _in_app(request, user, web, date, None)


@router.get("/digests/{date}/view/{department}", include_in_schema=False)
def digest_department_page(request: Request, date: str, department: str, user: PageUser, web: Web):
    return _in_app(request, user, web, date, department)


def _in_app(request: Request, user, web, date: str, department: str | None):
    raw = views.digest_file(web.exports_dir, user, date, department).read_text(encoding="utf-8", errors="replace")
    body = digest_fragment(raw, linker(web.store, user, id_tokens(raw), date=date))
    raw_url = f"/digests/{date}/" + ("overview.html" if department is None else f"departments/{department}.html")
    return page(request, "digest.html.j2", {"date": date, "department": department, "body": body, "raw_url": raw_url})


@router.get("/api/digests", tags=["digests"])
def api_digests(user: ApiUser, web: Web) -> dict[str, Any]:
    return {"dates": views.digest_dates(web.exports_dir, user)}


def _digest_response(path: Path) -> FileResponse:
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"content-security-policy": DIGEST_CSP})
