"""Human-readable text of a programme template (``resolve program template show``).

Examples
--------
>>> from resolve.program.template import load_template
>>> text = describe(load_template())
>>> text.splitlines()[0]
'RESOLVE graded sensorimotor retraining (template 0.1)'
>>> "RECONSTRUCTION" in text.splitlines()[1]
True
"""

from __future__ import annotations

from resolve.program._template_schema import TaskDose, WeekPlan
from resolve.program.template import Template

__all__ = ["describe"]


def _weeks(weeks: list[int]) -> str:
    ws = sorted(weeks)
    if len(ws) > 1 and ws == list(range(ws[0], ws[-1] + 1)):
        return f"Weeks {ws[0]}-{ws[-1]}"
    return ("Week " if len(ws) == 1 else "Weeks ") + ", ".join(map(str, ws))


def _dose(template: Template, task: str, dose: TaskDose) -> str:
    level = "current level" if dose.level is None else f"level {dose.level}"
    text = f"{level}, {dose.blocks} block{'s' if dose.blocks > 1 else ''} in clinic"
    if dose.level is not None:
        text += f" ({template.levels(task)[dose.level - 1].label})"
    return text


def _component(template: Template, plan: WeekPlan, cid: str) -> str:
    label = template.component(cid).label
    detail = plan.detail(cid)
    if isinstance(detail, TaskDose):
        return f"{label}: {_dose(template, cid, detail)}"
    if detail:
        return f"{label}: {', '.join(detail)}"
    return label


def _plans(template: Template, arm: str, plans: list[WeekPlan]) -> list[str]:
    out = []
    for plan in sorted(plans, key=lambda p: min(p.weeks)):
        out.append(f"  {_weeks(plan.weeks)} ({plan.clinic_minutes:g} min in clinic): {plan.focus}")
        for cid in plan.components:
            out.append(f"    - {_component(template, plan, cid)}")
        for h in plan.home:
            bouts = f", {h.bouts_per_day} bouts a day" if h.bouts_per_day > 1 else ""
            out.append(
                f"    home: {template.component(h.task).label}, {h.minutes_per_day:g} min a day, "
                f"{h.days_per_week} days a week{bouts}"
            )
        if not plan.home:
            out.append("    home: none")
    return out


def describe(template: Template) -> str:
    """The template in words: arms, weekly plans with doses, levels, rules, norms.

    Every week of both arms, every component with its dose and every rule appear.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> text = describe(load_template())
    >>> all(f"Week {w} " in text or f"Weeks 2-12" in text for w in range(1, 13))
    True
    """
    p = template.programme
    status = {
        "reconstruction": "RECONSTRUCTION from publications, not the trial manual",
        "manual": "transcribed from the trial manual",
        "custom": "a site's own programme",
    }[p.status]
    lines = [
        f"{p.name} (template {p.version})",
        f"Status: {status}. {p.note}",
        f"Source: {template.source}",
        f"Arms: {p.active_arm} (active programme), {p.sham_arm} (sham); {p.weeks} weekly "
        "sessions each.",
        "",
        f"Active arm ({p.active_arm})",
        *_plans(template, p.active_arm, template.active),
        "",
        f"Sham arm ({p.sham_arm}): no education, no home programme",
        *_plans(template, p.sham_arm, template.sham),
        "",
        "Levels",
    ]
    for task in ("lrj", "tactile", "graphaesthesia"):
        for lv in template.levels(task):
            lines.append(f"  {task} {lv.level}: {lv.label} ({lv.trials} trials per block)")
    tp = template.twopoint
    lines += [
        f"  two-point: {tp.method}, start {tp.start_mm:g} mm, step {tp.step_mm:g} mm, "
        f"{tp.down}-down/{tp.up}-up, {tp.reversals} reversals (first {tp.discard_reversals} "
        f"discarded); sites: {', '.join(s.id for s in tp.sites)}",
        f"  loading: first quota {template.loading.start_fraction:.0%} of tolerance, "
        f"+{template.loading.increment:g} ({template.loading.increment_kind}) per session, "
        f"{template.loading.sessions_per_week} sessions a week; missed quota "
        + ("repeated" if template.loading.hold_if_missed else "not repeated")
        + "; pain never changes a quota",
        "",
        "Progression rules (first that fires decides)",
    ]
    for r in template.rules:
        conds = " and ".join(
            f"{c.measure} {c.op} "
            + (
                f"{c.value:g}"
                if c.norm is None
                else f"{c.norm} ({template.norms.threshold(c.norm):g})"
            )
            for c in r.when
        )
        lines.append(
            f"  {r.id}: {r.task} {r.action.replace('_', ' ')} when the last {r.consecutive} "
            f"block(s) at the current level have {conds}. {r.text}"
        )
    n = template.norms
    lines += [
        "  Clinicians may override any level with a recorded reason.",
        "",
        "Norms",
        f"  LRJ: accuracy >= {n.lrj.accuracy_min:.0%}; RT {n.lrj.rt_mean_s:g} +/- "
        f"{n.lrj.rt_sd_s:g} s (within norm <= {n.lrj.rt_upper_s:g} s); |left - right| "
        f"<= {n.lrj.asymmetry_max:g}. Source: {n.lrj.source}",
        f"  TPD: lumbar {n.tpd.lumbar_mm:g} mm. Source: {n.tpd.source}",
        "",
        "Adherence",
        f"  received allocated intervention: >= {template.adherence.received_min_sessions} "
        f"session(s); adherent: >= {template.adherence.adherent_min_sessions} sessions; home "
        f"practice adherent: >= {template.adherence.home_target_fraction:.0%} of planned minutes",
    ]
    return "\n".join(lines) + "\n"
