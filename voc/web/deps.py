"""What every router shares: the app's context, the auth dependencies, CSRF checks and page rendering.

Auth: a signed session cookie (pages, and the API from the same browser with an ``X-CSRF-Token``
header on writes) or ``Authorization: Bearer <token>`` (scripts; no CSRF needed).
"""

import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from voc.config import Settings
from voc.store import Store
from voc.store.review import ReviewQueue
from voc.web.users import LoginThrottle, User, Users

__all__ = [
    "CSRF_HEADER", "SAFE_METHODS", "ApiUser", "AuthRequired", "PageUser", "Reviewer", "Supervisor", "Web",
    "WebContext", "api_user", "check_reviewer", "csrf_ok", "csrf_token", "flash", "forbidden_page", "page",
    "page_user", "session_user", "web_of",
]

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"


@dataclass
class WebContext:
    """What :func:`voc.web.app.create_app` builds once and the handlers use (``app.state.web``)."""

    settings: Settings
    store: Store
    users: Users
    queue: ReviewQueue
    templates: Jinja2Templates
    exports_dir: Path
    throttle: LoginThrottle  # failed-login counters in the database (shared by every worker)


class AuthRequired(Exception):
    """A page needs a login: redirect there."""


def web_of(request: Request) -> WebContext:
    return request.app.state.web


Web = Annotated[WebContext, Depends(web_of)]


# ---- auth ---------------------------------------------------------------------------------------
def session_user(request: Request) -> User | None:
    name = request.session.get("user")
    if not name:
        return None
    user = web_of(request).users.get(name)
    if user is None or not user.active or user.password_tag != request.session.get("pw"):
        request.session.clear()
        return None
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(request: Request, given: Any) -> bool:
    want = request.session.get("csrf")
    return bool(want and given and hmac.compare_digest(str(want), str(given)))


def api_user(request: Request) -> User:
    authz = request.headers.get("authorization")
    if authz:
        scheme, _, token = authz.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "use 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
        user = web_of(request).users.by_token(token.strip())
        if user is None:
            raise HTTPException(401, "invalid or revoked API token", headers={"WWW-Authenticate": "Bearer"})
        return user
    user = session_user(request)
    if user is None:
        raise HTTPException(401, "not logged in: log in at /login or send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "missing or wrong X-CSRF-Token header (needed with session cookies)")
    return user


def check_reviewer(user: User) -> None:
    if not user.can_review():
        raise HTTPException(403, "only reviewers and supervisors work the review queue")


def reviewer(user: Annotated[User, Depends(api_user)]) -> User:
    check_reviewer(user)
    return user


def supervisor(user: Annotated[User, Depends(api_user)]) -> User:
    if user.role != "supervisor":
        raise HTTPException(403, "only supervisors do this")
    return user


def page_user(request: Request) -> User:
    user = session_user(request)
    if user is None:
        raise AuthRequired()
    return user


ApiUser = Annotated[User, Depends(api_user)]
Reviewer = Annotated[User, Depends(reviewer)]
Supervisor = Annotated[User, Depends(supervisor)]
PageUser = Annotated[User, Depends(page_user)]


# ---- pages --------------------------------------------------------------------------------------
def page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a template with what every page needs: the user, the CSRF token, pending flashes, the path."""
    user = session_user(request)
    flashes = request.session.pop("flash", []) if "flash" in request.session else []
    base = {"user": user, "csrf": csrf_token(request), "flashes": flashes, "path": request.url.path}
    return web_of(request).templates.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def flash(request: Request, text: str, kind: str = "info") -> None:
    request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]


def forbidden_page(request: Request, message: str) -> HTMLResponse:
    return page(request, "error.html.j2", {"code": 403, "message": message}, status_code=403)
