"""The patient's programme pages, reached through their personal programme link (no password).

Rule ``"link"``: the token in the path is the credential, as for self-report
links (:mod:`resolve.web.selfreport`), so there is no cookie and no CSRF token;
every page runs the service layer as the link's holder
(:func:`resolve.ops.run_as_link`), which acts for the link's participant only.
An unknown, expired or revoked link gives the neutral 404 page.

- ``GET /prog/{token}`` -- today's practice: the week's home tasks with their
  targets and what is done, the education modules due, the imagery scripts;
- ``/prog/{token}/lrj`` and ``/prog/{token}/tactile`` -- the timed left/right
  judgement task and the tactile task in partner mode (``static/programme.js``;
  the JSON goes to :mod:`resolve.web.api_programme`);
- ``/prog/{token}/learn/{module}`` -- an education module and its questions;
- ``/prog/{token}/imagery/{script}`` -- an imagery script and its ratings;
- ``/prog/{token}/practice`` -- log minutes of home practice;
- ``/prog/{token}/progress`` -- the patient's own progress;
- ``/prog/{token}/img/{file}`` -- the task's trunk images.

The pages are made for phones first and name no trial arm: they say "your
programme".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from resolve import ops
from resolve.errors import DataValidationError, UnknownNameError
from resolve.ops.context import TrialStateError
from resolve.ops.links import LinkGone
from resolve.web.api_programme import link_run
from resolve.web.app import Who, render
from resolve.web.i18n import t
from resolve.web.pages_programme_images import image_response
from resolve.web.pages_support import Form, href
from resolve.web.routing import rule

__all__ = ["markdown", "router"]

router = APIRouter(include_in_schema=False)

_DONE = ("practice", "imagery", "quiz")


def markdown(text: str) -> Markup:
    """Our bundled Markdown as HTML, under the page's h1: a leading ``# title`` is dropped
    (the h1 shows it), other ``#`` headings move one level down; raw HTML is escaped.

    Examples
    --------
    >>> str(markdown("# Title\\n## Hi\\n\\nA *b* <script>"))
    '<h2>Hi</h2>\\n<p>A <em>b</em> &lt;script&gt;</p>\\n'
    >>> str(markdown("Text\\n# Part"))
    '<p>Text</p>\\n<h2>Part</h2>\\n'
    """
    from markdown_it import MarkdownIt

    lines = text.lstrip("\n").split("\n", 1)
    titled = lines[0].startswith("# ")
    if titled:  # the page shows the title as its h1 already
        text = lines[1] if len(lines) > 1 else ""
    html = MarkdownIt("commonmark", {"html": False}).render(text)
    if not titled:
        for level in (5, 4, 3, 2, 1):
            html = html.replace(f"<h{level}>", f"<h{level + 1}>").replace(
                f"</h{level}>", f"</h{level + 1}>"
            )
    return Markup(html)  # markdown-it escapes the text; raw HTML is off


def _gone(request: Request) -> HTMLResponse:
    page = render(request, "s_prog_gone.html", None)
    page.status_code = 404
    return page


def _page(
    request: Request, token: str, name: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    page = render(request, name, None, token=token, base=href("prog", token), **context)
    page.status_code = status
    return page


def _today(request: Request, token: str) -> ops.TodayView:
    view: ops.TodayView = link_run(request, token, ops.today)
    return view


def _template(request: Request, token: str) -> Any:
    from resolve.ops.programme_store import template_for

    return link_run(request, token, lambda ctx, _p: template_for(ctx))


@router.get("/prog/{token}", response_class=HTMLResponse)
@rule("link")
def today_page(request: Request, who: Who, token: str, done: str = "") -> HTMLResponse:
    """Today's practice."""
    try:
        v = _today(request, token)
    except LinkGone:
        return _gone(request)
    from resolve.program.education import load_module
    from resolve.program.imagery import load_script

    return _page(
        request,
        token,
        "s_prog_today.html",
        v=v,
        modules=[load_module(m) for m in v.education_due],
        scripts=[load_script(s) for s in v.imagery_scripts],
        done=t("prog.p.done." + done) if done in _DONE else None,
    )


def _task(request: Request, token: str, task: str) -> HTMLResponse:
    try:
        v = _today(request, token)
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    level = v.progress.get("levels", {}).get(task)
    for item in v.tasks:
        if item.task == task and item.level is not None:
            level = item.level
    if level is None:
        level = tpl.start_level(task, v.week or v.weeks)
    return _page(
        request,
        token,
        "s_prog_task.html",
        v=v,
        task=task,
        start_url=href("api", "v1", "programme", "links", token, "blocks"),
        submit_url=href("api", "v1", "programme", "links", token, "blocks", "submit"),
        level=level,
        level_label=tpl.levels(task)[level - 1].label,
        stimuli=list(tpl.tactile.stimuli),
        who_touches="partner",
        csrf=None,
    )


@router.get("/prog/{token}/lrj", response_class=HTMLResponse)
@rule("link")
def lrj_page(request: Request, who: Who, token: str) -> HTMLResponse:
    """The left/right judgement task (keyboard or touch)."""
    return _task(request, token, "lrj")


@router.get("/prog/{token}/tactile", response_class=HTMLResponse)
@rule("link")
def tactile_page(request: Request, who: Who, token: str) -> HTMLResponse:
    """The tactile task with a partner: the partner touches, the patient taps the zone."""
    return _task(request, token, "tactile")


@router.get("/prog/{token}/img/{file}")
@rule("link")
def link_image(request: Request, who: Who, token: str, file: str) -> Response:
    """A trunk image of the programme's bank, for a live link."""
    from resolve.ops.programme_links import _live

    try:
        request.app.state.store.run(lambda s: _live(s, token), read_only=True)
    except LinkGone:
        return Response(status_code=404)
    return image_response(file[:40])


# ----------------------------------------------------------------------------- education
def _module_page(
    request: Request,
    token: str,
    module_id: str,
    *,
    answers: dict[str, str] | None = None,
    result: Any = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    from resolve.program.education import load_module

    try:
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    if module_id not in tpl.education.modules:
        return _gone(request)
    module = load_module(module_id)
    return _page(
        request,
        token,
        "s_prog_module.html",
        status=status,
        module=module,
        body=markdown(module.body),
        answers=answers or {},
        result=result,
        error=error,
    )


@router.get("/prog/{token}/learn/{module}", response_class=HTMLResponse)
@rule("link")
def module_page(request: Request, who: Who, token: str, module: str) -> HTMLResponse:
    """An education module and its questions."""
    return _module_page(request, token, module)


@router.post("/prog/{token}/learn/{module}", response_class=HTMLResponse)
@rule("link")
def module_submit(request: Request, who: Who, token: str, module: str, form: Form) -> Response:
    """Score the answers (stored); show what each answer means."""
    from resolve.program.education import load_module

    try:
        questions = load_module(module).questions
    except UnknownNameError:
        return _gone(request)
    given = {q.id: str(form.get(f"q_{q.id}", "")) for q in questions}
    answers: dict[str, Any] = {}
    for q in questions:
        value = given[q.id]
        if q.kind == "true_false" and value in ("true", "false"):
            answers[q.id] = value == "true"
        elif q.kind == "multiple_choice" and value.isdigit() and int(value) < len(q.options):
            answers[q.id] = q.options[int(value)]
    try:
        attempt = link_run(request, token, ops.submit_quiz, module, answers)
    except LinkGone:
        return _gone(request)
    except (DataValidationError, TrialStateError, UnknownNameError) as exc:
        return _module_page(request, token, module, answers=given, error=str(exc), status=422)
    return _module_page(request, token, module, answers=given, result=attempt.result)


# ----------------------------------------------------------------------------- imagery
def _imagery_page(
    request: Request,
    token: str,
    script_id: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    from resolve.program.imagery import load_script

    try:
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    if script_id not in tpl.imagery.scripts:
        return _gone(request)
    script = load_script(script_id)
    return _page(
        request,
        token,
        "s_prog_imagery.html",
        status=status,
        script=script,
        body=markdown(script.body),
        values=values or {"vividness": "", "pain": ""},
        error=error,
    )


@router.get("/prog/{token}/imagery/{script}", response_class=HTMLResponse)
@rule("link")
def imagery_page(request: Request, who: Who, token: str, script: str) -> HTMLResponse:
    """An imagery script, then how vivid it was and how much it hurt."""
    return _imagery_page(request, token, script)


@router.post("/prog/{token}/imagery/{script}", response_class=HTMLResponse)
@rule("link")
def imagery_submit(request: Request, who: Who, token: str, script: str, form: Form) -> Response:
    """Store the ratings; back to today's practice."""
    values = {k: str(form.get(k, "")).strip() for k in ("vividness", "pain")}
    if not all(v.isdigit() and int(v) <= 10 for v in values.values()):
        return _imagery_page(
            request, token, script, values=values, error=t("prog.p.err.ratings"), status=422
        )
    try:
        link_run(
            request, token, ops.rate_imagery, script, int(values["vividness"]), int(values["pain"])
        )
    except LinkGone:
        return _gone(request)
    except (DataValidationError, TrialStateError, UnknownNameError) as exc:
        return _imagery_page(request, token, script, values=values, error=str(exc), status=422)
    return RedirectResponse(href("prog", token) + "?done=imagery", status_code=303)


# ----------------------------------------------------------------------------- home practice
def _practice_page(
    request: Request,
    token: str,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    try:
        v = _today(request, token)
    except LinkGone:
        return _gone(request)
    chosen = values or {"task": "", "minutes": "", "day": str(v.day or "")}
    return _page(
        request,
        token,
        "s_prog_practice.html",
        status=status,
        v=v,
        values=chosen,
        days=list(range(1, (v.day or 7) + 1)),
        error=error,
    )


@router.get("/prog/{token}/practice", response_class=HTMLResponse)
@rule("link")
def practice_page(request: Request, who: Who, token: str) -> HTMLResponse:
    """Log minutes of home practice."""
    return _practice_page(request, token)


@router.post("/prog/{token}/practice", response_class=HTMLResponse)
@rule("link")
def practice_submit(request: Request, who: Who, token: str, form: Form) -> Response:
    """Store the minutes; back to today's practice."""
    values = {k: str(form.get(k, "")).strip() for k in ("task", "minutes", "day")}
    data: dict[str, Any] = {"task": values["task"]}
    try:
        data["minutes"] = float(values["minutes"])
    except ValueError:
        return _practice_page(
            request, token, values=values, error=t("prog.p.err.minutes"), status=422
        )
    if values["day"].isdigit() and len(values["day"]) == 1:
        data["day"] = int(values["day"])
    try:
        link_run(request, token, ops.record_home_practice, data)
    except LinkGone:
        return _gone(request)
    except (DataValidationError, TrialStateError, UnknownNameError) as exc:
        return _practice_page(request, token, values=values, error=str(exc), status=422)
    return RedirectResponse(href("prog", token) + "?done=practice", status_code=303)


# ----------------------------------------------------------------------------- progress
@router.get("/prog/{token}/progress", response_class=HTMLResponse)
@rule("link")
def progress_page(request: Request, who: Who, token: str) -> HTMLResponse:
    """The patient's own progress: sessions, home minutes, task levels and latest results."""
    try:
        v = _today(request, token)
        tpl = _template(request, token)
    except LinkGone:
        return _gone(request)
    progress = v.progress
    tasks = []
    for task, level in sorted(progress.get("levels", {}).items()):
        accuracy = progress.get("latest_accuracy", {}).get(task)
        tasks.append(
            {
                "label": tpl.component(task).label,
                "level": level,
                "top": len(tpl.levels(task)),
                "accuracy": accuracy,
            }
        )
    return _page(request, token, "s_prog_progress.html", v=v, progress=progress, tasks=tasks)
