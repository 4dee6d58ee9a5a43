"""The archive of department digests under ``exports_dir``, served read-only in a sandbox."""

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from voc.web import views
from voc.web.deps import ApiUser, PageUser, Web, page
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
    if not name.endswith(".html"):
        raise NotVisible(f"no digest {name}")
    return _digest_response(views.digest_file(web.exports_dir, user, date, name.removesuffix(".html")))


@router.get("/api/digests", tags=["digests"])
def api_digests(user: ApiUser, web: Web) -> dict[str, Any]:
    return {"dates": views.digest_dates(web.exports_dir, user)}


def _digest_response(path: Path) -> FileResponse:
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"content-security-policy": DIGEST_CSP})
