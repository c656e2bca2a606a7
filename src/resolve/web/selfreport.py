"""Participant self-report: staff create a personal link; the participant answers on a phone.

Staff pages (enroller, assessor: operation ``create participant link``):
``GET /participants/{participant}/links`` lists a participant's links and offers
the form; ``POST`` creates a link for one visit and shows its address once
(:func:`resolve.ops.links.create_link`: 256-bit token, only its SHA-256 stored).

Participant pages (rule ``"link"``: the token in the path is the credential, no
account, no cookie, hence no CSRF token either — a forged request would need
the token itself): ``GET /p/{token}`` lists the questionnaires due at the
link's visit; ``/p/{token}/q/{instrument}`` shows one questionnaire, all
questions on one page or one question per screen (``?one=1``); every answer is
saved as a draft (on "Next", or as it is chosen when JavaScript runs), so the
participant can stop and come back; ``/p/{token}/review`` shows every answer and
``POST /p/{token}/submit`` submits them, finally (scored, stored and audited as
:func:`resolve.ops.record` does; the link is then used). An unknown, expired or
used link gives one neutral 404 page. These pages show no arm, no programme
content and no participant id, and name no trial arm in their texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from resolve import ops
from resolve.errors import DataValidationError
from resolve.ops import links
from resolve.ops.context import TrialStateError
from resolve.ops.permissions import Operation, PermissionDenied
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.routing import rule

__all__ = ["MEDICATION_SLOTS", "router"]

router = APIRouter()

#: Medication boxes shown to a participant.
MEDICATION_SLOTS = 8
_AUTOSAVE = "x-resolve-autosave"


# ----------------------------------------------------------------------------- questions
@dataclass(frozen=True)
class Choice:
    """One answer option of a question."""

    value: str
    label: str


@dataclass(frozen=True)
class Question:
    """One question as shown: its key (item number or medication slot), text and choices."""

    key: str
    text: str
    choices: tuple[Choice, ...]  # empty: a free-text box (medication)


def _instrument(instrument_id: str) -> Any:
    from resolve.instruments import get

    return get(instrument_id)


def _is_medication(inst: Any) -> bool:
    from resolve.instruments import MedicationInstrument

    return isinstance(inst, MedicationInstrument)


def questions(instrument_id: str) -> list[Question]:
    """The questions of an instrument, with neutral labels (or the site's attached wording)."""
    inst = _instrument(instrument_id)
    if _is_medication(inst):
        return [
            Question(str(k), t("self.medication_slot", n=k), ())
            for k in range(1, MEDICATION_SLOTS + 1)
        ]
    out = []
    for item in inst.items:
        anchors = {int(k): str(v) for k, v in dict(item.anchors).items()}
        every = all(c in anchors for c in item.codes)
        choices = []
        for code in item.codes:
            if every:
                label = anchors[code]
            elif code in anchors:
                label = t("self.choice_anchor", code=code, anchor=anchors[code])
            else:
                label = str(code)
            choices.append(Choice(str(code), label))
        out.append(Question(str(item.number), item.text or item.label, tuple(choices)))
    return out


def _screens(instrument_id: str) -> list[list[Question]]:
    """The screens of one-question-per-screen mode (the medication list is one screen)."""
    qs = questions(instrument_id)
    return [qs] if _is_medication(_instrument(instrument_id)) else [[q] for q in qs]


def _title(instrument_id: str) -> str:
    return str(_instrument(instrument_id).title)


def _answer_label(instrument_id: str, key: str, value: Any) -> str:
    for q in questions(instrument_id):
        if q.key == key:
            for c in q.choices:
                if c.value == str(value):
                    return c.label
    return str(value)


# ----------------------------------------------------------------------------- helpers
def _store(request: Request) -> Any:
    return request.app.state.store


def _gone(request: Request) -> HTMLResponse:
    """The one page for every unknown, expired or used link."""
    page = render(request, "s_gone.html", None)
    page.status_code = 404
    return page


def _one(value: str) -> bool:
    return value == "1"


def _int(value: str, default: int) -> int:
    return int(value) if value.isdigit() and len(value) < 6 else default


def _q(token: str, instrument: str, one: bool, n: int | None = None) -> str:
    url = f"/p/{token}/q/{instrument}"
    if one:
        url += "?one=1" + (f"&n={n}" if n is not None else "")
    return url


def _next_url(token: str, state: links.LinkState, instrument: str, one: bool, n: int) -> str:
    """Where "Next" leads: the next screen, the next questionnaire, or the review."""
    if one and n < len(_screens(instrument)):
        return _q(token, instrument, one, n + 1)
    later = list(state.due[state.due.index(instrument) + 1 :]) if instrument in state.due else []
    gaps = state.missing()
    for inst in later + list(state.due):
        if inst in gaps:
            return _q(token, inst, one, _first_gap(inst, gaps[inst]) if one else None)
    return f"/p/{token}/review" + ("?one=1" if one else "")


def _first_gap(instrument: str, gaps: list[str]) -> int:
    for i, screen in enumerate(_screens(instrument), start=1):
        if any(q.key in gaps for q in screen):
            return i
    return 1


# ----------------------------------------------------------------------------- staff pages
def _visits_with_questionnaires(request: Request, who: Who) -> list[str]:
    def work(ctx: ops.Context) -> list[str]:
        return [v.name for v in ctx.protocol.visits if v.instruments]

    return client(request, who).run(work)


def _links_page(
    request: Request,
    who: Who,
    participant: str,
    *,
    error: str | None = None,
    status: int = 200,
    visit: str = "",
) -> HTMLResponse:
    runner = client(request, who)
    rows = runner.run(ops.participant_links, participant)
    page = render(
        request,
        "s_links.html",
        who,
        participant=participant,
        rows=rows,
        visits=_visits_with_questionnaires(request, who),
        chosen=visit,
        ttl=links.DEFAULT_TTL_HOURS,
        max_ttl=links.MAX_TTL_HOURS,
        error=error,
    )
    page.status_code = status
    return page


@router.get(
    "/participants/{participant}/links", response_class=HTMLResponse, include_in_schema=False
)
@rule("operation", Operation.create_participant_link)
def links_page(request: Request, who: Who, participant: str) -> HTMLResponse:
    """A participant's self-report links and the form to create one."""
    return _links_page(request, who, participant)


@router.post(
    "/participants/{participant}/links", response_class=HTMLResponse, include_in_schema=False
)
@rule("operation", Operation.create_participant_link)
def links_create(
    request: Request,
    who: Who,
    participant: str,
    visit: Annotated[str, Form()] = "",
    ttl_hours: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Create a link for one visit and show its address, once."""
    check_csrf(who, csrf_token)
    ttl = _int(ttl_hours.strip(), -1) if ttl_hours.strip() else links.DEFAULT_TTL_HOURS
    try:
        token = client(request, who).run(ops.create_link, participant, visit=visit, ttl_hours=ttl)
    except DataValidationError as exc:
        return _links_page(request, who, participant, error=str(exc), status=422, visit=visit)
    except TrialStateError as exc:
        return _links_page(request, who, participant, error=str(exc), status=409, visit=visit)
    except PermissionDenied as exc:
        return _links_page(request, who, participant, error=str(exc), status=403, visit=visit)
    url = str(request.base_url).rstrip("/") + f"/p/{token}"
    page = render(
        request, "s_link_created.html", who, participant=participant, visit=visit, url=url, ttl=ttl
    )
    page.status_code = 201
    return page


# ----------------------------------------------------------------------------- participant pages
@router.get("/p/{token}", response_class=HTMLResponse, include_in_schema=False)
@rule("link")
def start(request: Request, who: Who, token: str, one: str = "") -> HTMLResponse:
    """The questionnaires due on this link, with progress and where to continue."""
    try:
        state = links.link_status(_store(request), token)
    except links.LinkGone:
        return _gone(request)
    gaps = state.missing()
    rows = []
    for inst in state.due:
        total = len(links.unanswered(inst, {}))
        rows.append(
            {
                "id": inst,
                "title": _title(inst),
                "answered": total - len(gaps.get(inst, [])),
                "total": total,
                "done": inst not in gaps,
            }
        )
    resume = f"/p/{token}/review" + ("?one=1" if _one(one) else "")
    for inst in state.due:
        if inst in gaps:
            resume = _q(token, inst, _one(one), _first_gap(inst, gaps[inst]) if _one(one) else None)
            break
    return render(
        request,
        "s_start.html",
        None,
        token=token,
        state=state,
        rows=rows,
        one=_one(one),
        resume=resume,
        started=any(state.draft.values()),
    )


def _questions_page(
    request: Request,
    token: str,
    state: links.LinkState,
    instrument: str,
    one: bool,
    n: int,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    screens = _screens(instrument)
    n = min(max(n, 1), len(screens))
    shown = screens[n - 1] if one else questions(instrument)
    answers = {k: str(v) for k, v in state.answers(instrument).items()}
    if typed:
        answers.update(typed)
    position = state.due.index(instrument) + 1
    page = render(
        request,
        "s_questions.html",
        None,
        token=token,
        instrument=instrument,
        title=_title(instrument),
        medication=_is_medication(_instrument(instrument)),
        questions=shown,
        answers=answers,
        one=one,
        n=n,
        screens=len(screens),
        position=position,
        count=len(state.due),
        back=(_q(token, instrument, one, n - 1) if one and n > 1 else None),
        error=error,
    )
    page.status_code = status
    return page


@router.get("/p/{token}/q/{instrument}", response_class=HTMLResponse, include_in_schema=False)
@rule("link")
def questionnaire(
    request: Request, who: Who, token: str, instrument: str, one: str = "", n: str = "1"
) -> Response:
    """One due questionnaire: every question, or one per screen (``?one=1&n=...``)."""
    try:
        state = links.link_status(_store(request), token)
    except links.LinkGone:
        return _gone(request)
    if instrument not in state.due:
        return RedirectResponse(f"/p/{token}" + ("?one=1" if _one(one) else ""), status_code=303)
    return _questions_page(request, token, state, instrument, _one(one), _int(n, 1))


@router.post("/p/{token}/q/{instrument}", response_class=HTMLResponse, include_in_schema=False)
@rule("link")
async def questionnaire_save(request: Request, who: Who, token: str, instrument: str) -> Response:
    """Save the answers of the form as a draft; go on (or, for the autosave script, 204)."""
    form = await request.form()
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    autosave = request.headers.get(_AUTOSAVE) == "1"
    return await run_in_threadpool(_save, request, token, instrument, fields, autosave)


def _save(
    request: Request, token: str, instrument: str, fields: list[tuple[str, str]], autosave: bool
) -> Response:
    form = dict(fields)
    one = _one(form.get("one", ""))
    n = _int(form.get("n", "1"), 1)
    answers: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for name, text in fields:
        if name.startswith("item_"):
            answers[name[5:]] = text
        elif name.startswith("slot_"):
            answers[name[5:]] = text
            typed[name[5:]] = text
    store = _store(request)
    try:
        state = links.link_status(store, token)
        if instrument not in state.due:
            raise DataValidationError(t("self.not_due"))
        state = links.save_draft(store, token, instrument, answers)
    except links.LinkGone:
        return _gone(request)
    except DataValidationError as exc:
        if autosave:
            return Response(str(exc), status_code=422, media_type="text/plain")
        try:
            state = links.link_status(store, token)
        except links.LinkGone:
            return _gone(request)
        if instrument not in state.due:
            return RedirectResponse(f"/p/{token}", status_code=303)
        return _questions_page(
            request, token, state, instrument, one, n, error=str(exc), typed=typed, status=422
        )
    if autosave:
        return Response(status_code=204)
    return RedirectResponse(_next_url(token, state, instrument, one, n), status_code=303)


@router.get("/p/{token}/review", response_class=HTMLResponse, include_in_schema=False)
@rule("link")
def review(request: Request, who: Who, token: str, one: str = "") -> HTMLResponse:
    """Every answer, the questions still open, and the final submit button."""
    try:
        state = links.link_status(_store(request), token)
    except links.LinkGone:
        return _gone(request)
    return _review_page(request, token, state, _one(one))


def _review_page(
    request: Request,
    token: str,
    state: links.LinkState,
    one: bool,
    *,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    gaps = state.missing()
    sections = []
    for inst in state.due:
        answers = state.answers(inst)
        screens = _screens(inst)
        items = []
        for i, screen in enumerate(screens, start=1):
            for q in screen:
                if q.key in answers:
                    shown = _answer_label(inst, q.key, answers[q.key])
                elif q.key in gaps.get(inst, []):
                    shown = None
                else:
                    continue  # an empty, optional medication box
                items.append(
                    {
                        "text": q.text,
                        "answer": shown,
                        "edit": _q(token, inst, one, i) if one else _q(token, inst, False),
                    }
                )
        sections.append({"id": inst, "title": _title(inst), "answers": items})
    page = render(
        request,
        "s_review.html",
        None,
        token=token,
        sections=sections,
        complete=not gaps,
        one=one,
        error=error,
    )
    page.status_code = status
    return page


@router.post("/p/{token}/submit", response_class=HTMLResponse, include_in_schema=False)
@rule("link")
def submit(request: Request, who: Who, token: str) -> HTMLResponse:
    """Submit every answer, finally; the link is used up."""
    store = _store(request)
    try:
        links.submit_link(store, token, key_file=request.app.state.key_file)
    except links.LinkGone:
        return _gone(request)
    except DataValidationError as exc:
        try:
            state = links.link_status(store, token)
        except links.LinkGone:
            return _gone(request)
        return _review_page(request, token, state, False, error=str(exc), status=422)
    return render(request, "s_done.html", None)
