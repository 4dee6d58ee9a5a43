"""The FastAPI app: login, review queue, call page, topics, runs, digest archive, and the JSON API.

Auth: a signed session cookie (pages, and the API from the same browser with an ``X-CSRF-Token``
header on writes) or ``Authorization: Bearer <token>`` (scripts; no CSRF needed). Queue actions go
through :class:`voc.store.review.ReviewQueue`; :mod:`voc.web.views` decides what a user may see.
"""

import datetime as dt
import hmac
import logging
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import jinja2
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware

from voc.config import Settings
from voc.store import Store
from voc.store.review import ReviewError, ReviewQueue
from voc.web import views
from voc.web.users import User, Users
from voc.web.views import NotVisible, QueueFilter

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"
STATUSES = Literal["open", "claimed", "resolved", "appealed", "closed"]
SENTIMENTS = Literal["negative", "neutral", "positive"]
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; media-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
DIGEST_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
LOGIN_MAX_FAILURES, LOGIN_WINDOW_S = 5, 300.0


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


class AuthRequired(Exception):
    """A page needs a login: redirect there."""


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


def create_app(settings: Settings, store: Store | None = None) -> FastAPI:
    """The web app over ``store`` (default: ``Store.open(settings.db_url)``, closed on shutdown)."""
    own_store = store is None
    store = store or Store.open(settings.db_url)
    users = Users(store.db)
    queue = ReviewQueue(store.db, settings.qa.claim_lease_minutes)
    exports_dir = Path(settings.exports_dir)

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
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    templates = Jinja2Templates(env=env)
    app.state.store, app.state.users, app.state.queue = store, users, queue
    failures: dict[str, list[float]] = {}  # user name -> monotonic times of recent failed logins (this process)

    # ---- auth ---------------------------------------------------------------------------------
    def session_user(request: Request) -> User | None:
        name = request.session.get("user")
        if not name:
            return None
        user = users.get(name)
        if user is None or not user.active or user.password_tag != request.session.get("pw"):
            request.session.clear()
            return None
        return user

    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not token:
            token = request.session["csrf"] = secrets.token_urlsafe(24)
        return token

    def csrf_ok(request: Request, given: str | None) -> bool:
        want = request.session.get("csrf")
        return bool(want and given and hmac.compare_digest(str(want), str(given)))

    def api_user(request: Request) -> User:
        authz = request.headers.get("authorization")
        if authz:
            scheme, _, token = authz.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise HTTPException(401, "use 'Authorization: Bearer <token>'", headers={"WWW-Authenticate": "Bearer"})
            user = users.by_token(token.strip())
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

    def reviewer(user: Annotated[User, Depends(api_user)]) -> User:
        if not user.can_review():
            raise HTTPException(403, "only reviewers and supervisors work the review queue")
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

    @app.exception_handler(AuthRequired)
    async def _to_login(request: Request, _exc: AuthRequired):
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), status_code=303)

    @app.exception_handler(NotVisible)
    async def _not_visible(request: Request, exc: NotVisible):
        code = 403 if exc.forbidden else 404
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": str(exc)}, status_code=code)
        return _page(request, "error.html.j2", {"code": code, "message": str(exc)}, status_code=code)

    @app.exception_handler(ReviewError)
    async def _review_error(request: Request, exc: ReviewError):
        code = 404 if "does not exist" in str(exc) else 409
        return JSONResponse({"detail": str(exc)}, status_code=code)

    # ---- page helpers ---------------------------------------------------------------------------
    def _page(request: Request, name: str, ctx: dict[str, Any], status_code: int = 200) -> HTMLResponse:
        user = session_user(request)
        flashes = request.session.pop("flash", []) if "flash" in request.session else []
        base = {"user": user, "csrf": csrf_token(request), "flashes": flashes, "path": request.url.path}
        return templates.TemplateResponse(request, name, {**base, **ctx}, status_code=status_code)

    def _flash(request: Request, text: str, kind: str = "info") -> None:
        request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]

    def _forbidden_page(request: Request, message: str) -> HTMLResponse:
        return _page(request, "error.html.j2", {"code": 403, "message": message}, status_code=403)

    # ---- pages ------------------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def home(user: PageUser):
        return RedirectResponse("/queue" if user.can_review() else "/topics", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/"):
        return _page(request, "login.html.j2", {"next": _safe_next(next), "error": None})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request):
        form = await request.form()
        nxt = _safe_next(str(form.get("next") or "/"))
        if not csrf_ok(request, form.get("csrf_token")):
            return _page(request, "login.html.j2", {"next": nxt, "error": "the form expired; try again"},
                         status_code=403)
        name = str(form.get("username") or "")[:64]
        now = time.monotonic()
        recent = [t for t in failures.get(name, []) if now - t < LOGIN_WINDOW_S]
        if len(recent) >= LOGIN_MAX_FAILURES:
            return _page(request, "login.html.j2", {"next": nxt, "error": "too many failed logins; wait a few minutes"},
                         status_code=429)
        # scrypt takes tens of milliseconds: keep it off the event loop
        user = await run_in_threadpool(users.authenticate, name, str(form.get("password") or ""))
        if user is None:
            if len(failures) > 10_000:  # bounded: a flood of made-up names cannot grow it without end
                failures.clear()
            failures[name] = [*recent, now]
            log.info("failed login for %r", name)
            return _page(request, "login.html.j2", {"next": nxt, "error": "wrong user name or password"},
                         status_code=401)
        failures.pop(name, None)
        request.session.clear()  # a fresh session (and CSRF token) on login
        request.session.update(user=user.name, pw=user.password_tag, csrf=secrets.token_urlsafe(24))
        return RedirectResponse(nxt if nxt != "/" else ("/queue" if user.can_review() else "/topics"), status_code=303)

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request):
        form = await request.form()
        if csrf_ok(request, form.get("csrf_token")):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/queue", include_in_schema=False)
    def queue_page(request: Request, user: PageUser):
        if not user.can_review():
            return _forbidden_page(request, "department owners see topics and digests only")
        raw = dict(request.query_params)
        try:
            f = _filter_from(raw, settings)
            error = None
        except (ValueError, ValidationError) as exc:
            f, error = QueueFilter(limit=settings.web.page_size), f"filter ignored: {exc}"
        items = views.queue_items(store, settings, user, f)
        return _page(request, "queue.html.j2", {"items": items, "f": raw, "error": error,
                                                "choices": views.queue_choices(store)})

    @app.post("/queue/{item_id}/claim", include_in_schema=False)
    async def claim_page(request: Request, item_id: int, user: PageUser):
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return _forbidden_page(request, "the form expired (CSRF token missing or wrong); reload and try again")
        if not user.can_review():
            return _forbidden_page(request, "only reviewers and supervisors claim calls")
        row = views.check_item_visible(store, user, item_id)
        try:
            queue.claim(item_id, user.name)
            _flash(request, f"claimed item {item_id}")
        except ReviewError as exc:
            _flash(request, str(exc), "error")
        return RedirectResponse(f"/calls/{row.interaction_id}", status_code=303)

    @app.get("/calls/{interaction_id}", include_in_schema=False)
    def call_page(request: Request, interaction_id: str, user: PageUser):
        detail = views.call_detail(store, settings, user, interaction_id)
        return _page(request, "call.html.j2", {"c": detail})

    @app.post("/calls/{interaction_id}/action", include_in_schema=False)
    async def call_action(request: Request, interaction_id: str, user: PageUser):
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return _forbidden_page(request, "the form expired (CSRF token missing or wrong); reload and try again")
        detail = views.call_detail(store, settings, user, interaction_id)
        review = detail["review"]
        if review is None:
            return _forbidden_page(request, "this call is not in the review queue")
        action = str(form.get("action") or "")
        data = {k: v for k, v in form.items() if k not in ("csrf_token", "action") and str(v).strip() != ""}
        try:
            msg = _act(user, review["id"], action, data)
            _flash(request, msg)
        except ValidationError as exc:
            _flash(request, "; ".join(f"{'.'.join(str(x) for x in e['loc']) or action}: {e['msg']}"
                                      for e in exc.errors()), "error")
        except (ReviewError, HTTPException, NotVisible) as exc:
            _flash(request, getattr(exc, "detail", None) or str(exc), "error")
        return RedirectResponse(f"/calls/{interaction_id}", status_code=303)

    def _act(user: User, item_id: int, action: str, data: dict[str, Any]) -> str:
        """One queue action from the call page's form, through the same rules as the API."""
        if action == "claim":
            _check_reviewer(user)
            views.check_item_visible(store, user, item_id)
            queue.claim(item_id, user.name)
            return "claimed"
        if action == "release":
            _do_release(user, item_id)
            return "released back to the queue"
        if action == "override":
            _do_override(user, item_id, OverrideIn.model_validate(data))
            return "override saved"
        if action == "resolve":
            _do_resolve(user, item_id, ResolveIn.model_validate(data))
            return "resolved"
        if action == "appeal":
            _do_appeal(user, item_id, AppealIn.model_validate(data))
            return "appeal filed"
        if action == "decide":
            if user.role != "supervisor":
                raise HTTPException(403, "only supervisors decide appeals")
            _do_decide(user, item_id, DecideIn.model_validate(data))
            return "appeal decided"
        raise HTTPException(400, f"unknown action {action!r}")

    def _check_reviewer(user: User) -> None:
        if not user.can_review():
            raise HTTPException(403, "only reviewers and supervisors work the review queue")

    def _do_release(user: User, item_id: int):
        _check_reviewer(user)
        views.check_item_visible(store, user, item_id)
        return queue.release(item_id, user.name)

    def _do_override(user: User, item_id: int, body: OverrideIn):
        _check_reviewer(user)
        views.check_item_visible(store, user, item_id)
        return queue.annotate(item_id, user.name, score_override=body.score_override,
                              comment=body.comment.strip() if body.comment else None)

    def _do_resolve(user: User, item_id: int, body: ResolveIn):
        _check_reviewer(user)
        row = views.check_item_visible(store, user, item_id)
        # resolve() writes both fields: keep what an earlier override recorded unless this call says otherwise
        score = body.score_override if body.score_override is not None else row.score_override
        comment = body.comment.strip() if body.comment and body.comment.strip() else row.comment
        return queue.resolve(item_id, user.name, score_override=score, comment=comment)

    def _do_appeal(user: User, item_id: int, body: AppealIn):
        _check_reviewer(user)
        views.check_item_visible(store, user, item_id)
        return queue.appeal(item_id, user.name, body.reason)

    def _do_decide(user: User, item_id: int, body: DecideIn):
        return queue.decide_appeal(item_id, user.name, score_override=body.score_override,
                                   comment=body.comment.strip() if body.comment else None)

    @app.get("/topics", include_in_schema=False)
    def topics_page(request: Request, user: PageUser):
        return _page(request, "topics.html.j2", {"topics": views.topics(store)})

    @app.get("/topics/{topic_id}", include_in_schema=False)
    def topic_page(request: Request, topic_id: str, user: PageUser):
        t = views.topic_detail(store, topic_id)
        return _page(request, "topic.html.j2", {"t": t, "chart": views.trend_svg_points(t["daily"])})

    @app.get("/runs", include_in_schema=False)
    def runs_page(request: Request, user: PageUser):
        if not user.can_review():
            return _forbidden_page(request, "department owners see topics and digests only")
        return _page(request, "runs.html.j2", {"runs": store.runs(limit=50)})

    @app.get("/digests", include_in_schema=False)
    def digests_page(request: Request, user: PageUser):
        return _page(request, "digests.html.j2", {"dates": views.digest_dates(exports_dir, user)})

    @app.get("/digests/{date}/overview.html", include_in_schema=False)
    def digest_overview(date: str, user: PageUser):
        return _digest_response(views.digest_file(exports_dir, user, date, None))

    @app.get("/digests/{date}/departments/{name}", include_in_schema=False)
    def digest_department(date: str, name: str, user: PageUser):
        if not name.endswith(".html"):
            raise NotVisible(f"no digest {name}")
        return _digest_response(views.digest_file(exports_dir, user, date, name.removesuffix(".html")))

    # ---- JSON API -----------------------------------------------------------------------------------
    @app.get("/api/me", tags=["auth"])
    def api_me(user: ApiUser) -> dict[str, Any]:
        return {"name": user.name, "role": user.role, "department": user.department}

    @app.get("/api/queue", tags=["queue"])
    def api_queue(
        user: Reviewer,
        queue_name: Annotated[str | None, Query(alias="queue", max_length=64)] = None,
        reason: Annotated[str | None, Query(max_length=64)] = None,
        status: STATUSES | None = None,
        score_min: Annotated[float | None, Query(ge=0, le=100)] = None,
        score_max: Annotated[float | None, Query(ge=0, le=100)] = None,
        sentiment: SENTIMENTS | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        mine: bool = False,
        limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    ) -> dict[str, Any]:
        """Review items you may see (reviewers: open ones and your own), highest priority first."""
        if score_min is not None and score_max is not None and score_min > score_max:
            raise HTTPException(422, "score_min is above score_max")
        if date_from and date_to and date_from > date_to:
            raise HTTPException(422, "date_from is after date_to")
        f = QueueFilter(queue=queue_name, reason=reason, status=status, score_min=score_min, score_max=score_max,
                        sentiment=sentiment, date_from=date_from, date_to=date_to, mine=mine, limit=limit)
        items = views.queue_items(store, settings, user, f)
        return {"count": len(items), "items": items}

    @app.get("/api/queue/{item_id}", tags=["queue"])
    def api_item(item_id: int, user: Reviewer) -> dict[str, Any]:
        return views.review_dict(views.check_item_visible(store, user, item_id))

    @app.post("/api/queue/claim-next", tags=["queue"])
    def api_claim_next(user: Reviewer, queue_name: Annotated[str | None, Query(alias="queue", max_length=64)] = None):
        """Claim the highest-priority open item (204 when the queue is empty)."""
        item = queue.claim_next(user.name, queue_name)
        if item is None:
            return Response(status_code=204)
        return views.review_dict(item)

    @app.post("/api/queue/{item_id}/claim", tags=["queue"])
    def api_claim(item_id: int, user: Reviewer) -> dict[str, Any]:
        views.check_item_visible(store, user, item_id)
        return views.review_dict(queue.claim(item_id, user.name))

    @app.post("/api/queue/{item_id}/release", tags=["queue"])
    def api_release(item_id: int, user: Reviewer) -> dict[str, Any]:
        return views.review_dict(_do_release(user, item_id))

    @app.post("/api/queue/{item_id}/override", tags=["queue"])
    def api_override(item_id: int, body: OverrideIn, user: Reviewer) -> dict[str, Any]:
        """Record a score override and/or comment on your claimed item."""
        return views.review_dict(_do_override(user, item_id, body))

    @app.post("/api/queue/{item_id}/resolve", tags=["queue"])
    def api_resolve(item_id: int, body: ResolveIn, user: Reviewer) -> dict[str, Any]:
        return views.review_dict(_do_resolve(user, item_id, body))

    @app.post("/api/queue/{item_id}/appeal", tags=["queue"])
    def api_appeal(item_id: int, body: AppealIn, user: Reviewer) -> dict[str, Any]:
        """Appeal a resolved item (a supervisor decides it)."""
        return views.review_dict(_do_appeal(user, item_id, body))

    @app.post("/api/queue/{item_id}/decide", tags=["queue"])
    def api_decide(item_id: int, body: DecideIn, user: Supervisor) -> dict[str, Any]:
        """Supervisors: close an appealed item, optionally with a new score."""
        return views.review_dict(_do_decide(user, item_id, body))

    @app.get("/api/calls/{interaction_id}", tags=["calls"])
    def api_call(interaction_id: str, user: ApiUser) -> dict[str, Any]:
        """A call (or text contact): redacted transcript, QA rules with evidence, sentiment, review state."""
        return views.call_detail(store, settings, user, interaction_id)

    @app.get("/api/calls/{interaction_id}/audio", tags=["calls"])
    def api_audio(interaction_id: str, user: ApiUser):
        """The call's recording; HTTP Range requests are honoured (seeking in the player)."""
        path = views.audio_path(store, user, interaction_id)
        return FileResponse(path, media_type=_audio_type(path), headers={"cache-control": "private, max-age=300"})

    @app.get("/api/topics", tags=["topics"])
    def api_topics(user: ApiUser) -> dict[str, Any]:
        return {"topics": views.topics(store)}

    @app.get("/api/topics/{topic_id}", tags=["topics"])
    def api_topic(topic_id: str, user: ApiUser) -> dict[str, Any]:
        return views.topic_detail(store, topic_id)

    @app.get("/api/runs", tags=["runs"])
    def api_runs(user: Reviewer, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
        return {"runs": store.runs(limit=limit)}

    @app.get("/api/digests", tags=["digests"])
    def api_digests(user: ApiUser) -> dict[str, Any]:
        return {"dates": views.digest_dates(exports_dir, user)}

    return app


def _digest_response(path: Path) -> FileResponse:
    return FileResponse(path, media_type="text/html; charset=utf-8", headers={"content-security-policy": DIGEST_CSP})


def _audio_type(path: Path) -> str:
    return {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".flac": "audio/flac",
            ".m4a": "audio/mp4", ".opus": "audio/ogg"}.get(path.suffix.lower(), "application/octet-stream")


def _safe_next(value: str) -> str:
    """Only same-site paths after login (no open redirect)."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _filter_from(raw: dict[str, str], settings: Settings) -> QueueFilter:
    """The queue page's filter form (empty fields = no filter)."""

    def num(key: str) -> float | None:
        v = raw.get(key, "").strip()
        if not v:
            return None
        x = float(v)
        if not 0 <= x <= 100:
            raise ValueError(f"{key} must be between 0 and 100")
        return x

    def day(key: str) -> dt.date | None:
        v = raw.get(key, "").strip()
        return dt.date.fromisoformat(v) if v else None

    status = raw.get("status") or None
    if status and status not in ("open", "claimed", "resolved", "appealed", "closed"):
        raise ValueError(f"unknown status {status!r}")
    sentiment = raw.get("sentiment") or None
    if sentiment and sentiment not in ("negative", "neutral", "positive"):
        raise ValueError(f"unknown sentiment {sentiment!r}")
    return QueueFilter(queue=raw.get("queue") or None, reason=raw.get("reason") or None, status=status,
                       score_min=num("score_min"), score_max=num("score_max"), sentiment=sentiment,
                       date_from=day("date_from"), date_to=day("date_to"), mine=raw.get("mine") == "1",
                       limit=settings.web.page_size)
