"""Every route x every role (and no one): generated from the app's route table.

A route without a :func:`~resolve.web.routing.rule`, or whose rule is not
enforced (no ``who: Who`` parameter), fails :func:`test_every_route_has_an_enforced_rule`;
a new route is called by :func:`test_role_matrix` without anyone listing it.
Expectations per rule:

- ``public`` and ``link``: reachable by everyone (no 401/403, no redirect to sign in);
- ``user``: no one gets 401 (API) or a redirect to ``/login`` (pages); staff roles get through;
- ``operation``: anonymous as ``user``; roles outside ``MATRIX[operation]`` get 403
  (404 for a route that hides existence); roles inside get neither 401 nor 403.

No call may answer 5xx. Path parameters are filled with real values (a
randomised participant, a live self-report link...); state-changing page forms
carry the session's CSRF token; sign-out routes run last for each role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from resolve.ops.permissions import MATRIX
from resolve.store.models import Role
from resolve.web.app import enforce
from resolve.web.routing import Rule, rule_of
from tests.web.conftest import ALL_ROLES, WebTrial

ANON = "anonymous"
#: Non-API routes that are public by construction (no endpoint function of ours).
BUILTIN_PUBLIC = {("GET", "/api/v1/openapi.json"), ("HEAD", "/api/v1/openapi.json")}
STATIC = "/static"
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    rule: Rule | None
    route: Any

    @property
    def api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    """Every effective route, routers included (FastAPI >= 0.16x keeps included routers
    as branches of ``app.routes``)."""
    from fastapi import routing

    walker = getattr(routing, "iter_route_contexts", None)
    if walker is None:  # older FastAPI: included routes are flattened into app.routes
        yield from app.routes
        return
    yield from walker(app.routes)


def endpoints(app: FastAPI) -> tuple[list[Endpoint], list[str]]:
    """(Every method x path of the app, the routes that are neither ours nor known builtins)."""
    out: list[Endpoint] = []
    unknown: list[str] = []
    for route in _route_contexts(app):
        original = getattr(route, "original_route", route)
        path = route.path
        if isinstance(original, APIRoute):
            for method in sorted(route.methods or ()):
                out.append(Endpoint(method, path, rule_of(route.endpoint), route))
        elif isinstance(original, Mount) and path == STATIC:
            out.append(Endpoint("GET", STATIC + "/app.css", Rule("public"), route))
        elif isinstance(original, Route) and all(
            (m, path) in BUILTIN_PUBLIC for m in (route.methods or ())
        ):
            out.append(Endpoint("GET", path, Rule("public"), route))
        else:
            unknown.append(f"{type(original).__name__} {path}")
    return out, unknown


def _enforced(route: Any) -> bool:
    """Whether ``enforce`` is among the route's dependencies (so its rule is applied)."""
    dependant = getattr(getattr(route, "original_route", route), "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if dep.call is enforce:
            return True
        stack.extend(dep.dependencies)
    return False


def test_every_route_has_an_enforced_rule(web: WebTrial) -> None:
    found, unknown = endpoints(web.app)
    assert not unknown, f"routes that are neither APIRoutes nor known public builtins: {unknown}"
    missing = [e.name for e in found if e.rule is None]
    assert not missing, f"routes without @rule(...): {missing}"
    unenforced = [e.name for e in found if _is_ours(e) and not _enforced(e.route)]
    assert not unenforced, f"routes whose rule is never applied (no `who: Who`): {unenforced}"
    assert len(found) >= 20


def _is_ours(e: Endpoint) -> bool:
    return not (e.path.startswith(STATIC) or (e.method, e.path) in BUILTIN_PUBLIC)


def test_a_route_without_a_rule_is_caught(web: WebTrial) -> None:
    """The detector itself: an extra route with no rule is reported."""
    from resolve.web.app import create_app

    app = create_app(web.db, key_file=web.key_file)

    @app.get("/no-rule-here")
    def no_rule() -> dict[str, str]:
        return {}

    found, _ = endpoints(app)
    assert [e.name for e in found if e.rule is None] == ["GET /no-rule-here"]


# ----------------------------------------------------------------------------- calling everything
@dataclass
class Values:
    """Real values for path parameters."""

    participant: str
    token: str

    def fill(self, path: str) -> str:
        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in ("participant", "participant_id", "pid", "code"):
                return self.participant
            if name == "token":
                return self.token
            if name == "instrument":
                return "nrs"
            if name == "visit":
                return "baseline"
            return "1"  # ids of records: unknown ones answer 404/422, never 401/403

        return _PARAM.sub(one, path)


def _body_params(route: Any) -> list[Any]:
    dependant = getattr(route, "dependant", None)
    return list(getattr(dependant, "body_params", []) if dependant is not None else [])


def _takes_form(route: Any) -> bool:
    """Whether the route's declared body is a form (else JSON, or nothing declared)."""
    from fastapi import params

    return any(isinstance(p.field_info, params.Form) for p in _body_params(route))


def form_fields(route: Any) -> dict[str, str]:
    """Plausible values for a route's declared form fields (so a refusal is not a 422)."""
    out: dict[str, str] = {}
    for param in _body_params(route):
        annotation = getattr(param.field_info, "annotation", None)
        out[param.alias] = "1" if annotation in (int, float) else "x"
    out.pop("csrf_token", None)
    return out


def call(web: WebTrial, role: str, e: Endpoint, values: Values) -> Any:
    path = values.fill(e.path)
    if role == ANON:
        client = web.anon()
    elif e.api:
        client = web.api(role)
    else:
        client = web.page(role)
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if e.method in ("POST", "PUT", "PATCH", "DELETE"):
        if e.api:
            if _takes_form(e.route):
                kwargs["data"] = {}
            else:
                kwargs["json"] = {}
        else:  # a public form gets nothing (no sign-in attempt is made, or counted)
            assert e.rule is not None
            data = form_fields(e.route) if e.rule.access in ("user", "operation") else {}
            if role != ANON:
                data["csrf_token"] = web.csrf(role)
            kwargs["data"] = data
    return client.request(e.method, path, **kwargs)


def _signs_in(r: Any) -> bool:
    return r.status_code in (302, 303, 307) and r.headers.get("location", "").endswith("/login")


def check(role: str, e: Endpoint, r: Any) -> str | None:
    """What is wrong with answer ``r`` of ``e`` to ``role`` (None: as the matrix says)."""
    code = r.status_code
    if code >= 500:
        return f"server error {code}: {r.text[:200]}"
    assert e.rule is not None
    access = e.rule.access
    if access in ("public", "link"):
        if code in (401, 403) or _signs_in(r):
            return f"{access} route refused ({code})"
        return None
    if role == ANON:
        if e.api and code != 401:
            return f"anonymous API call got {code}, not 401"
        if not e.api and not _signs_in(r):
            return f"anonymous page call got {code}, not a redirect to /login"
        return None
    if e.path == "/logout" and not e.api:
        return None if _signs_in(r) else f"sign-out answered {code}, not a redirect to /login"
    if code == 401 or _signs_in(r):
        return f"signed-in {role} treated as anonymous ({code})"
    if access == "user":
        return None
    assert e.rule.operation is not None
    may = Role(role) in MATRIX[e.rule.operation]
    refused = {404} if e.rule.hide else {403}
    if may and code == 403:
        return f"{role} may {e.rule.operation.value} but got 403: {r.text[:160]}"
    if not may and code not in refused:
        return f"{role} may not {e.rule.operation.value} but got {code}"
    return None


@pytest.fixture(scope="module")
def values(web: WebTrial) -> Values:
    return Values(participant="D001", token=web.link("D002", "week 12"))


def _order(found: list[Endpoint]) -> list[Endpoint]:
    """GETs first, then writes; signing out (which ends the credential) last."""

    def key(e: Endpoint) -> tuple[int, str]:
        if e.path.endswith("/logout"):
            return 2, e.name
        return (0 if e.method in ("GET", "HEAD") else 1), e.name

    return sorted(found, key=key)


#: Admin last: its forms lock the database and unblind the statistician (the other roles'
#: writes would then all answer 409 rather than exercise the operation).
ROLE_ORDER = [ANON, *(r for r in ALL_ROLES if r != "admin"), "admin"]


@pytest.mark.parametrize("role", ROLE_ORDER)
def test_role_matrix(web: WebTrial, values: Values, role: str) -> None:
    found, _ = endpoints(web.app)
    problems = []
    for e in _order(found):
        if e.rule is None:
            continue
        r = call(web, role, e, values)
        problem = check(role, e, r)
        if problem:
            problems.append(f"{e.name} as {role}: {problem}")
    web.forget(role)  # the sign-out routes ended this role's credentials
    assert not problems, "\n".join(problems)
