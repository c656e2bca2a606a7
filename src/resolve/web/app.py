"""The web application: ``create_app(db)`` -> a FastAPI app over :mod:`resolve.ops`.

Server-rendered pages (Jinja2, no inline script: the Content-Security-Policy
forbids it) and a JSON API under ``/api/v1`` (OpenAPI at
``/api/v1/openapi.json``). Every route carries a :func:`~resolve.web.routing.rule`;
:func:`enforce` applies it (401 or a redirect to the sign-in page without a
session, 403 — or 404 where existence would reveal something — for a role the
permission matrix refuses), and the service layer checks again.

Examples
--------
>>> import tempfile, pathlib
>>> from fastapi.testclient import TestClient
>>> from resolve import ops
>>> db = pathlib.Path(tempfile.mkdtemp()) / "trial.db"
>>> _ = ops.init_trial(db, admin="ada", admin_password="correct horse battery", demo_seed=1)
>>> client = TestClient(create_app(db), base_url="https://testserver")
>>> client.get("/api/v1/participants").status_code
401
>>> r = client.post("/api/v1/auth/token",
...                 data={"username": "ada", "password": "correct horse battery"})
>>> r.json()["token_type"]
'bearer'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import OAuth2PasswordRequestForm
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.ops import Client, PermissionDenied, TrialStateError
from resolve.ops.permissions import allowed
from resolve.store.keys import TrialKeyError
from resolve.store.uow import Store, StoreBusyError
from resolve.web import auth
from resolve.web.i18n import t
from resolve.web.routing import rule, rule_of

__all__ = ["SESSION_COOKIE", "create_app", "enforce"]

SESSION_COOKIE = "resolve_session"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HERE = resources.files("resolve.web")


class _SignIn(Exception):  # noqa: N818 - control flow: redirect a page request to sign in
    pass


class _ChangePassword(Exception):  # noqa: N818 - control flow: a one-time password first
    pass


#: What a user with a one-time password may still reach (static files never pass ``enforce``).
_BEFORE_PASSWORD_CHANGE = frozenset({"/password", "/logout", "/api/v1/auth/logout"})


# ----------------------------------------------------------------------------- helpers
def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def current(request: Request) -> auth.Authenticated | None:
    """Who sent this request: a bearer token (API) or the session cookie (pages)."""
    store: Store = request.app.state.store
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return auth.token_actor(store, header[7:].strip())
    if _is_api(request) and request.method not in ("GET", "HEAD"):
        # API writes need a token: a cookie alone would make them CSRF-able
        return None
    return auth.session_actor(store, request.cookies.get(SESSION_COOKIE))


def enforce(request: Request) -> auth.Authenticated | None:
    """Apply the endpoint's rule; return who acts (None on public routes)."""
    endpoint = request.scope.get("endpoint")
    r = rule_of(endpoint) if endpoint is not None else None
    if r is None:
        raise HTTPException(500, "route without an access rule")
    if r.access in ("public", "link"):
        return None
    who = current(request)
    if who is None:
        if _is_api(request):
            raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
        raise _SignIn()
    if who.must_change_password and request.url.path not in _BEFORE_PASSWORD_CHANGE:
        if _is_api(request):
            raise HTTPException(403, t("password.must_change_api"))
        raise _ChangePassword()
    if r.access == "operation" and r.operation is not None and not allowed(who.role, r.operation):
        raise HTTPException(404 if r.hide else 403, t("error.forbidden"))
    return who


Who = Annotated[auth.Authenticated | None, Depends(enforce)]


def client(request: Request, who: auth.Authenticated | None) -> Client:
    """An ops client acting as ``who`` on this app's trial."""
    if who is None:
        raise HTTPException(401, "not authenticated")
    return Client(request.app.state.store, user=who.name, key_file=request.app.state.key_file)


def check_csrf(who: auth.Authenticated | None, token: str | None) -> None:
    """Refuse a state-changing form without this session's CSRF token."""
    if who is None or not auth.csrf_ok(who.csrf, token):
        raise HTTPException(403, t("error.csrf"))


def render(
    request: Request, name: str, who: auth.Authenticated | None, **context: Any
) -> HTMLResponse:
    """Render a template with the common context (who, t, csrf token)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        name,
        {"who": who, "t": t, "csrf": who.csrf if who else None, **context},
    )


# ----------------------------------------------------------------------------- API models
class TokenOut(BaseModel):
    """OAuth2 bearer token."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int


class ParticipantOut(BaseModel):
    """A participant as the caller may see it (``arm`` only for roles allowed to see it)."""

    participant_id: str
    site: str | None = None
    status: str
    screened_at: str | None = None
    consented_at: str | None = None
    randomised_at: str | None = None
    arm: str | None = None


class AllocationOut(BaseModel):
    """The result of a randomisation (``arm`` only for roles allowed to see it)."""

    participant_id: str
    status: str
    arm: str | None = None


def _participant_rows(frame: Any) -> list[ParticipantOut]:
    out = []
    for row in frame.to_dict("records"):
        clean = {k: (None if v != v else v) for k, v in row.items()}  # NaN -> None
        out.append(
            ParticipantOut(
                participant_id=str(clean["participant_id"]),
                site=clean.get("site"),
                status=str(clean["status"]),
                screened_at=clean.get("screened_at"),
                consented_at=clean.get("consented_at"),
                randomised_at=clean.get("randomised_at"),
                arm=clean.get("arm"),
            )
        )
    return out


# ----------------------------------------------------------------------------- app
def create_app(
    db: str | Path | Store,
    *,
    key_file: str | Path | None = None,
    secure_cookies: bool = True,
) -> FastAPI:
    """Build the web application for one trial database.

    Parameters
    ----------
    db : str, Path or Store
        The trial database (SQLite path or PostgreSQL URL).
    key_file : str or Path, optional
        The trial key file (else ``RESOLVE_TRIAL_KEY``/``RESOLVE_TRIAL_KEY_FILE``/default path).
    secure_cookies : bool, default True
        Mark the session cookie ``Secure`` (browsers send it over HTTPS and to localhost).
    """
    from resolve import ops

    app = FastAPI(
        title="resolve trial API",
        version="1",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = db if isinstance(db, Store) else Store(db)
    app.state.key_file = key_file
    app.state.secure_cookies = secure_cookies
    templates = Jinja2Templates(directory=str(_HERE.joinpath("templates")))
    templates.env.globals["t"] = t
    app.state.templates = templates

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(_SignIn)
    async def sign_in(request: Request, exc: _SignIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(_ChangePassword)
    async def change_password(request: Request, exc: _ChangePassword) -> Response:
        return RedirectResponse("/password", status_code=303)

    @app.exception_handler(ResolveError)
    async def resolve_error(request: Request, exc: ResolveError) -> Response:
        status = 400
        if isinstance(exc, PermissionDenied | PermissionError):
            status = 403
        elif isinstance(exc, UnknownNameError):
            status = 404
        elif isinstance(exc, TrialStateError):
            status = 409
        elif isinstance(exc, DataValidationError):
            status = 422
        elif isinstance(exc, StoreBusyError | TrialKeyError):
            status = 503
        message = " ".join(str(exc).split())
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        page = render(request, "error.html", None, message=message, status=status)
        page.status_code = status
        return page

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # API clients get FastAPI's JSON; people get the site's error page (an unknown
        # address, a page their role may not open), in the same layout as every other page.
        if _is_api(request) or request.url.path.startswith("/static/"):
            return await http_exception_handler(request, exc)
        message = exc.detail if exc.status_code in (403, 404) else None
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = t("error.not_found")
        page = render(
            request,
            "error.html",
            None,
            message=message or t("error.generic"),
            status=exc.status_code,
        )
        page.status_code = exc.status_code
        if exc.headers:
            page.headers.update(exc.headers)
        return page

    static = StaticFiles(directory=str(_HERE.joinpath("static")))
    app.mount("/static", static, name="static")

    # ------------------------------------------------------------------ sign in / out
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    @rule("public")
    def login_page(request: Request, who: Who) -> HTMLResponse:
        return render(request, "login.html", None, error=None)

    @app.post("/login", include_in_schema=False)
    @rule("public")
    def login_submit(
        request: Request,
        who: Who,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
    ) -> Response:
        try:
            token, _ = auth.login(app.state.store, username, password, ip=_ip(request))
        except auth.LockedOut as exc:
            page = render(request, "login.html", None, error=t("login.locked", minutes=exc.minutes))
            page.status_code = 429
            return page
        except auth.LoginFailed:
            page = render(request, "login.html", None, error=t("login.failed"))
            page.status_code = 401
            return page
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            secure=app.state.secure_cookies,
            samesite="strict",
            max_age=int(auth.SESSION_MAX.total_seconds()),
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    @rule("user")
    def logout(request: Request, who: Who, csrf_token: Annotated[str, Form()] = "") -> Response:
        check_csrf(who, csrf_token)
        auth.logout(app.state.store, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/password", response_class=HTMLResponse, include_in_schema=False)
    @rule("user")
    def password_page(request: Request, who: Who) -> HTMLResponse:
        forced = t("password.must_change") if who and who.must_change_password else None
        return render(request, "password.html", who, message=forced, error=None)

    @app.post("/password", response_class=HTMLResponse, include_in_schema=False)
    @rule("user")
    def password_submit(
        request: Request,
        who: Who,
        old: Annotated[str, Form()],
        new: Annotated[str, Form()],
        again: Annotated[str, Form()],
        csrf_token: Annotated[str, Form()] = "",
    ) -> Response:
        check_csrf(who, csrf_token)
        assert who is not None
        if new != again:
            return render(request, "password.html", who, message=None, error=t("password.mismatch"))
        try:
            client(request, who).run(ops.set_password, who.name, new, old_password=old)
        except (PermissionDenied, DataValidationError) as exc:
            return render(request, "password.html", who, message=None, error=str(exc))
        if who.must_change_password:  # the one-time password is gone: on to the app
            return RedirectResponse("/", status_code=303)
        return render(request, "password.html", who, message=t("password.changed"), error=None)

    # ------------------------------------------------------------------ pages
    @app.get("/participants", response_class=HTMLResponse, include_in_schema=False)
    @rule("user")
    def participants_page(request: Request, who: Who) -> HTMLResponse:
        rows = _participant_rows(client(request, who).run(ops.participants))
        return render(request, "participants.html", who, rows=rows)

    @app.get("/healthz", include_in_schema=False)
    @rule("public")
    def healthz(request: Request, who: Who) -> dict[str, str]:
        return {"status": "ok"}

    # ------------------------------------------------------------------ API
    @app.post(
        "/api/v1/auth/token",
        response_model=TokenOut,
        tags=["auth"],
        responses={403: {"description": "A one-time password: change it in the web app first"}},
    )
    @rule("public")
    def token(
        request: Request, who: Who, form: Annotated[OAuth2PasswordRequestForm, Depends()]
    ) -> TokenOut:
        """OAuth2 password flow: a bearer token for scripts (none for a one-time password)."""
        try:
            value = auth.issue_token(app.state.store, form.username, form.password, ip=_ip(request))
        except auth.LockedOut as exc:
            raise HTTPException(429, str(exc)) from None
        except auth.PasswordChangeRequired as exc:
            raise HTTPException(403, str(exc)) from None
        except auth.LoginFailed:
            raise HTTPException(
                401, "wrong user name or password", headers={"WWW-Authenticate": "Bearer"}
            ) from None
        return TokenOut(access_token=value, expires_in=int(auth.TOKEN_TTL.total_seconds()))

    @app.get(
        "/api/v1/participants",
        response_model=list[ParticipantOut],
        response_model_exclude_none=True,
        tags=["participants"],
    )
    @rule("user")
    def api_participants(request: Request, who: Who) -> list[ParticipantOut]:
        """Every participant; ``arm`` only where the caller's role may see it."""
        return _participant_rows(client(request, who).run(ops.participants))

    @app.get(
        "/api/v1/participants/{participant_id}",
        response_model=ParticipantOut,
        response_model_exclude_none=True,
        tags=["participants"],
        responses={404: {"description": "No such participant"}},
    )
    @rule("user")
    def api_participant(request: Request, who: Who, participant_id: str) -> ParticipantOut:
        """One participant; ``arm`` only where the caller's role may see it."""
        rows = _participant_rows(client(request, who).run(ops.participants))
        for row in rows:
            if row.participant_id == participant_id:
                return row
        raise HTTPException(404, f"participant {participant_id!r} has not been screened")

    @app.post(
        "/api/v1/participants/{participant_id}/randomise",
        response_model=AllocationOut,
        response_model_exclude_none=True,
        tags=["participants"],
        responses={
            403: {"description": "Role may not randomise"},
            404: {"description": "No such participant"},
            409: {"description": "Not consented, or already randomised"},
            422: {
                "description": "Not a valid participant id",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"detail": {"type": "string"}},
                            "required": ["detail"],
                        }
                    }
                },
            },
        },
    )
    @rule("operation", ops.Operation.randomise)
    def api_randomise(request: Request, who: Who, participant_id: str) -> AllocationOut:
        """Randomise a consented participant; the arm is returned to roles that may see it."""
        arm = client(request, who).run(ops.randomise, participant_id)
        return AllocationOut(participant_id=participant_id, status="randomised", arm=arm)

    from resolve.web import (
        pages_admin,
        pages_dashboard,
        pages_data,
        pages_enrol,
        pages_participants,
        pages_safety,
        pages_support,
    )

    templates.env.globals["page_nav"] = pages_support.nav_links
    templates.env.globals["may"] = pages_support.may  # e.g. may(who.role, "view programme")
    app.include_router(pages_enrol.router)
    app.include_router(pages_dashboard.router)
    app.include_router(pages_participants.router)
    app.include_router(pages_safety.router)
    app.include_router(pages_data.router)
    app.include_router(pages_admin.router)
    from resolve.web import api, selfreport

    app.include_router(api.router)
    app.include_router(selfreport.router)
    from resolve.web import api_programme, pages_programme, pages_programme_tasks, programme_link

    app.include_router(pages_programme.router)
    app.include_router(pages_programme_tasks.router)
    app.include_router(programme_link.router)
    app.include_router(api_programme.router)
    from resolve.web import pages_programme_more, pages_programme_more_link

    app.include_router(pages_programme_more.router)
    app.include_router(pages_programme_more_link.router)
    return app
