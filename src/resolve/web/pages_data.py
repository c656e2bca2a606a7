"""Trial staff pages about data: questionnaire entry and corrections, the audit trail,
exports and the analysis report.

Questionnaire forms are generated from the instrument definitions
(:func:`resolve.instruments.get`): item numbers, neutral short labels and the
code range of each item, never licensed wording, unless the site supplies its
licensed wording as a CSV file (``instrument,item,text``;
:func:`resolve.instruments.load_wording`) named by the environment variable
:data:`WORDING_ENV` or ``app.state.wording_file``. Validation is the scoring
engine's: each :class:`~resolve.errors.DataValidationError` names its item and
is shown next to it.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import string
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from resolve import ops
from resolve.errors import DataValidationError, ResolveError, UnknownNameError
from resolve.instruments import Instrument, MedicationInstrument, get, load_wording
from resolve.ops.permissions import Operation
from resolve.trial.exports._contract import items_of
from resolve.trial.protocol import Protocol
from resolve.web.app import Who, check_csrf, client, render
from resolve.web.i18n import t
from resolve.web.pages_participants import participant_row
from resolve.web.pages_support import Form, arm_view_of, clean, href, may, trial_status
from resolve.web.routing import rule

__all__ = ["AUDIT_PAGE_SIZE", "WORDING_ENV", "item_errors", "router"]

router = APIRouter(include_in_schema=False)

#: Environment variable naming a site's licensed item wording CSV (instrument,item,text).
WORDING_ENV = "RESOLVE_WORDING_FILE"
#: Audit events per page.
AUDIT_PAGE_SIZE = 50

_ITEM_ERROR = re.compile(r", item ([A-Za-z0-9_]+): (.*)$", re.DOTALL)


# ----------------------------------------------------------------------------- instruments
@functools.lru_cache(maxsize=4)
def _wording(path: str, mtime: float) -> dict[str, Instrument]:
    return load_wording(path)


def instrument_for(request: Request, instrument: str) -> Instrument | MedicationInstrument:
    """The registered instrument, with the site's licensed wording when configured."""
    inst = get(instrument)
    path = getattr(request.app.state, "wording_file", None) or os.environ.get(WORDING_ENV)
    if path and isinstance(inst, Instrument) and Path(path).is_file():
        worded = _wording(str(path), Path(path).stat().st_mtime)
        return worded.get(inst.id, inst)
    return inst


def _fields(inst: Instrument | MedicationInstrument) -> list[dict[str, Any]]:
    """One form field per item (or medication slot): name, column, label, hint, range."""
    if isinstance(inst, MedicationInstrument):
        return [
            {
                "number": k,
                "column": col,
                "name": f"item_{k}",
                "label": t("record.slot", n=k),
                "hint": t("record.slot_hint") if k == 1 else "",
                "numeric": False,
            }
            for k, col in enumerate(inst.columns, start=1)
        ]
    out = []
    for it in inst.items:
        anchors = "; ".join(f"{code} = {text}" for code, text in sorted(it.anchors.items()))
        out.append(
            {
                "number": it.number,
                "column": inst.column(it.number),
                "name": f"item_{it.number}",
                "label": it.text or it.label,
                "hint": t("record.range", low=it.low, high=it.high)
                + (f" ({anchors})" if anchors else ""),
                "numeric": True,
                "low": it.low,
                "high": it.high,
            }
        )
    return out


def _code(text: str) -> Any:
    """A typed item code: int when it reads as one, else float, else the text (the
    scoring engine then names the problem)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _read_items(
    inst: Instrument | MedicationInstrument, fields: list[dict[str, Any]], form: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """(items by column for the service layer, the texts typed by field name)."""
    items: dict[str, Any] = {}
    typed: dict[str, str] = {}
    for f in fields:
        text = str(form.get(f["name"], "")).strip()
        typed[f["name"]] = text
        if text:
            items[f["column"]] = _code(text) if f["numeric"] else text
    return items, typed


def item_errors(
    inst: Instrument | MedicationInstrument, items: dict[str, Any], respondent: str
) -> tuple[dict[str, str], str | None]:
    """Every item the scoring engine refuses (column -> its message), and any other problem.

    The engine stops at the first bad item; each one found is set aside as
    unanswered and the rest scored again, so all bad items are reported at once.
    """
    trial = dict(items)
    errors: dict[str, str] = {}
    for _ in range(len(items) + 1):
        try:
            inst.score(trial, respondent=respondent)  # type: ignore[arg-type]
        except DataValidationError as exc:
            found = _ITEM_ERROR.search(str(exc))
            column = found.group(1) if found else None
            if found is None or column not in trial or column in errors:
                return errors, str(exc)
            errors[str(column)] = found.group(2)
            trial[str(column)] = None
            continue
        return errors, None
    return errors, None


def _stored(runner: ops.Client, participant: str, visit: str, instrument: str) -> Any:
    frame = runner.run(ops.responses)
    hit = frame[
        (frame["participant_id"] == participant)
        & (frame["visit"] == visit)
        & (frame["instrument"] == instrument)
    ].to_dict("records")
    return hit[0] if hit else None


def _check_visit(protocol: Protocol, visit: str, instrument: str) -> None:
    try:
        spec = protocol.visit(visit)
    except DataValidationError:
        raise UnknownNameError(t("record.unknown_visit", visit=visit)) from None
    if instrument not in spec.instruments:
        raise UnknownNameError(t("record.unknown_instrument", instrument=instrument, visit=visit))


def _score_view(scores: dict[str, Any] | None) -> dict[str, Any]:
    scores = scores or {}
    return {
        "scores": [(k, clean(v)) for k, v in (scores.get("scores") or {}).items()],
        "categories": [(k, v) for k, v in (scores.get("categories") or {}).items()],
        "n_missing": scores.get("n_missing", 0),
        "prorated": bool(scores.get("prorated")),
    }


def _entry_page(
    request: Request,
    who: Who,
    runner: ops.Client,
    participant: str,
    visit: str,
    instrument: str,
    *,
    correcting: bool,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    general: str | None = None,
    reason: str = "",
    reason_error: str | None = None,
    flash: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    protocol: Protocol = runner.run(lambda ctx: ctx.protocol)
    _check_visit(protocol, visit, instrument)
    row = participant_row(runner, participant)
    inst = instrument_for(request, instrument)
    fields = _fields(inst)
    stored = _stored(runner, participant, visit, instrument)
    old: dict[int, Any] = {}
    if stored is not None:
        old = items_of(stored["items"], f"{participant}/{visit}/{instrument}")
    if typed is None:
        typed = (
            {
                f["name"]: "" if old.get(f["number"]) is None else str(old[f["number"]])
                for f in fields
            }
            if correcting
            else {}
        )
    by_name = {f["column"]: f["name"] for f in fields}
    page = render(
        request,
        "p_record.html",
        who,
        p=row,
        visit=visit,
        inst=inst,
        fields=fields,
        typed=typed,
        errors={by_name.get(c, c): m for c, m in (errors or {}).items()},
        general=general,
        stored=stored,
        old=old,
        score=_score_view(stored["scores"]) if stored is not None else None,
        correcting=correcting,
        reason=reason,
        reason_error=reason_error,
        flash=flash,
        may_correct=may(who.role if who else None, Operation.correct),
        trial_open=trial_status(runner) == "open",
        page_href=href("participants", participant, "record", visit, instrument),
        href=href,
    )
    page.status_code = status
    return page


_FLASH = {"saved": "record.saved", "corrected": "correct.saved"}


@router.get("/participants/{participant}/record/{visit}/{instrument}", response_class=HTMLResponse)
@rule("operation", Operation.record)
def record_page(
    request: Request, who: Who, participant: str, visit: str, instrument: str, done: str = ""
) -> HTMLResponse:
    """Item-level entry of one questionnaire, or the stored answers and score."""
    runner = client(request, who)
    flash = t(_FLASH[done]) if done in _FLASH else None
    return _entry_page(
        request, who, runner, participant, visit, instrument, correcting=False, flash=flash
    )


def _save(
    request: Request,
    who: Who,
    participant: str,
    visit: str,
    instrument: str,
    form: Any,
    *,
    correcting: bool,
) -> Response:
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    protocol: Protocol = runner.run(lambda ctx: ctx.protocol)
    _check_visit(protocol, visit, instrument)
    inst = instrument_for(request, instrument)
    items, typed = _read_items(inst, _fields(inst), form)
    reason = " ".join(str(form.get("reason", "")).split())
    errors, general = item_errors(inst, items, participant)
    reason_error = t("correct.err.reason") if correcting and not reason else None

    def again(status: int, general: str | None = general) -> HTMLResponse:
        return _entry_page(
            request,
            who,
            runner,
            participant,
            visit,
            instrument,
            correcting=correcting,
            typed=typed,
            errors=errors,
            general=general,
            reason=reason,
            reason_error=reason_error,
            status=status,
        )

    if errors or general or reason_error:
        return again(422)
    try:
        if correcting:
            runner.run(
                ops.correct,
                participant,
                visit=visit,
                instrument=instrument,
                items=items,
                reason=reason,
            )
        else:
            runner.run(ops.record, participant, visit=visit, instrument=instrument, items=items)
    except DataValidationError as exc:
        return again(422, str(exc))
    except ops.TrialStateError as exc:
        return again(409, str(exc))
    done = "corrected" if correcting else "saved"
    return RedirectResponse(
        href("participants", participant, "record", visit, instrument) + f"?done={done}",
        status_code=303,
    )


@router.post("/participants/{participant}/record/{visit}/{instrument}", response_class=HTMLResponse)
@rule("operation", Operation.record)
def record_submit(
    request: Request, who: Who, participant: str, visit: str, instrument: str, form: Form
) -> Response:
    """Store the answers (scored on save); then the page shows the score."""
    return _save(request, who, participant, visit, instrument, form, correcting=False)


@router.get(
    "/participants/{participant}/record/{visit}/{instrument}/correct",
    response_class=HTMLResponse,
)
@rule("operation", Operation.correct)
def correct_page(
    request: Request, who: Who, participant: str, visit: str, instrument: str
) -> HTMLResponse:
    """The correction form: the stored values beside each item and a required reason."""
    runner = client(request, who)
    if _stored(runner, participant, visit, instrument) is None:
        raise ops.TrialStateError(t("correct.none"))
    return _entry_page(request, who, runner, participant, visit, instrument, correcting=True)


@router.post(
    "/participants/{participant}/record/{visit}/{instrument}/correct",
    response_class=HTMLResponse,
)
@rule("operation", Operation.correct)
def correct_submit(
    request: Request, who: Who, participant: str, visit: str, instrument: str, form: Form
) -> Response:
    """Correct a stored response with a reason (old values stay in the audit trail)."""
    return _save(request, who, participant, visit, instrument, form, correcting=True)


# ----------------------------------------------------------------------------- audit trail
def _json(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


@router.get("/audit", response_class=HTMLResponse)
@rule("operation", Operation.read_audit)
def audit_page(
    request: Request, who: Who, page: int = 1, entity: str = "", participant: str = ""
) -> HTMLResponse:
    """The audit trail, newest first, filtered by entity or participant, paginated."""
    runner = client(request, who)
    events = runner.run(ops.events)
    entities = sorted({str(e["entity"]) for e in events})
    chosen = [
        e
        for e in reversed(events)
        if (not entity or e["entity"] == entity)
        and (
            not participant
            or str(e["entity_id"]) == participant
            or str(e["entity_id"]).startswith(participant + "/")
        )
    ]
    pages = max(1, -(-len(chosen) // AUDIT_PAGE_SIZE))
    page = min(max(page, 1), pages)
    shown = chosen[(page - 1) * AUDIT_PAGE_SIZE : page * AUDIT_PAGE_SIZE]
    rows = [{**e, "old": _json(e["old"]), "new": _json(e["new"])} for e in shown]

    def link(n: int) -> str:
        from urllib.parse import urlencode

        query = {"page": n, "entity": entity, "participant": participant}
        return "/audit?" + urlencode({k: v for k, v in query.items() if v})

    return render(
        request,
        "p_audit.html",
        who,
        rows=rows,
        entities=entities,
        entity=entity,
        participant=participant,
        page=page,
        pages=pages,
        total=len(chosen),
        prev_href=link(page - 1) if page > 1 else None,
        next_href=link(page + 1) if page < pages else None,
    )


# ----------------------------------------------------------------------------- export
_EXPORT_FILES = (
    "analysis.csv",
    "items.csv",
    "redcap_dictionary.csv",
    "redcap_events.csv",
    "redcap_instrument_events.csv",
    "redcap_records.csv",
    "consort.csv",
    "README.txt",
)


@router.get("/export", response_class=HTMLResponse)
@rule("operation", Operation.export)
def export_page(request: Request, who: Who) -> HTMLResponse:
    """What the export holds, whether arms are masked, and the download button."""
    runner = client(request, who)
    return render(
        request,
        "p_export.html",
        who,
        files=_EXPORT_FILES,
        masked=arm_view_of(runner) == "masked",
    )


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@router.post("/export")
@rule("operation", Operation.export)
def export_download(request: Request, who: Who, form: Form) -> Response:
    """Export the trial (audited by the service layer) and send it as one zip file."""
    check_csrf(who, str(form.get("csrf_token", "")))
    runner = client(request, who)
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="resolve-export-") as tmp:
        paths = runner.run(ops.export, Path(tmp) / "export")
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, arcname=f"trial-export/{path.name}")
    name = f"trial-export-{_stamp()}.zip"
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ----------------------------------------------------------------------------- analysis report
def _masked_plan(plan: Any, n_arms: int) -> Any:
    """The analysis plan with the masked codes (``group A``...) as its arms."""
    from dataclasses import replace

    codes = tuple(f"group {string.ascii_uppercase[i]}" for i in range(n_arms))
    trial = replace(plan.trial, arms=codes, reference_arm=codes[0], extra_contrasts=())
    return replace(plan, trial=trial)


def _analysis(runner: ops.Client) -> tuple[Any, str | None, bool, Any]:
    """(analysis or None, why it could not run, arms masked?, the export's CONSORT rows)."""
    import pandas as pd

    from resolve.analysis.io import read_trial_csv
    from resolve.analysis.plan import load_plan
    from resolve.analysis.run import analyze

    protocol: Protocol = runner.run(lambda ctx: ctx.protocol)
    masked = arm_view_of(runner) == "masked"
    with tempfile.TemporaryDirectory(prefix="resolve-report-") as tmp:
        folder = Path(tmp) / "export"
        runner.run(ops.export, folder)
        plan = load_plan()
        if masked:
            plan = _masked_plan(plan, len(protocol.arm_names))
        tr = plan.trial
        consort = pd.read_csv(folder / "consort.csv", dtype=str, keep_default_na=False)
        try:
            frame = read_trial_csv(
                folder / "analysis.csv", text_columns=(tr.subject, tr.arm, tr.visit)
            )
            if frame.empty:
                raise DataValidationError(t("report.no_data"))
            analysis = analyze(
                frame,
                plan,
                source="analysis.csv",
                screening=pd.read_csv(folder / "consort.csv"),
                screening_source="consort.csv",
            )
        except ResolveError as exc:
            return None, " ".join(str(exc).split()), masked, consort
    return analysis, None, masked, consort


@router.get("/report", response_class=HTMLResponse)
@rule("operation", Operation.export)
def report_page(request: Request, who: Who) -> HTMLResponse:
    """Table 2 of the analysis plan on the live data (masked arms until unblinding)."""
    from resolve.analysis.descriptive import format_p

    runner = client(request, who)
    analysis, problem, masked, consort = _analysis(runner)
    arms: tuple[str, ...] = ()
    table: list[dict[str, Any]] = []
    notes: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    if analysis is not None:
        arms = tuple(analysis.plan.trial.arms)
        for r in analysis.table2.to_dict("records"):
            table.append(
                {
                    "outcome": r["outcome"],
                    "visit": r["visit"],
                    "contrast": r.get("contrast", ""),
                    "arms": [
                        (clean(r.get(f"{a}_mean_sd")) or "", clean(r.get(f"{a}_n"))) for a in arms
                    ],
                    "difference": clean(r.get("difference")) or "",
                    "p": clean(r.get("p_text")) or format_p(float("nan")),
                }
            )
        notes = tuple(analysis.notes)
        summary = tuple(analysis.plain_summary)
    return render(
        request,
        "p_report.html",
        who,
        masked=masked,
        status=trial_status(runner),
        problem=problem,
        arms=arms,
        table=table,
        notes=notes,
        summary=summary,
        consort=consort.to_dict("records"),
        consort_columns=list(consort.columns),
    )


@router.get("/report/html")
@rule("operation", Operation.export)
def report_download(request: Request, who: Who) -> Response:
    """The full resolve HTML report (figures, every table) as a file to save and open."""
    from resolve.report.html import render_html

    runner = client(request, who)
    analysis, problem, masked, _ = _analysis(runner)
    if analysis is None:
        raise HTTPException(409, problem or t("report.no_data"))
    label = t("report.data_label_masked") if masked else t("report.data_label")
    text = render_html(analysis, title=None, data_label=label)
    name = f"analysis-report-{_stamp()}.html"
    return Response(
        text.encode("utf-8"),
        media_type="text/html; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
