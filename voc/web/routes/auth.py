"""Login, logout, the home redirect and ``/api/me``."""

import datetime as dt
import logging
import math
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from voc.web.deps import ApiUser, PageUser, Web, csrf_ok, page
from voc.web.users import User

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()


def _safe_next(value: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _landing(user: User) -> str:
    return "/queue" if user.can_review() else "/findings"


@router.get("/", include_in_schema=False)
def home(user: PageUser):
    return RedirectResponse(_landing(user), status_code=303)


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/"):
    return page(request, "login.html.j2", {"next": _safe_next(next), "error": None})


@router.post("/login", include_in_schema=False)
async def login(request: Request, web: Web):
    form = await request.form()
    nxt = _safe_next(str(form.get("next") or "/"))
    if not csrf_ok(request, form.get("csrf_token")):
        return page(request, "login.html.j2", {"next": nxt, "error": "the form expired; try again"}, status_code=403)
    name = str(form.get("username") or "")[:64]
    address = request.client.host if request.client else "unknown"
    now = dt.datetime.now(dt.UTC)
    # The attempt is counted (atomically, in the database) before the password is checked: concurrent guesses
    # cannot all slip through while the count is still low.
    wait = await run_in_threadpool(web.throttle.reserve, name, address, now)
    if wait:
        response = page(request, "login.html.j2", {"next": nxt, "error": "too many failed logins; wait a few minutes"},
                        status_code=429)
        response.headers["retry-after"] = str(max(1, math.ceil(wait)))
        return response
    # scrypt takes tens of milliseconds: keep it off the event loop
    user = await run_in_threadpool(web.users.authenticate, name, str(form.get("password") or ""))
    if user is None:
        log.info("failed login for %r from %s", name, address)
        return page(request, "login.html.j2", {"next": nxt, "error": "wrong user name or password"}, status_code=401)
    await run_in_threadpool(web.throttle.succeeded, name, address, now)
    request.session.clear()  # a fresh session (and CSRF token) on login
    request.session.update(user=user.name, pw=user.password_tag, csrf=secrets.token_urlsafe(24))
    return RedirectResponse(nxt if nxt != "/" else _landing(user), status_code=303)


@router.post("/logout", include_in_schema=False)
async def logout(request: Request):
    form = await request.form()
    if csrf_ok(request, form.get("csrf_token")):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/api/me", tags=["auth"])
def api_me(user: ApiUser) -> dict[str, Any]:
    return {"name": user.name, "role": user.role, "department": user.department}
