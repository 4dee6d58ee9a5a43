"""The FastAPI app: login, review queue, call page, topics, runs, digest archive, and the JSON API.

:func:`create_app` builds what the handlers share (:class:`voc.web.deps.WebContext`), the middleware and
the error pages, and includes one router per page group (:mod:`voc.web.routes`). Auth and CSRF are in
:mod:`voc.web.deps`; queue actions go through :class:`voc.store.review.ReviewQueue`
(:mod:`voc.web.actions`); :mod:`voc.web.views` decides what a user may see.
"""

import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware

from voc.config import Settings
from voc.labels import kind_label
from voc.store import Store
from voc.store.review import ReviewError, ReviewQueue
from voc.web.deps import AuthRequired, WebContext, page
from voc.web.routes import ROUTERS
from voc.web.users import LoginThrottle, Users
from voc.web.views import NotVisible, human_time

__all__ = ["PAGE_CSP", "SecurityHeaders", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


# ---- security headers (pure ASGI: cheap on every request) ------------------------------------
class SecurityHeaders:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("x-content-type-options", "nosniff")
                h.setdefault("x-frame-options", "DENY")
                h.setdefault("referrer-policy", "same-origin")
                h.setdefault("content-security-policy", PAGE_CSP)
                h.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _secret(settings: Settings) -> str:
    if settings.web.secret_key is not None and settings.web.secret_key.get_secret_value():
        return settings.web.secret_key.get_secret_value()
    log.warning("web.secret_key is not set: using a random key, so every login ends when the server restarts "
                "(set VOC_WEB__SECRET_KEY or web.secret_key in voc.yaml)")
    return secrets.token_urlsafe(32)


# ---- errors -------------------------------------------------------------------------------------
async def _to_login(request: Request, _exc: AuthRequired):
    return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)


async def _not_visible(request: Request, exc: NotVisible):
    code = 403 if exc.forbidden else 404
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=code)
    return page(request, "error.html.j2", {"code": code, "message": str(exc)}, status_code=code)


async def _review_error(request: Request, exc: ReviewError):
    code = 404 if "does not exist" in str(exc) else 409
    return JSONResponse({"detail": str(exc)}, status_code=code)


# ---- the app ------------------------------------------------------------------------------------
def _context(settings: Settings, store: Store) -> WebContext:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["localtime"] = lambda value: human_time(value, settings.timezone)  # ISO -> settings.timezone
    env.filters["kind"] = kind_label  # finding kinds in the digests' words (voc.labels)
    return WebContext(settings=settings, store=store, users=Users(store.db),
                      queue=ReviewQueue(store.db, settings.qa.claim_lease_minutes),
                      templates=Jinja2Templates(env=env), exports_dir=Path(settings.exports_dir),
                      throttle=LoginThrottle(store.db, settings.web))


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The web app over ``store`` (default: ``Store.open(settings.db_url)``, closed on shutdown)."""
    own_store = store is None
    store = store or Store.open(settings.db_url)
    web = _context(settings, store)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        if own_store:
            store.close()

    app = FastAPI(title="voc", version="0.1.0", openapi_url="/openapi.json", docs_url="/api/docs", redoc_url=None,
                  lifespan=lifespan,
                  description="QA review queue, calls, topics, runs and digests of the voc store. Authenticate with "
                              "`Authorization: Bearer <token>` (`voc users token NAME`) or a browser session.")
    app.add_middleware(SessionMiddleware, secret_key=_secret(settings), session_cookie="voc_session",
                       max_age=settings.web.session_max_age_s, same_site="lax",
                       https_only=settings.web.secure_cookies)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.web = web
    app.state.store, app.state.users, app.state.queue = store, web.users, web.queue
    app.add_exception_handler(AuthRequired, _to_login)
    app.add_exception_handler(NotVisible, _not_visible)
    app.add_exception_handler(ReviewError, _review_error)
    for router in ROUTERS:
        app.include_router(router)
    return app
