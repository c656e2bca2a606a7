"""File schema of a programme template: one pydantic model per TOML table.

Private to :mod:`resolve.program.template`, which re-exports the public models
(:class:`WeekPlan`, :class:`Rule`, ...) and derives :class:`~resolve.program.template.Template`
from :class:`TemplateFile`. The models are frozen, refuse unknown
keys (with the nearest valid key) and check every cross-reference (a week's
component, level, module, script, drill or exercise; a rule's measure or norm) with
a :class:`~resolve._schema.SchemaError` located at the offending key, so
:func:`resolve._schema.validate` names the file, the table and the key.

Examples
--------
>>> from resolve._schema import validate
>>> from resolve._validation import parse_toml
>>> from importlib import resources
>>> text = resources.files("resolve.program").joinpath("default_template.toml").read_text()
>>> t = validate(TemplateFile, parse_toml(text, "t.toml"), "t.toml")
>>> t.programme.active_arm, t.programme.weeks, len(t.lrj.levels)
('resolve', 12, 4)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self, TypeAlias

from pydantic import Field, field_validator, model_validator

from resolve._schema import SchemaError, Table, Text, Unique, between
from resolve.program._task_schema import (
    Drill,
    EducationSettings,
    Fraction,
    GraphSettings,
    Id,
    Ids,
    ImagerySettings,
    Level,
    LoadingSettings,
    LrjSettings,
    Positive,
    TactileSettings,
    TwoPointSettings,
)

__all__ = [
    "DETAIL_KEYS",
    "MEASURES",
    "NORM_THRESHOLDS",
    "TASKS",
    "Adherence",
    "Component",
    "Condition",
    "HomeTarget",
    "LrjNorms",
    "Norms",
    "Programme",
    "Rule",
    "TaskDose",
    "TemplateFile",
    "TpdNorms",
    "WeekPlan",
]

#: Tasks with levels, blocks and progression rules.
TASKS: tuple[str, ...] = ("lrj", "tactile", "graphaesthesia")
Task: TypeAlias = Literal["lrj", "tactile", "graphaesthesia"]

#: The measures each task's block score reports (``BlockRecord.measures``); rules use them.
MEASURES: dict[str, tuple[str, ...]] = {
    "lrj": (
        "accuracy",
        "median_rt_s",
        "mean_rt_s",
        "accuracy_left",
        "accuracy_right",
        "median_rt_left_s",
        "median_rt_right_s",
        "asymmetry_accuracy",
        "asymmetry_rt_s",
        "timeout_rate",
        "n_trials",
    ),
    "tactile": (
        "accuracy",
        "location_accuracy",
        "type_accuracy",
        "mean_error_cm",
        "median_error_cm",
        "unanswered_rate",
        "n_trials",
    ),
    "graphaesthesia": ("accuracy", "character_accuracy", "unanswered_rate", "n_trials"),
}

#: Thresholds a rule condition may name with ``norm`` instead of a ``value``.
NORM_THRESHOLDS: tuple[str, ...] = (
    "lrj.accuracy_min",
    "lrj.rt_mean_s",
    "lrj.rt_upper_s",
    "lrj.asymmetry_max",
    "tpd.lumbar_mm",
)


# ----------------------------------------------------------------------------- small tables
class Programme(Table):
    """``[programme]``: name, status and the two arms."""

    name: Text = Field(description="Programme name, shown in headings.")
    version: Text = Field(description="Version of this template file.")
    status: Literal["reconstruction", "manual", "custom"] = Field(
        description="`reconstruction` (rebuilt from publications, not a trial manual), "
        "`manual` (transcribed from the trial manual) or `custom` (a site's own programme)."
    )
    note: Text = Field(description="Where the content comes from; shown with the template.")
    active_arm: Text = Field(
        description="Protocol arm that receives the programme (`[[active]]` schedule)."
    )
    sham_arm: Text = Field(
        description="Protocol arm that receives sham treatment (`[[sham]]` schedule)."
    )
    weeks: Annotated[int, between(1, 52)] = Field(
        description="Number of weekly clinic sessions in each arm."
    )

    @model_validator(mode="after")
    def _distinct_arms(self) -> Self:
        if self.active_arm == self.sham_arm:
            raise SchemaError(f"must differ from active_arm; got {self.sham_arm!r}", "sham_arm")
        return self


class Adherence(Table):
    """``[adherence]``: definitions used by the adherence summary and CONSORT."""

    received_min_sessions: Annotated[int, between(1)] = Field(
        1, description="Sessions attended to count as having received the allocated intervention."
    )
    adherent_min_sessions: Annotated[int, between(1)] = Field(
        description="Sessions attended to count as adherent (at most `[programme] weeks`)."
    )
    home_target_fraction: Fraction = Field(
        0.5, description="Share of the planned home-practice minutes that counts as adherent."
    )


class LrjNorms(Table):
    """``[norms.lrj]``: left/right judgement thresholds."""

    accuracy_min: Fraction = Field(description="Accuracy at or above which a block is normal.")
    rt_mean_s: Positive = Field(description="Normative mean reaction time, seconds.")
    rt_sd_s: Positive = Field(
        description="Normative SD of reaction time, seconds; `rt_upper_s` = `rt_mean_s` + "
        '`rt_sd_s` is the upper limit of "within norm".'
    )
    asymmetry_max: Fraction = Field(
        description="Largest |accuracy left - accuracy right| counted as left = right."
    )
    source: Text = Field(description="Where the values come from.")

    @property
    def rt_upper_s(self) -> float:
        """Upper limit of a reaction time within the norm (mean + 1 SD), seconds."""
        return self.rt_mean_s + self.rt_sd_s


class TpdNorms(Table):
    """``[norms.tpd]``: two-point discrimination reference."""

    lumbar_mm: Positive = Field(description="Healthy lumbar two-point threshold, mm.")
    source: Text = Field(description="Where the value comes from.")


class Norms(Table):
    """``[norms]``: normative values with their sources."""

    lrj: LrjNorms
    tpd: TpdNorms

    def threshold(self, name: str) -> float:
        """The value of a named threshold (one of :data:`NORM_THRESHOLDS`)."""
        values = {
            "lrj.accuracy_min": self.lrj.accuracy_min,
            "lrj.rt_mean_s": self.lrj.rt_mean_s,
            "lrj.rt_upper_s": self.lrj.rt_upper_s,
            "lrj.asymmetry_max": self.lrj.asymmetry_max,
            "tpd.lumbar_mm": self.tpd.lumbar_mm,
        }
        return values[name]


class Component(Table):
    """``[[components]]``: one thing a session can contain, with its fidelity checklist."""

    id: Id = Field(description="Component id, unique; weeks and session records use it.")
    label: Text = Field(description="Name shown to clinicians.")
    role: Literal["active", "sham", "both"] = Field(
        description="Which schedule may use it: `active`, `sham` or `both`."
    )
    fidelity: Annotated[list[Text], Unique()] = Field(
        description="Fidelity checklist items ticked when the component is delivered; one or more."
    )

    @field_validator("fidelity")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise SchemaError("must list at least one checklist item; got []")
        return value


class Condition(Table):
    """``[[rules.when]]``: one condition on a block's measure."""

    measure: Text = Field(description="A measure of the rule's task (docs/programme.md#measures).")
    op: Literal["<", "<=", ">", ">="] = Field(description="Comparison.")
    value: Annotated[float, between()] | None = Field(None, description="Threshold value.")
    norm: Text | None = Field(
        None,
        description="Or a named norm threshold: " + ", ".join(f"`{n}`" for n in NORM_THRESHOLDS),
    )


class Rule(Table):
    """``[[rules]]``: one progression rule."""

    id: Id = Field(description="Rule id, unique; recorded with every decision it makes.")
    task: Task = Field(description="Task: `lrj`, `tactile` or `graphaesthesia`.")
    action: Literal["advance", "step_back"] = Field(
        description="`advance` (one level up) or `step_back` (one level down)."
    )
    consecutive: Annotated[int, between(1, 10)] = Field(
        description="Number of latest blocks at the current level that must all meet `when`."
    )
    when: list[Condition] = Field(description="Conditions, all required.")
    text: Text = Field(description="The rule in words; recorded with its decisions.")

    @model_validator(mode="after")
    def _conditions(self) -> Self:
        # Checked here rather than in Condition so that messages name the rule
        # ("[[rules]] #2 ..."), not only the condition.
        if not self.when:
            raise SchemaError("'when': must have at least one condition")
        known = MEASURES[self.task]
        for k, c in enumerate(self.when):
            where = f"'when' #{k + 1}"
            if c.measure not in known:
                raise SchemaError(
                    f"{where} 'measure': unknown {self.task} measure {c.measure!r}; "
                    f"known: {', '.join(known)}"
                )
            if (c.value is None) == (c.norm is None):
                raise SchemaError(f"{where}: give exactly one of 'value' and 'norm'")
            if c.norm is not None and c.norm not in NORM_THRESHOLDS:
                raise SchemaError(
                    f"{where} 'norm': unknown norm {c.norm!r}; known: {', '.join(NORM_THRESHOLDS)}"
                )
        return self


class TaskDose(Table):
    """A week's dose of a levelled task, e.g. ``lrj = { level = 1, blocks = 2 }``."""

    level: Level | None = Field(
        None,
        description="Starting level for a participant with no progression decision yet "
        "(omitted: the participant's current level).",
    )
    blocks: Annotated[int, between(1, 20)] = Field(description="Blocks done in clinic.")


class HomeTarget(Table):
    """A home-practice target: ``{ task = "lrj", minutes_per_day = 10, days_per_week = 7 }``."""

    task: Id = Field(description="A component id of the schedule's arm.")
    minutes_per_day: Annotated[float, between(0, 240, low_open=True)] = Field(
        description="Minutes per practice day."
    )
    days_per_week: Annotated[int, between(1, 7)] = Field(description="Practice days per week.")
    bouts_per_day: Annotated[int, between(1, 20)] = Field(
        1, description="Short bouts the daily minutes are split into."
    )

    @property
    def minutes_per_week(self) -> float:
        """Planned home minutes per week."""
        return self.minutes_per_day * self.days_per_week


#: Week keys that give a component's details, by component id.
DETAIL_KEYS: tuple[str, ...] = (
    "education",
    "lrj",
    "tactile",
    "graphaesthesia",
    "imagery",
    "movement_precision",
    "graded_loading",
)


class WeekPlan(Table):
    """``[[active]]`` / ``[[sham]]``: the plan of one or more weeks of one arm."""

    weeks: Annotated[list[Annotated[int, between(1, 52)]], Unique()] = Field(
        description="Weeks this entry covers (each week of the programme exactly once per arm)."
    )
    focus: Text = Field(description="What the session is about, in one line.")
    clinic_minutes: Annotated[float, between(0, 240, low_open=True)] = Field(
        description="Planned minutes of the clinic session."
    )
    components: Annotated[list[Id], Unique()] = Field(
        description="Components delivered in clinic (ids of `[[components]]`)."
    )
    education: Ids = Field([], description="Education modules covered (with `education`).")
    lrj: TaskDose | None = Field(None, description="Left/right judgement dose (with `lrj`).")
    tactile: TaskDose | None = Field(None, description="Tactile dose (with `tactile`).")
    graphaesthesia: TaskDose | None = Field(
        None, description="Graphaesthesia dose (with `graphaesthesia`)."
    )
    imagery: Ids = Field([], description="Imagery scripts (with `imagery`).")
    movement_precision: Ids = Field([], description="Drill ids (with `movement_precision`).")
    graded_loading: Ids = Field([], description="Exercise ids (with `graded_loading`).")
    home: list[HomeTarget] = Field(
        [], description="Home-practice targets, inline tables (keys below)."
    )

    def detail(self, component: str) -> Any:
        """The details of ``component`` this week (a dose, a list of ids or None)."""
        return getattr(self, component) if component in DETAIL_KEYS else None

    @property
    def home_minutes_per_week(self) -> float:
        """Planned home-practice minutes per week."""
        return sum(h.minutes_per_week for h in self.home)


# ----------------------------------------------------------------------------- the file
def _first_repeat(values: list[str]) -> int | None:
    for k, v in enumerate(values):
        if values.index(v) != k:
            return k
    return None


class TemplateFile(Table):
    """The whole template file; cross-references are checked here."""

    programme: Programme
    adherence: Adherence
    norms: Norms
    components: list[Component] = Field(description="Session components.")
    lrj: LrjSettings
    tactile: TactileSettings
    graphaesthesia: GraphSettings
    twopoint: TwoPointSettings
    imagery: ImagerySettings
    education: EducationSettings
    drills: list[Drill] = Field(description="Movement-precision drills.")
    loading: LoadingSettings
    rules: list[Rule] = Field(description="Progression rules, in order of priority.")
    active: list[WeekPlan] = Field(description="The active arm's weekly plan.")
    sham: list[WeekPlan] = Field(description="The sham arm's weekly plan.")

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        for key, ids in (
            ("components", [c.id for c in self.components]),
            ("drills", [d.id for d in self.drills]),
            ("rules", [r.id for r in self.rules]),
        ):
            k = _first_repeat(ids)
            if k is not None:
                raise SchemaError(f"{ids[k]!r} is used twice; ids must be unique", key, k, "id")
        k = _first_repeat([e.id for e in self.loading.exercises])
        if k is not None:
            raise SchemaError("ids must be unique", "loading", "exercises", k, "id")
        if self.adherence.adherent_min_sessions > self.programme.weeks:
            raise SchemaError(
                f"must be at most [programme] weeks ({self.programme.weeks}); "
                f"got {self.adherence.adherent_min_sessions}",
                "adherence",
                "adherent_min_sessions",
            )
        self._check_bundled()
        self._check_schedule("active")
        self._check_schedule("sham")
        return self

    def _check_bundled(self) -> None:
        from resolve.program.education import module_ids
        from resolve.program.imagery import script_ids

        for table, key, ids, bundled in (
            ("education", "modules", self.education.modules, module_ids()),
            ("imagery", "scripts", self.imagery.scripts, script_ids()),
        ):
            for i in ids:
                if i not in bundled:
                    raise SchemaError(
                        f"unknown id {i!r}; bundled: {', '.join(bundled)}", table, key
                    )

    def _check_schedule(self, arm: Literal["active", "sham"]) -> None:
        plans = self.active if arm == "active" else self.sham
        n = self.programme.weeks
        roles = {c.id: c.role for c in self.components}
        seen: dict[int, int] = {}
        for k, plan in enumerate(plans):
            for w in plan.weeks:
                if w > n:
                    raise SchemaError(
                        f"'weeks': week {w} is after the last week ([programme] weeks = {n})",
                        arm,
                        k,
                    )
                if w in seen:
                    raise SchemaError(
                        f"'weeks': week {w} is also planned by [[{arm}]] #{seen[w] + 1}", arm, k
                    )
                seen[w] = k
            self._check_week(arm, k, plan, roles)
        missing = [w for w in range(1, n + 1) if w not in seen]
        if missing:
            raise SchemaError(
                f"no plan for week {', '.join(map(str, missing))}; every week from 1 to {n} "
                "needs one",
                arm,
            )

    def _check_week(
        self, arm: Literal["active", "sham"], k: int, plan: WeekPlan, roles: Mapping[str, str]
    ) -> None:
        other = "sham" if arm == "active" else "active"
        for cid in plan.components:
            if cid not in roles:
                raise SchemaError(
                    f"'components': unknown component {cid!r}; known: {', '.join(roles)}", arm, k
                )
            if roles[cid] == other:
                raise SchemaError(
                    f"'components': {cid!r} is for the {other} arm only (its role is {other!r})",
                    arm,
                    k,
                )
        for key in DETAIL_KEYS:
            detail = getattr(plan, key)
            given = bool(detail) if isinstance(detail, list) else detail is not None
            if key in plan.components and not given:
                raise SchemaError(f"component {key!r} is planned; give its {key!r} key", arm, k)
            if given and key not in plan.components:
                raise SchemaError(f"{key!r} is given but {key!r} is not in 'components'", arm, k)
        known: dict[str, list[str]] = {
            "education": self.education.modules,
            "imagery": self.imagery.scripts,
            "movement_precision": [d.id for d in self.drills],
            "graded_loading": [e.id for e in self.loading.exercises],
        }
        for key, ids in known.items():
            for i in getattr(plan, key):
                if i not in ids:
                    raise SchemaError(f"{key!r}: unknown id {i!r}; known: {', '.join(ids)}", arm, k)
        levels = {
            "lrj": len(self.lrj.levels),
            "tactile": len(self.tactile.levels),
            "graphaesthesia": len(self.graphaesthesia.levels),
        }
        for key, top in levels.items():
            dose = getattr(plan, key)
            if dose is not None and dose.level is not None and dose.level > top:
                raise SchemaError(
                    f"{key!r} level: must be at most {top} (the number of {key} levels); "
                    f"got {dose.level}",
                    arm,
                    k,
                )
        for j, h in enumerate(plan.home):
            if h.task not in roles or roles[h.task] == other:
                raise SchemaError(
                    f"'home' #{j + 1} 'task': {h.task!r} is not a component of the {arm} arm",
                    arm,
                    k,
                )
