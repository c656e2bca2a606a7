"""Shared helpers of the trial staff pages (:mod:`pages_participants`, :mod:`pages_data`,
:mod:`pages_admin`): form reading, links, the navigation by role, what the actor sees.

Examples
--------
>>> href("participants", "P 1", "record", "week 18")
'/participants/P%201/record/week%2018'
>>> [h for h, _ in nav_links("assessor")]
[]
>>> [h for h, _ in nav_links("admin")]
['/audit', '/users', '/lock']
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.datastructures import FormData

from resolve.ops.permissions import Operation, allowed
from resolve.web.i18n import t

if TYPE_CHECKING:
    from resolve.ops import Client
    from resolve.ops.permissions import ArmView

__all__ = [
    "NAV",
    "Form",
    "actor_site",
    "arm_view_of",
    "clean",
    "form_fields",
    "href",
    "may",
    "nav_links",
    "trial_status",
]


async def form_fields(request: Request) -> FormData:
    """The submitted form (url-encoded or multipart), read once."""
    return await request.form()


#: A submitted form, for endpoints whose fields follow the protocol or the instrument.
Form = Annotated[FormData, Depends(form_fields)]

#: Navigation entries of the staff pages: (path, message id, operation that opens it).
NAV: tuple[tuple[str, str, Operation], ...] = (
    ("/screen", "nav.screen", Operation.screen),
    ("/audit", "nav.audit", Operation.read_audit),
    ("/export", "nav.export", Operation.export),
    ("/report", "nav.report", Operation.export),
    ("/users", "nav.users", Operation.list_users),
    ("/lock", "lock.nav", Operation.lock_database),
)


def nav_links(role: str | None) -> list[tuple[str, str]]:
    """(path, label) of the staff pages ``role`` may open, in menu order."""
    if not role:
        return []
    return [(path, t(key)) for path, key, op in NAV if allowed(role, op)]


def may(role: str | None, operation: str | Operation) -> bool:
    """Whether ``role`` may run ``operation`` (a template helper; the ops check again)."""
    return bool(role) and allowed(str(role), Operation(operation))


def href(*parts: object) -> str:
    """An absolute path from segments, each percent-encoded (visit names hold spaces)."""
    return "/" + "/".join(quote(str(p), safe="") for p in parts)


def clean(value: Any) -> Any:
    """None for NaN/NaT/None cells of a data frame row; the value otherwise."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def arm_view_of(runner: Client) -> ArmView:
    """What the client's user sees of arms now (depends on the trial's status)."""
    return runner.run(lambda ctx: ctx.arm_view)


def trial_status(runner: Client) -> str:
    """The trial's data status: open, locked or unblinded."""
    return runner.run(lambda ctx: str(ctx.trial.status))


def actor_site(runner: Client) -> str | None:
    """The site a site-bound user works at (None: all sites)."""
    return runner.run(lambda ctx: ctx.actor.site)
