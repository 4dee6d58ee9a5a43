"""Login, logout, the home redirect and ``/api/me``."""

import logging
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from voc.web.deps import ApiUser, PageUser, Web, csrf_ok, page
from voc.web.users import User

__all__ = ["LOGIN_MAX_FAILURES", "LOGIN_WINDOW_S", "router"]

log = logging.getLogger(__name__)
LOGIN_MAX_FAILURES, LOGIN_WINDOW_S = 5, 300.0

router = APIRouter()


def _safe_next(value: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _landing(user: User) -> str:
    return "/queue" if user.can_review() else "/topics"


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
    failures = web.login_failures
    now = time.monotonic()
    recent = [t for t in failures.get(name, []) if now - t < LOGIN_WINDOW_S]
    if len(recent) >= LOGIN_MAX_FAILURES:
        return page(request, "login.html.j2", {"next": nxt, "error": "too many failed logins; wait a few minutes"},
                    status_code=429)
    # scrypt takes tens of milliseconds: keep it off the event loop
    user = await run_in_threadpool(web.users.authenticate, name, str(form.get("password") or ""))
    if user is None:
        if len(failures) > 10_000:  # bounded: a flood of made-up names cannot grow it without end
            failures.clear()
        failures[name] = [*recent, now]
        log.info("failed login for %r", name)
        return page(request, "login.html.j2", {"next": nxt, "error": "wrong user name or password"}, status_code=401)
    failures.pop(name, None)
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
