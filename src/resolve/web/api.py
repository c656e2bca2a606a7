"""JSON API beyond the fixed interface: screen, consent, record, schedule, logout.

The fixed interface (``POST /api/v1/auth/token``, ``GET /api/v1/participants``,
``GET /api/v1/participants/{participant_id}``, ``POST
/api/v1/participants/{participant_id}/randomise``) lives in
:mod:`resolve.web.app`; this router adds, under ``/api/v1``:

- ``POST /participants`` — screen (or rescreen) a participant (enroller);
- ``POST /participants/{participant_id}/consent`` — record consent (enroller);
- ``POST /participants/{participant_id}/responses`` — record one questionnaire,
  scored on save (enroller, assessor);
- ``GET /participants/{participant_id}/schedule`` — a randomised participant's
  visit calendar (every staff role);
- ``POST /auth/logout`` — revoke the bearer token that authenticates the call.

Every write needs a bearer token (a cookie alone could be replayed by another
site). Unauthenticated calls get 401, a role the permission matrix refuses 403,
an unknown participant 404, a request the participant's or the trial's state
does not allow 409 and invalid data 422 (``{"detail": ...}``). No response here
carries an arm.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from resolve import ops
from resolve.ops.permissions import Operation
from resolve.web import auth
from resolve.web.app import Who, client
from resolve.web.routing import rule

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


class ErrorOut(BaseModel):
    """An error: a one-line message, or the list of request validation problems."""

    detail: str | list[dict[str, Any]]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Not authenticated (no, expired or revoked bearer token)",
        403: "The caller's role may not do this",
        404: "No such participant",
        409: "The participant's or the trial's state does not allow this",
        422: "Invalid request data",
    }
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}


class ScreenIn(BaseModel):
    """Screening data of one participant (rescreening is allowed until consent)."""

    model_config = ConfigDict(extra="forbid")

    participant_id: str = Field(min_length=1, max_length=64, examples=["P001"])
    age: int = Field(ge=0, le=150)
    duration_weeks: float = Field(ge=0, le=5000, allow_inf_nan=False)
    pain: int = Field(ge=0, le=10)
    identity: str = Field(
        min_length=1,
        max_length=200,
        description="Identifying fields (e.g. date of birth and initials); stored only as "
        "a keyed hash, to refuse enrolling one person twice",
        examples=["1984-02-01 AB"],
    )
    exclusions: list[str] = Field(default_factory=list, max_length=50)
    factors: dict[str, str] | None = Field(default=None, max_length=20)


class ScreenOut(BaseModel):
    """The eligibility verdict."""

    participant_id: str
    status: str
    eligible: bool
    reasons: list[str]


class ConsentIn(BaseModel):
    """The consent form version the participant signed."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, max_length=64, examples=["1.0"])


class ConsentOut(BaseModel):
    """A participant after consent."""

    participant_id: str
    status: str
    consent_version: str | None = None
    consented_at: str | None = None


class RecordIn(BaseModel):
    """Item-level answers to one questionnaire at one visit."""

    model_config = ConfigDict(extra="forbid")

    visit: str = Field(min_length=1, max_length=64, examples=["baseline"])
    instrument: str = Field(min_length=1, max_length=64, examples=["nrs"])
    items: dict[str, int | str | None] = Field(
        max_length=200,
        description="Item (number or column name) -> code; medication slots -> name",
        examples=[{"1": 6}],
    )


class RecordOut(BaseModel):
    """The stored response's scores (computed on save)."""

    participant_id: str
    visit: str
    instrument: str
    scores: dict[str, float | None]
    n_missing: int
    missing_items: list[int | str]
    prorated: bool
    categories: dict[str, str | None]


class ScheduleRowOut(BaseModel):
    """One visit of a participant's calendar; ``status`` recorded, due, overdue... or empty."""

    visit: str
    target_date: str
    window_start: str
    window_end: str
    status: str


def _nan(value: Any) -> Any:
    return None if value != value else value  # NaN -> None


def _participant(request: Request, who: Who, code: str) -> dict[str, Any]:
    """The participant's row as the caller may see it (404 if unknown)."""
    frame = client(request, who).run(ops.participants)
    rows = frame[frame["participant_id"] == code].to_dict("records")
    if not rows:
        raise HTTPException(404, f"participant {code!r} has not been screened")
    return {str(k): _nan(v) for k, v in rows[0].items()}


@router.post(
    "/participants",
    response_model=ScreenOut,
    tags=["participants"],
    responses=_errors(401, 403, 409, 422),
)
@rule("operation", Operation.screen)
def api_screen(request: Request, who: Who, body: ScreenIn) -> ScreenOut:
    """Screen (or rescreen, until consent) a participant against the eligibility rules."""
    result = client(request, who).run(
        ops.screen,
        body.participant_id,
        age=body.age,
        duration_weeks=body.duration_weeks,
        pain=body.pain,
        identity=body.identity,
        exclusions=body.exclusions,
        factors=body.factors,
    )
    return ScreenOut(
        participant_id=unicodedata.normalize("NFC", body.participant_id),
        status="eligible" if result.eligible else "ineligible",
        eligible=bool(result.eligible),
        reasons=[str(r) for r in result.reasons],
    )


@router.post(
    "/participants/{participant_id}/consent",
    response_model=ConsentOut,
    response_model_exclude_none=True,
    tags=["participants"],
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.consent)
def api_consent(request: Request, who: Who, participant_id: str, body: ConsentIn) -> ConsentOut:
    """Record informed consent to a protocol consent version (re-consent to a newer one)."""
    client(request, who).run(ops.consent, participant_id, version=body.version)
    row = _participant(request, who, unicodedata.normalize("NFC", participant_id))
    return ConsentOut(
        participant_id=str(row["participant_id"]),
        status=str(row["status"]),
        consent_version=row.get("consent_version"),
        consented_at=row.get("consented_at"),
    )


@router.post(
    "/participants/{participant_id}/responses",
    response_model=RecordOut,
    status_code=201,
    tags=["responses"],
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.record)
def api_record(request: Request, who: Who, participant_id: str, body: RecordIn) -> RecordOut:
    """Record item-level answers to one questionnaire at one visit; the scores are returned.

    A second record of the same questionnaire and visit is refused (409): a change is a
    correction with a reason.
    """
    stored = client(request, who).run(
        ops.record,
        participant_id,
        visit=body.visit,
        instrument=body.instrument,
        items=dict(body.items),
    )
    return RecordOut(
        participant_id=unicodedata.normalize("NFC", participant_id),
        visit=body.visit,
        instrument=body.instrument,
        scores={k: _nan(v) for k, v in stored["scores"].items()},
        n_missing=int(stored["n_missing"]),
        missing_items=list(stored["missing_items"]),
        prorated=bool(stored["prorated"]),
        categories={k: _nan(v) for k, v in stored["categories"].items()},
    )


@router.get(
    "/participants/{participant_id}/schedule",
    response_model=list[ScheduleRowOut],
    tags=["participants"],
    responses=_errors(401, 403, 404, 409, 422),
)
@rule("operation", Operation.view_schedule)
def api_schedule(request: Request, who: Who, participant_id: str) -> list[ScheduleRowOut]:
    """A randomised participant's visits: target date, window, status (409 before randomisation)."""
    frame = client(request, who).run(ops.participant_schedule, participant_id)
    return [
        ScheduleRowOut(
            visit=str(r["visit"]),
            target_date=r["target_date"].isoformat(),
            window_start=r["window_start"].isoformat(),
            window_end=r["window_end"].isoformat(),
            status=str(r["status"] or ""),
        )
        for r in frame.to_dict("records")
    ]


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    tags=["auth"],
    responses=_errors(401),
)
@rule("user")
def api_logout(request: Request, who: Who) -> Response:
    """Revoke the bearer token of this call: it stops working at once."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise HTTPException(401, "not authenticated", headers={"WWW-Authenticate": "Bearer"})
    auth.revoke_token(request.app.state.store, header[7:].strip())
    return Response(status_code=204)
