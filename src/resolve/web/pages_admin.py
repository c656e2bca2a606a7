"""Administration pages: user accounts, database lock and the statistician's unblinding.

Locking and unblinding are two-step: the first submission (with a reason) shows
what will happen and asks again; only the second, with ``confirmed=yes``, acts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops.permissions import Operation
from resolve.ops.setup import MIN_PASSWORD_LENGTH
from resolve.store.models import Role
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_support import Form, href, may, trial_status
from resolve.web.routing import rule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_DONE = {
    "added": "users.done.added",
    "deactivated": "users.done.deactivated",
    "locked": "lock.done.locked",
    "unblinded": "lock.done.unblinded",
}


# ----------------------------------------------------------------------------- users
def _users_page(
    request: Request,
    who: Who,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    general: str | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    runner = client(request, who)
    sites: tuple[str, ...] = runner.run(
        lambda ctx: tuple(ctx.protocol.strata_levels.get("site", ()))
    )
    page = render(
        request,
        "p_users.html",
        who,
        users=runner.run(ops.list_users),
        roles=[r.value for r in Role],
        sites=sites,
        can_manage=may(who.role if who else None, Operation.manage_users),
        values=values or {},
        errors=errors or {},
        general=general,
        done=t(_DONE[done]) if done in _DONE else None,
        min_password=MIN_PASSWORD_LENGTH,
        href=href,
    )
    page.status_code = status
    return page


@router.get("/users", response_class=HTMLResponse)
@rule("operation", Operation.list_users)
def users_page(request: Request, who: Who, done: str = "") -> HTMLResponse:
    """Every account: role, site, active; admins add and deactivate accounts here."""
    return _users_page(request, who, done=done)


@router.post("/users", response_class=HTMLResponse)
@rule("operation", Operation.manage_users)
def users_add(request: Request, who: Who, form: Form) -> Response:
    """Add an account (admin)."""
    check_csrf(who, str(form.get("csrf_token", "")))
    values = {k: str(form.get(k, "")).strip() for k in ("name", "role", "site")}
    password = str(form.get("password", ""))
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = t("users.err.name")
    if values["role"] not in {r.value for r in Role}:
        errors["role"] = t("users.err.role")
    if password and len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = t("users.err.password", n=MIN_PASSWORD_LENGTH)
    if errors:
        return _users_page(request, who, values=values, errors=errors, status=422)
    try:
        client(request, who).run(
            ops.add_user,
            values["name"],
            role=values["role"],
            password=password or None,
            site=values["site"] or None,
        )
    except (DataValidationError, ops.TrialStateError) as exc:
        code = 422 if isinstance(exc, DataValidationError) else 409
        return _users_page(request, who, values=values, general=str(exc), status=code)
    return RedirectResponse("/users?done=added", status_code=303)


@router.post("/users/{name}/deactivate", response_class=HTMLResponse)
@rule("operation", Operation.manage_users)
def users_deactivate(request: Request, who: Who, name: str, form: Form) -> Response:
    """Deactivate an account, with a reason (it stays in the audit trail)."""
    check_csrf(who, str(form.get("csrf_token", "")))
    reason = " ".join(str(form.get("reason", "")).split())
    if not reason:
        return _users_page(
            request, who, errors={f"reason_{name}": t("users.err.reason")}, status=422
        )
    try:
        client(request, who).run(ops.deactivate_user, name, reason=reason)
    except (DataValidationError, ops.TrialStateError) as exc:
        return _users_page(request, who, general=str(exc), status=409)
    return RedirectResponse("/users?done=deactivated", status_code=303)


# ----------------------------------------------------------------------------- lock / unblind
def _lock_page(
    request: Request,
    who: Who,
    *,
    confirm: str | None = None,
    reason: str = "",
    errors: dict[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    page = render(
        request,
        "p_lock.html",
        who,
        status=trial_status(client(request, who)),
        confirm=confirm,
        reason=reason,
        errors=errors or {},
        done=t(_DONE[done]) if done in _DONE else None,
        can_unblind=may(who.role if who else None, Operation.unblind_statistician),
    )
    page.status_code = status
    return page


@router.get("/lock", response_class=HTMLResponse)
@rule("operation", Operation.lock_database)
def lock_page(request: Request, who: Who, done: str = "") -> HTMLResponse:
    """The trial's data status and the lock / unblinding steps that apply to it."""
    return _lock_page(request, who, done=done)


def _two_step(request: Request, who: Who, form: Any, *, step: str, op: Any, done: str) -> Response:
    check_csrf(who, str(form.get("csrf_token", "")))
    reason = " ".join(str(form.get("reason", "")).split())
    if not reason:
        return _lock_page(request, who, errors={step: t("lock.err.reason")}, status=422)
    if form.get("confirmed") != "yes":
        return _lock_page(request, who, confirm=step, reason=reason)
    client(request, who).run(op, reason=reason)
    return RedirectResponse(f"/lock?done={done}", status_code=303)


@router.post("/lock", response_class=HTMLResponse)
@rule("operation", Operation.lock_database)
def lock_submit(request: Request, who: Who, form: Form) -> Response:
    """Lock the database (no more data entry or corrections): reason, then confirmation."""
    return _two_step(request, who, form, step="lock", op=ops.lock_database, done="locked")


@router.post("/lock/unblind", response_class=HTMLResponse)
@rule("operation", Operation.unblind_statistician)
def unblind_submit(request: Request, who: Who, form: Form) -> Response:
    """After lock, unblind the statistician: reason, then confirmation."""
    return _two_step(
        request, who, form, step="unblind", op=ops.unblind_statistician, done="unblinded"
    )
