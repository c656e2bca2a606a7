"""One simulated trial of a candidate design, analysed as its plan says.

A :class:`TrialDesign` says who is randomised (everyone, or only those whose
baseline modifier meets a condition: *enrichment*), how (simple permuted
allocation, or stratified by the modifier: *stratified*, *biomarker*), how many
and in what ratio, and how the scenario is varied (effect size, strength and SD
of the configured modification, dropout). :func:`simulate_design_trial` draws
one such trial from a :class:`~resolve.simulate.Scenario`;
:func:`analyse_design_trial` runs the plan's analyses on it and returns one row
per tested effect (*target*), e.g. ``treatment:pain:week 18`` or
``modifier:frebaq:pain:week 52``.

Screening is simulated, not assumed: participants are drawn one after another
from the scenario's population until each arm has its quota of eligible ones,
so ``n_screened`` is a random count (negative binomial for a fixed
eligibility rate) and the enrolled population's dropout follows the scenario's
MAR model on the enrolled people.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from resolve.analysis.effect_modifiers import analyse_modifiers
from resolve.analysis.plan import Plan
from resolve.analysis.primary import between_arm_differences
from resolve.design.fast import plan_supported, primary_differences, supported
from resolve.errors import DataValidationError, ResolveError
from resolve.simulate import MODIFIERS, Scenario, simulate_trials
from resolve.simulate.latent import treatment_effect
from resolve.simulate.scenario import FollowUp

__all__ = [
    "ANALYSES",
    "DESIGN_KINDS",
    "Condition",
    "TrialDesign",
    "analyse_design_trial",
    "check_targets",
    "design_scenario",
    "design_targets",
    "parse_condition",
    "parse_design",
    "simulate_design_trial",
    "true_values",
]

DesignKind = Literal["parallel", "enrichment", "stratified", "biomarker"]
#: Kinds of design, in the order of :func:`parse_design`'s spellings.
DESIGN_KINDS: tuple[str, ...] = ("parallel", "enrichment", "stratified", "biomarker")
#: ``primary``: the plan's primary between-arm model only; ``full``: plus every
#: treatment-by-modifier test (unadjusted, Holm, BH) and the global tests.
ANALYSES: tuple[str, ...] = ("primary", "full")

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_NEGATE = {">=": "<", "<=": ">", ">": "<=", "<": ">="}


@dataclass(frozen=True)
class Condition:
    """``modifier op threshold`` on a baseline modifier, e.g. ``frebaq <= 12``."""

    modifier: str
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.modifier not in MODIFIERS:
            raise DataValidationError(
                f"condition: unknown modifier {self.modifier!r}; one of {', '.join(MODIFIERS)}"
            )
        if self.op not in _OPS:
            raise DataValidationError(
                f"condition: operator must be one of >=, <=, >, <; got {self.op!r}"
            )
        if not math.isfinite(self.threshold):
            raise DataValidationError(
                f"condition: threshold must be finite, got {self.threshold!r}"
            )

    def __str__(self) -> str:
        return f"{self.modifier}{self.op}{self.threshold:g}"

    def negated(self) -> Condition:
        """The complementary condition (the other stratum)."""
        return Condition(self.modifier, _NEGATE[self.op], self.threshold)

    def holds(self, values: Any) -> np.ndarray:
        """Element-wise truth of the condition."""
        return np.asarray(_OPS[self.op](np.asarray(values, dtype=float), self.threshold))


def parse_condition(text: str) -> Condition:
    """Read ``"frebaq<=12"`` (spaces allowed).

    Examples
    --------
    >>> parse_condition("frebaq >= 14")
    Condition(modifier='frebaq', op='>=', threshold=14.0)
    """
    match = re.fullmatch(r"\s*([a-z_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*", text)
    if match is None:
        raise DataValidationError(
            f"condition {text!r}: expected MODIFIER OP NUMBER such as 'frebaq<=12'"
        )
    try:
        threshold = float(match.group(3))
    except ValueError:
        raise DataValidationError(
            f"condition {text!r}: {match.group(3)!r} is not a number"
        ) from None
    return Condition(match.group(1), match.group(2), threshold)


@dataclass(frozen=True)
class TrialDesign:
    """One candidate design (a point of a design grid).

    Parameters
    ----------
    n : int
        Participants randomised (both arms).
    kind : {"parallel", "enrichment", "stratified", "biomarker"}
        ``parallel``: all-comers, permuted allocation; ``enrichment``: only
        those meeting ``condition`` are randomised; ``stratified``: all-comers,
        allocation balanced within the two strata of ``condition``;
        ``biomarker``: as stratified, and the treatment effect is also tested
        within each stratum.
    condition : Condition, optional
        Required for every kind but ``parallel``.
    ratio : float
        Allocation ratio treated : reference (1 = 1:1).
    dropout : float
        Multiplies the scenario's number of missed visits at every visit
        (0 = complete follow-up, 1 = the scenario's).
    effect_scale : float
        Multiplies the scenario's average treatment effects.
    modification : float, optional
        Replaces ``per_point`` of every configured effect modification.
    modifier_sd : float, optional
        Replaces the SD of every modifier with configured effect modification.
    """

    n: int
    kind: DesignKind = "parallel"
    condition: Condition | None = None
    ratio: float = 1.0
    dropout: float = 1.0
    effect_scale: float = 1.0
    modification: float | None = None
    modifier_sd: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | np.integer) or self.n < 8:
            raise DataValidationError(f"n must be an integer >= 8 (both arms), got {self.n!r}")
        if self.kind not in DESIGN_KINDS:
            raise DataValidationError(
                f"design kind must be one of {', '.join(DESIGN_KINDS)}, got {self.kind!r}"
            )
        if (self.kind == "parallel") != (self.condition is None):
            raise DataValidationError(
                f"design {self.kind!r}: a condition such as 'frebaq<=12' is "
                + ("not allowed" if self.kind == "parallel" else "required")
            )
        for name, low in (("ratio", 0.0), ("dropout", -1e-12), ("effect_scale", None)):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise DataValidationError(f"{name} must be a finite number, got {value!r}")
            if low is not None and value <= low:
                bound = "> 0" if low == 0 else ">= 0"
                raise DataValidationError(f"{name} must be {bound}, got {value!r}")
        if self.modifier_sd is not None and not self.modifier_sd > 0:
            raise DataValidationError(f"modifier_sd must be > 0, got {self.modifier_sd!r}")
        n0, n1 = self.arm_sizes
        if min(n0, n1) < 4:
            raise DataValidationError(
                f"n={self.n} with ratio {self.ratio:g} leaves an arm with {min(n0, n1)} "
                "participants; at least 4 per arm"
            )

    @property
    def arm_sizes(self) -> tuple[int, int]:
        """(reference, treated) participants; the reference arm gets the rounding."""
        # floor, not round (half to even): the extra participant of an odd split
        # always goes to the reference arm
        n1 = math.floor(self.n * self.ratio / (1 + self.ratio) + 1e-9)
        return int(self.n) - n1, n1

    @property
    def label(self) -> str:
        """Short name: ``parallel``, ``enrichment frebaq<=12`` ..."""
        return self.kind if self.condition is None else f"{self.kind} {self.condition}"

    def as_row(self) -> dict[str, Any]:
        """The design's columns of a results row."""
        return {
            "design": self.label,
            "n": int(self.n),
            "ratio": float(self.ratio),
            "dropout": float(self.dropout),
            "effect_scale": float(self.effect_scale),
            "modification": None if self.modification is None else float(self.modification),
            "modifier_sd": None if self.modifier_sd is None else float(self.modifier_sd),
        }


def parse_design(text: str) -> tuple[DesignKind, Condition | None]:
    """Read a design spelling: ``parallel``, ``enrichment:frebaq<=12``, ``stratified:...``.

    Examples
    --------
    >>> parse_design("enrichment:frebaq<=12")
    ('enrichment', Condition(modifier='frebaq', op='<=', threshold=12.0))
    """
    kind, _, rest = text.strip().partition(":")
    if kind not in DESIGN_KINDS:
        raise DataValidationError(
            f"design {text!r}: kind must be one of {', '.join(DESIGN_KINDS)} "
            "(e.g. 'parallel', 'enrichment:frebaq<=12')"
        )
    if kind == "parallel":
        if rest:
            raise DataValidationError(f"design {text!r}: 'parallel' takes no condition")
        return "parallel", None
    if not rest:
        raise DataValidationError(f"design {text!r}: add a condition, e.g. '{kind}:frebaq<=12'")
    return kind, parse_condition(rest)  # type: ignore[return-value]


# ----------------------------------------------------------------------------- scenario
def design_scenario(scenario: Scenario, design: TrialDesign) -> Scenario:
    """``scenario`` with the design's effect scale, modification and modifier SD."""
    changes: dict[str, Any] = {}
    if design.effect_scale != 1.0:
        for name in ("pain", "rmdq"):
            o = scenario.outcome(name)
            changes[name] = dataclasses.replace(
                o, effect=tuple(design.effect_scale * e for e in o.effect)
            )
    mods = scenario.effect_modification
    if (design.modification is not None or design.modifier_sd is not None) and not mods:
        raise DataValidationError(
            f"scenario {scenario.name!r} configures no effect modification: "
            "modification and modifier_sd need one"
        )
    if design.modification is not None:
        changes["effect_modification"] = tuple(
            dataclasses.replace(e, per_point=float(design.modification)) for e in mods
        )
    if design.modifier_sd is not None:
        names = {e.modifier for e in mods}
        if "psychoactive" in names:
            raise DataValidationError("modifier_sd: the binary modifier 'psychoactive' has no SD")
        changes["scales"] = tuple(
            dataclasses.replace(s, sd=float(design.modifier_sd)) if s.name in names else s
            for s in scenario.scales
        )
    return dataclasses.replace(scenario, **changes) if changes else scenario


def _pool_scenario(scenario: Scenario, sizes: tuple[int, int], dropout: float) -> Scenario:
    """``scenario`` with ``sizes`` per arm and its missed visits scaled by ``dropout``."""
    d = scenario.design

    def scale(counts: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple[Any, Any]:
        out = []
        for a in (0, 1):
            observed = []
            for c in counts[a]:
                missing = (d.n_per_arm[a] - c) / d.n_per_arm[a] * sizes[a] * dropout
                observed.append(int(min(sizes[a], max(0, round(sizes[a] - missing)))))
            out.append(tuple(observed))
        return out[0], out[1]

    pain, rmdq_raw = scale(scenario.followup.pain), scale(scenario.followup.rmdq)
    rmdq = tuple(
        tuple(min(p, r) for p, r in zip(pain[a], rmdq_raw[a], strict=True)) for a in (0, 1)
    )
    return dataclasses.replace(
        scenario,
        design=dataclasses.replace(d, n_per_arm=sizes),
        followup=FollowUp(pain, (rmdq[0], rmdq[1])),
    )


def _baseline(trial: pd.DataFrame) -> pd.DataFrame:
    return trial.drop_duplicates("id").reset_index(drop=True)


def _take(ok: np.ndarray, quota: int) -> tuple[np.ndarray, int] | None:
    """Positions of the first ``quota`` True entries and how many were screened."""
    hits = np.flatnonzero(ok)
    if hits.size < quota:
        return None
    chosen = hits[:quota]
    return chosen, int(chosen[-1]) + 1 if quota else 0


def _select(
    base: pd.DataFrame, arms: tuple[str, str], design: TrialDesign
) -> tuple[list[str], int] | None:
    """Ids of the enrolled participants and the number screened; None if the pool ran out."""
    sizes = design.arm_sizes
    ids: list[str] = []
    screened = 0
    cond = design.condition
    if design.kind in ("parallel", "enrichment"):
        for a, arm in enumerate(arms):
            part = base[base["arm"] == arm]
            ok = np.ones(len(part), bool) if cond is None else cond.holds(part[cond.modifier])
            got = _take(ok, sizes[a])
            if got is None:
                return None
            ids += part["id"].to_numpy()[got[0]].tolist()
            screened += got[1]
        return ids, screened
    assert cond is not None
    # stratified: the strata sizes are those of the first n screened (all eligible);
    # allocation is then balanced within each stratum in the design's ratio
    parts = [base[base["arm"] == arm] for arm in arms]
    high = [cond.holds(p[cond.modifier]) for p in parts]
    k = int(sum(h[: sizes[a]].sum() for a, h in enumerate(high)))
    k1 = round(k * sizes[1] / design.n)
    quotas = [(k - k1, sizes[0] - (k - k1)), (k1, sizes[1] - k1)]
    for a, part in enumerate(parts):
        for in_stratum, quota in zip((high[a], ~high[a]), quotas[a], strict=True):
            got = _take(in_stratum, quota)
            if got is None:
                return None
            ids += part["id"].to_numpy()[got[0]].tolist()
        screened += sizes[a]
    return ids, screened


def simulate_design_trial(
    scenario: Scenario,
    design: TrialDesign,
    rng: np.random.Generator,
    *,
    eligible: float = 1.0,
    modifiers: bool = True,
) -> tuple[pd.DataFrame, int]:
    """One trial of ``design`` drawn from ``scenario``: (long data, number screened).

    ``scenario`` is used as given (apply :func:`design_scenario` first);
    ``eligible`` is the expected share meeting the enrichment condition, used
    only to size the screening pool (a pool that runs short is redrawn larger,
    from the same generator, so results stay a function of the seed).
    ``modifiers=False`` (parallel designs only; see :func:`needs_modifiers`)
    skips the baseline questionnaires: the same trial without the modifier
    columns.

    Examples
    --------
    >>> import numpy as np
    >>> from resolve.simulate import default_scenario
    >>> d = TrialDesign(100, "enrichment", parse_condition("frebaq<=14"))
    >>> data, screened = simulate_design_trial(default_scenario(), d, np.random.default_rng(1))
    >>> int(data["id"].nunique()), bool(data["frebaq"].max() <= 14), screened > 100
    (100, True, True)
    """
    arms = scenario.design.arms
    sizes = design.arm_sizes
    if design.kind == "parallel":  # everyone drawn is enrolled
        trial = simulate_trials(
            _pool_scenario(scenario, sizes, design.dropout),
            seed=rng,
            n_trials=1,
            modifiers=modifiers,
        )
        return trial.drop(columns="trial"), design.n
    if not modifiers:
        raise DataValidationError(f"design {design.label} selects on a modifier: it needs them")
    share = eligible if design.kind == "enrichment" else 1.0
    factor = 1.0 / max(share, 1e-3)
    margin = 1.3
    for _ in range(12):
        pool = tuple(math.ceil(s * factor * margin) + 8 for s in sizes)
        trial = simulate_trials(
            _pool_scenario(scenario, (pool[0], pool[1]), design.dropout), seed=rng, n_trials=1
        )
        assert isinstance(trial, pd.DataFrame)
        picked = _select(_baseline(trial), arms, design)
        if picked is not None:
            ids, screened = picked
            keep = trial[trial["id"].isin(set(ids))].drop(columns="trial")
            return keep.reset_index(drop=True), screened
        margin *= 1.6
    raise DataValidationError(  # pragma: no cover - needs an eligibility rate near 0
        f"design {design.label}: could not find {design.n} eligible participants; "
        "is the condition almost never met?"
    )


# ----------------------------------------------------------------------------- truth
def true_values(
    scenario: Scenario, design: TrialDesign, plan: Plan, *, size: int = 100_000, seed: int = 0
) -> tuple[dict[str, float], float]:
    """True effects of ``design``'s population and its eligible share.

    Treatment targets: the mean configured effect ``tau(x)`` over the enrolled
    population (all-comers, or those meeting an enrichment condition; per
    stratum for biomarker targets), from ``size`` simulated baselines.
    Modifier targets: the configured ``per_point`` (0 where none is configured).
    Cached: the values do not depend on ``n``, so a sample-size search
    computes them once per design.
    """
    outcomes = tuple(o.name for o in plan.outcomes)
    # n, ratio and dropout do not change the population's values
    key = dataclasses.replace(design, n=8, ratio=1.0, dropout=1.0)
    truth, share = _true_values(scenario, key, outcomes, size, seed)
    return dict(truth), share


@functools.lru_cache(maxsize=32)
def _true_values(
    scenario: Scenario, design: TrialDesign, outcomes: tuple[str, ...], size: int, seed: int
) -> tuple[tuple[tuple[str, float], ...], float]:
    truth, share = _compute_true_values(scenario, design, outcomes, size=size, seed=seed)
    return tuple(truth.items()), share


def _compute_true_values(
    scenario: Scenario, design: TrialDesign, outcomes: tuple[str, ...], *, size: int, seed: int
) -> tuple[dict[str, float], float]:
    if design.kind in ("parallel", "stratified"):
        # all-comers: the mean of tau(x) over the population is the scenario's
        # average effect (modifiers enter centred on their population means)
        known = {
            f"treatment:{o}:week {w}": float(scenario.outcome(o).effect[k])
            for o in outcomes
            for k, w in enumerate(scenario.design.followup_weeks)
        }
        for e in scenario.effect_modification:
            known[f"modifier:{e.modifier}:{e.outcome}:week {e.week}"] = float(e.per_point)
        return known, 1.0
    big = simulate_trials(
        _pool_scenario(scenario, (size // 2, size - size // 2), 0.0), seed=seed, n_trials=1
    )
    assert isinstance(big, pd.DataFrame)
    base = _baseline(big)
    cond = design.condition
    ok = np.ones(len(base), bool) if cond is None else cond.holds(base[cond.modifier])
    share = float(ok.mean())
    groups: dict[str, np.ndarray] = {"": ok if design.kind == "enrichment" else np.ones_like(ok)}
    if design.kind == "biomarker" and cond is not None:
        groups[f"|{cond}"] = ok
        groups[f"|{cond.negated()}"] = ~ok
    truth: dict[str, float] = {}
    for name in outcomes:
        for week in scenario.design.followup_weeks:
            tau = treatment_effect(scenario, name, week, base)
            for suffix, mask in groups.items():
                truth[f"treatment:{name}:week {week}{suffix}"] = float(tau[mask].mean())
    for e in scenario.effect_modification:
        truth[f"modifier:{e.modifier}:{e.outcome}:week {e.week}"] = float(e.per_point)
    return truth, share


# ----------------------------------------------------------------------------- analysis
ROW_COLUMNS = (
    "target",
    "estimand",
    "adjustment",
    "estimate",
    "std_error",
    "conf_low",
    "conf_high",
    "p_value",
    "reject",
    "failed",
)


def _row(
    target: str, estimand: str, adjustment: str, alpha: float, **values: Any
) -> dict[str, Any]:
    p = values.get("p_value")
    ok = p is not None and math.isfinite(float(p))
    row: dict[str, Any] = {"target": target, "estimand": estimand, "adjustment": adjustment}
    for key in ("estimate", "std_error", "conf_low", "conf_high", "p_value"):
        v = values.get(key)
        row[key] = float(v) if v is not None and math.isfinite(float(v)) else None
    row["reject"] = bool(ok and float(p) < alpha)  # type: ignore[arg-type]
    row["failed"] = not ok
    return row


def _effects(
    data: pd.DataFrame,
    plan: Plan,
    alpha: float,
    suffix: str,
    expected: Sequence[str],
    *,
    fast: bool,
) -> list[dict[str, Any]]:
    arms = f"{plan.trial.arms[1]} - {plan.trial.arms[0]}" if len(plan.trial.arms) == 2 else "arms"
    try:
        if fast:
            table = primary_differences(data, plan)
        else:
            table = between_arm_differences(data, plan, model=plan.analysis.primary, validated=True)
        found = {
            f"treatment:{r['outcome']}:{r['visit']}{suffix}": {str(k): v for k, v in r.items()}
            for r in table.to_dict(orient="records")
        }
    except ResolveError:
        found = {}
    return [
        _row(
            target,
            f"difference in mean {target.split(':')[1]} ({arms}), {plan.analysis.primary}",
            "none",
            alpha,
            **found.get(target, {}),
        )
        for target in expected
    ]


def _modifier_rows(data: pd.DataFrame, plan: Plan, alpha: float) -> list[dict[str, Any]]:
    em = plan.effect_modification
    visits = list(em.visits) or [v for v in plan.trial.visits if v != plan.trial.baseline_visit]
    outcomes = list(em.outcomes) or [o.name for o in plan.outcomes]
    records: list[dict[str, Any]] = []
    glob: list[dict[str, Any]] = []
    try:
        res = analyse_modifiers(data, plan, credibility=False)
        records = [{str(k): v for k, v in r.items()} for r in res.table.to_dict("records")]
        glob = [{str(k): v for k, v in r.items()} for r in res.global_tests.to_dict("records")]
    except ResolveError:
        pass
    lookup: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in records:
        lookup.setdefault((str(r["modifier"]), str(r["outcome"]), str(r["visit"])), r)
    rows: list[dict[str, Any]] = []
    for m in plan.modifiers:
        for outcome in outcomes:
            for v in visits:
                values = lookup.get((m.name, outcome, v), {})
                target = f"modifier:{m.name}:{outcome}:{v}"
                estimand = f"treatment-by-{m.name} interaction on {outcome} (per unit)"
                rows.append(_row(target, estimand, "none", alpha, **values))
                if v not in em.family_visits:
                    continue
                for adj in em.multiplicity:
                    adjusted = {**values, "p_value": values.get(f"p_{adj}")}
                    rows.append(_row(target, estimand, adj, alpha, **adjusted))
    gl = {(str(r["outcome"]), str(r["visit"])): r for r in glob}
    for outcome in outcomes:
        for v in visits:
            rows.append(
                _row(
                    f"global:{outcome}:{v}",
                    f"any treatment-by-modifier interaction on {outcome} (global test)",
                    "none",
                    alpha,
                    p_value=gl.get((outcome, v), {}).get("p_value"),
                )
            )
    return rows


def design_targets(plan: Plan, design: TrialDesign, analyses: str) -> list[tuple[str, str]]:
    """Every ``(target, adjustment)`` a replicate of ``design`` reports, in row order.

    Known before anything is simulated, so a misspelt target is refused at once.

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> design_targets(load_plan(), TrialDesign(100), "primary")[:2]
    [('treatment:pain:week 12', 'none'), ('treatment:pain:week 18', 'none')]
    """
    if analyses not in ANALYSES:
        raise DataValidationError(
            f"analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}"
        )
    visits = [v for v in plan.trial.visits if v != plan.trial.baseline_visit]
    effects = [f"treatment:{o.name}:{v}" for o in plan.outcomes for v in visits]
    out = [(t, "none") for t in effects]
    if design.kind == "biomarker" and design.condition is not None:
        for c in (design.condition, design.condition.negated()):
            out += [(f"{t}|{c}", "none") for t in effects]
    if analyses == "full":
        em = plan.effect_modification
        em_visits = list(em.visits) or visits
        outcomes = list(em.outcomes) or [o.name for o in plan.outcomes]
        for m in plan.modifiers:
            for outcome in outcomes:
                for v in em_visits:
                    out.append((f"modifier:{m.name}:{outcome}:{v}", "none"))
                    if v in em.family_visits:
                        out += [(f"modifier:{m.name}:{outcome}:{v}", a) for a in em.multiplicity]
        out += [(f"global:{o}:{v}", "none") for o in outcomes for v in em_visits]
    return out


def check_targets(
    plan: Plan, design: TrialDesign, analyses: str, targets: Sequence[str], adjustment: str | None
) -> None:
    """Refuse a target (and adjustment) that ``design`` with ``analyses`` does not test."""
    known = design_targets(plan, design, analyses)
    names = sorted({t for t, _ in known})
    for target in targets:
        adjustments = [a for t, a in known if t == target]
        if not adjustments:
            hint = (
                "; modifier and global tests need analyses 'full'" if analyses == "primary" else ""
            )
            raise DataValidationError(
                f"target {target!r} is not tested by this plan and design{hint}; targets include "
                f"{', '.join(names[:6])}{' ...' if len(names) > 6 else ''}"
            )
        if adjustment is not None and adjustment not in adjustments:
            raise DataValidationError(
                f"target {target!r} has no {adjustment!r} adjustment (it has "
                f"{', '.join(adjustments)}; Holm/BH apply to the plan's family visits)"
            )


def needs_modifiers(plan: Plan, design: TrialDesign, analyses: str) -> bool:
    """Whether simulating ``design`` for ``analyses`` needs the baseline modifiers.

    Only a parallel design analysed by the primary model alone, in its fast
    form (:func:`resolve.design.fast.plan_supported`: no covariates), can do without
    them; any selection, stratification or modifier analysis needs them.

    Examples
    --------
    >>> from resolve.analysis import load_plan
    >>> needs_modifiers(load_plan(), TrialDesign(276), "primary")
    False
    >>> needs_modifiers(load_plan(), TrialDesign(276), "full")
    True
    """
    if analyses != "primary" or design.kind != "parallel":
        return True
    return not plan_supported(plan)


def analyse_design_trial(
    data: pd.DataFrame, plan: Plan, design: TrialDesign, *, analyses: str = "primary"
) -> list[dict[str, Any]]:
    """The plan's tests on one simulated trial: one row per target and adjustment.

    Columns :data:`ROW_COLUMNS`. A model that cannot be fitted gives its rows
    ``failed=True``, ``reject=False`` and empty estimates (counted, never
    dropped, so power is never computed on the lucky replicates only).

    The primary model is fitted by :func:`resolve.design.fast.primary_differences`
    where it applies (same numbers as ``resolve analyze``, without the LS-means
    grid); with ``analyses="primary"`` the data (from the simulator, so in the
    plan's layout) are then not re-validated.
    """
    if analyses not in ANALYSES:
        raise DataValidationError(
            f"analyses must be one of {', '.join(ANALYSES)}, got {analyses!r}"
        )
    alpha = 1 - plan.analysis.conf_level
    fast = supported(plan, data)
    if fast and analyses == "primary":
        valid = data
    else:
        valid = plan.validate_data(data, source="simulated trial")
    visits = [v for v in plan.trial.visits if v != plan.trial.baseline_visit]
    expected = [f"treatment:{o.name}:{v}" for o in plan.outcomes for v in visits]
    rows = _effects(valid, plan, alpha, "", expected, fast=fast)
    if design.kind == "biomarker" and design.condition is not None:
        cond = design.condition
        for c in (cond, cond.negated()):
            sub = valid[c.holds(valid[cond.modifier])]
            targets = [f"{t}|{c}" for t in expected]
            rows += _effects(sub, plan, alpha, f"|{c}", targets, fast=fast)
    if analyses == "full":
        rows += _modifier_rows(valid, plan, alpha)
    return rows
