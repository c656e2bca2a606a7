"""Effect modification by baseline characteristics (Venter et al. 2026 style).

For each candidate modifier *m* of the plan, each effect-modification outcome
and each follow-up visit *t* present in the data, among participants with the
outcome (and baseline outcome, covariates, modifier) observed at *t*::

    y_t = α + Σ_a δ_a·A_a + λ·m + Σ_a κ_a·(A_a × m) [+ γ·y_0] [+ covariates] + ε

with ``A_a`` the 0/1 indicator of non-reference arm *a* (reference arm = 0),
fitted by ordinary least squares. ``κ_a`` — the change in the treatment effect
(arm *a* minus reference) per unit of the modifier — is reported, one row per
non-reference arm (``contrast`` ``"<arm> - <reference>"``), with a t-based
confidence interval and P value. ``[effect_modification] standard_errors``
chooses the standard errors: ``"hc2"`` (default) the HC2 sandwich with Bell &
McCaffrey degrees of freedom per test (R ``clubSandwich`` CR2, one cluster per
participant, ``test = "Satterthwaite"``), ``"hc3"`` the HC3 sandwich on the
residual df (R ``sandwich::vcovHC(type = "HC3")``), ``"ols"`` the model-based
ones on the residual df (R ``lm``). Categorical
covariates enter as factors. Continuous modifiers stay continuous; they are
never dichotomised.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> res = analyse_modifiers(datasets.load("resolve"), load_plan())
>>> row = res.table.query("modifier == 'frebaq' and outcome == 'pain' and visit == 'week 52'")
>>> round(float(row.estimate.iloc[0]), 3), bool(row.in_family.iloc[0])
(0.186, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from resolve.analysis._ols import OLSFit, VcovType, contrast, contrasts, ols, wald_f
from resolve.analysis._wide import WideData, wide_data
from resolve.analysis.multiplicity import adjust_p
from resolve.analysis.plan import ModifierSpec, Plan, load_plan
from resolve.analysis.result import ModifierAnalysis
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads

__all__ = [
    "HARRELL_KNOT_QUANTILES",
    "analyse_modifiers",
    "rcs_basis",
    "rcs_knots",
]

FloatArray = npt.NDArray[np.float64]

#: Knot locations (quantiles of the modifier) recommended by Harrell,
#: *Regression Modeling Strategies* (2nd ed., 2015), Table 2.3, for k = 3..7 knots.
HARRELL_KNOT_QUANTILES: dict[int, tuple[float, ...]] = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
    6: (0.05, 0.23, 0.41, 0.59, 0.77, 0.95),
    7: (0.025, 0.1833, 0.3417, 0.50, 0.6583, 0.8167, 0.975),
}

#: Number of points of each effect-versus-modifier curve.
CURVE_POINTS = 50
#: Percentiles of the participants' modifier values spanned by each curve.
CURVE_RANGE = (5.0, 95.0)
#: Percentiles at which the treatment effect is reported for continuous modifiers.
QUARTILES = ((25.0, "p25"), (50.0, "p50"), (75.0, "p75"))

TABLE_COLUMNS = [
    "modifier", "label", "type", "unit", "outcome", "visit", "contrast", "n", "estimate",
    "std_error", "conf_low", "conf_high", "p_value", "sd", "estimate_per_sd",
    "conf_low_per_sd", "conf_high_per_sd", "p_holm", "p_bh", "in_family", "exploratory",
    "nonlinearity_p", "direction_hypothesised", "direction_observed", "df", "statistic",
    "se_method",
]  # fmt: skip
#: Columns of ``ModifierAnalysis.quartiles``.
QUARTILE_COLUMNS = [
    "modifier", "outcome", "visit", "contrast", "quartile", "modifier_value", "estimate",
    "conf_low", "conf_high",
]  # fmt: skip
#: Columns of ``ModifierAnalysis.curves``.
CURVE_COLUMNS = [
    "modifier", "outcome", "visit", "contrast", "modifier_value", "estimate", "conf_low",
    "conf_high",
]  # fmt: skip
#: Columns of ``ModifierAnalysis.global_tests``.
GLOBAL_COLUMNS = [
    "outcome", "visit", "statistic", "df_num", "df_den", "p_value", "n", "n_contrasts",
    "n_modifiers", "model", "se_method",
]  # fmt: skip


# ----------------------------------------------------------------------------- splines
def rcs_knots(x: FloatArray, k: int) -> FloatArray:
    """Knots of a restricted cubic spline at Harrell's recommended quantiles.

    Quantiles use numpy's default (linear interpolation, R ``quantile`` type 7,
    as ``rms::rcspline.eval``). Tied knots (a discrete modifier) are merged, so
    fewer than ``k`` knots may come back.

    Raises
    ------
    DataValidationError
        If ``k`` is not 3 to 7.
    """
    if k not in HARRELL_KNOT_QUANTILES:
        raise DataValidationError(
            f"spline_knots must be one of 3, 4, 5, 6, 7 (Harrell's table); got {k!r}"
        )
    return np.unique(np.quantile(x, HARRELL_KNOT_QUANTILES[k]))


def rcs_basis(x: FloatArray, knots: FloatArray) -> FloatArray:
    """Non-linear terms of a restricted cubic spline in Harrell's parametrisation.

    For knots t_1 < … < t_k, column j = 1..k−2 is::

        [(x − t_j)₊³ − (x − t_{k−1})₊³ (t_k − t_j)/(t_k − t_{k−1})
                     + (x − t_k)₊³ (t_{k−1} − t_j)/(t_k − t_{k−1})] / (t_k − t_1)²

    (``rms::rcspline.eval(x, knots, inclx = FALSE, norm = 2)``). Together with
    ``x`` itself the columns span the cubic splines that are linear beyond the
    outer knots.

    Examples
    --------
    >>> rcs_basis(np.array([0.0, 5.0, 10.0]), np.array([1.0, 5.0, 9.0])).round(4).ravel().tolist()
    [0.0, 1.0, 7.5]
    """
    t = np.asarray(knots, dtype=float)
    k = t.size
    scale = (t[-1] - t[0]) ** 2
    out = np.empty((x.size, k - 2))

    def cube(z: FloatArray) -> FloatArray:
        return np.clip(z, 0.0, None) ** 3

    tail1 = cube(x - t[k - 2])
    tail2 = cube(x - t[k - 1])
    span = t[k - 1] - t[k - 2]
    for j in range(k - 2):
        out[:, j] = (
            cube(x - t[j]) - tail1 * (t[k - 1] - t[j]) / span + tail2 * (t[k - 2] - t[j]) / span
        ) / scale
    return out


# ----------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class _Cell:
    """Design pieces of one outcome x visit regression (complete cases)."""

    y: FloatArray
    arm: FloatArray  # n x (arms − 1)
    adjust: FloatArray  # n x q: baseline outcome and covariates (may be 0 columns)
    adjust_names: tuple[str, ...]
    mask: npt.NDArray[np.bool_]
    #: Per adjustment column: (profile key, factor level or None): ``("pain_baseline", None)``
    #: for the baseline outcome, ``("age", None)`` for a numeric covariate,
    #: ``("sex", "male")`` for the 0/1 column of a covariate level.
    adjust_keys: tuple[tuple[str, str | None], ...] = ()


def _cell(w: WideData, outcome: str, visit: str, modifier_cols: list[str]) -> _Cell:
    plan = w.plan
    y = w.outcome(outcome, visit).to_numpy()
    mods = w.baseline[modifier_cols].to_numpy(dtype=float)
    mask = ~np.isnan(y) & ~np.isnan(mods).any(axis=1) & ~w.covariate_missing()
    adj_vals: list[FloatArray] = []
    adj_names: list[str] = []
    adj_keys: list[tuple[str, str | None]] = []
    if plan.effect_modification.adjust_for_baseline:
        y0 = w.outcome(outcome, plan.trial.baseline_visit).to_numpy()
        mask &= ~np.isnan(y0)
        adj_vals.append(y0[mask])
        adj_names.append(f"{outcome}_baseline_visit")
        adj_keys.append((f"{outcome}_baseline", None))
    cov_vals, cov_names, cov_keys = w.covariate_design(mask)
    adj_vals += cov_vals
    adj_names += cov_names
    adj_keys += cov_keys
    # An adjustment column identical to a modifier (baseline pain is both the
    # modifier `pain_baseline` and the baseline outcome y_0) or to an earlier
    # adjustment column is already in the model; it is not entered twice.
    kept_vals: list[FloatArray] = []
    kept_names: list[str] = []
    kept_keys: list[tuple[str, str | None]] = []
    seen = [mods[mask, j] for j in range(mods.shape[1])]
    for name, key, vm in zip(adj_names, adj_keys, adj_vals, strict=True):
        if any(np.array_equal(vm, s) for s in seen):
            continue
        seen.append(vm)
        kept_vals.append(vm)
        kept_names.append(name)
        kept_keys.append(key)
    adjust = np.column_stack(kept_vals) if kept_vals else np.empty((int(mask.sum()), 0))
    return _Cell(
        y[mask], w.arm_indicators()[mask], adjust, tuple(kept_names), mask, tuple(kept_keys)
    )


def _fit_cell(
    cell: _Cell, m: FloatArray, mname: str, contrast_labels: tuple[str, ...],
    spline: FloatArray | None = None, vcov: VcovType = "ols",
) -> OLSFit:  # fmt: skip
    """Fit ``y ~ arm * (m [+ spline terms]) + adjust``; columns named R-style."""
    n = cell.y.size
    a = cell.arm.shape[1]
    parts: list[FloatArray] = [np.ones((n, 1)), cell.arm, m[:, None]]
    names = ["(Intercept)", *(f"arm[{c}]" for c in contrast_labels), mname]
    if spline is not None:
        parts.append(spline)
        names += [f"{mname}'{j + 1}" for j in range(spline.shape[1])]
    parts.append(cell.arm * m[:, None])
    names += [f"arm[{c}]:{mname}" for c in contrast_labels]
    if spline is not None:
        for i in range(a):
            parts.append(cell.arm[:, [i]] * spline)
            names += [f"arm[{contrast_labels[i]}]:{mname}'{j + 1}" for j in range(spline.shape[1])]
    parts.append(cell.adjust)
    names += list(cell.adjust_names)
    return ols(np.column_stack(parts), cell.y, names, vcov=vcov)


def _direction_hypothesised(spec: ModifierSpec, plan: Plan, outcome: str) -> str:
    # The plan states directions for outcomes where higher = worse; on an
    # outcome where higher = better the same hypothesis has the opposite sign.
    if plan.outcome(outcome).higher_is == "better":
        return "-" if spec.direction == "+" else "+"
    return spec.direction


def _sign(x: float) -> str:
    return "+" if x > 0 else ("-" if x < 0 else "0")


def _participant_values(w: WideData, spec: ModifierSpec) -> FloatArray:
    values = w.baseline[spec.column].dropna().to_numpy()
    if values.size < 2 or np.ptp(values) == 0:
        raise DataValidationError(
            f"modifier {spec.column!r} has no variance among participants; "
            "it cannot modify the treatment effect"
        )
    return values


# ----------------------------------------------------------------------------- main
def analyse_modifiers(
    data: pd.DataFrame, plan: Plan | None = None, *, credibility: bool = True
) -> ModifierAnalysis:
    """Test each pre-specified baseline characteristic as a treatment-effect modifier.

    Parameters
    ----------
    data : pandas.DataFrame
        Long-format trial data (one row per participant and visit) with the
        columns the plan names; validated by :meth:`Plan.validate_data`.
    plan : Plan, optional
        Analysis plan (default: the bundled RESOLVE plan). Used: ``trial``
        (arms, reference arm, visits), ``modifiers``, ``effect_modification``
        (outcomes, visits, family_visits, adjust_for_baseline, multiplicity,
        exploratory_p, spline_knots, standard_errors), ``analysis.covariates`` and
        ``conf_level``.
    credibility : bool, default True
        Also run the credibility assessment (ICEMAN core items, ICEMAN-based overall rating)
        (:func:`resolve.analysis.credibility.assess_credibility`).

    Returns
    -------
    ModifierAnalysis
        ``table`` — one row per modifier x outcome x visit x contrast (each
        non-reference arm against the reference arm, ``"<arm> - <reference>"``):
        ``modifier, label, type, unit, outcome, visit, contrast, n`` (complete
        cases), ``estimate, std_error, conf_low, conf_high, p_value`` (interaction
        κ_a of that arm per modifier unit; binary modifiers: users minus
        non-users), ``sd`` (SD of the modifier over participants, continuous
        only), ``estimate_per_sd, conf_low_per_sd, conf_high_per_sd`` (κ·SD),
        ``p_holm, p_bh`` (adjusted over the family; NaN outside it or when the
        method is not in the plan), ``in_family`` (visit in ``family_visits``),
        ``exploratory`` (P < ``exploratory_p``), ``nonlinearity_p`` (restricted
        cubic spline F test, joint over the arms, so the same on every contrast's
        row; NaN for binary modifiers or when fewer than 3 distinct knots exist),
        ``direction_hypothesised, direction_observed`` ("+", "-" or "0"), ``df``,
        ``statistic`` (t) and ``se_method`` ("hc2", "hc3" or "ols": the plan's
        ``standard_errors``).

        ``quartiles`` — treatment effect (the contrast) at the 25th/50th/75th
        percentile of the modifier over participants (``quartile`` = "p25",
        "p50", "p75"), or at 0 and 1 for binary modifiers ("level 0",
        "level 1"): ``modifier, outcome, visit, contrast, quartile,
        modifier_value, estimate, conf_low, conf_high``.

        ``curves`` — the effect (per contrast) at 50 equally spaced modifier
        values from the 5th to the 95th percentile with pointwise CIs
        (continuous modifiers): ``modifier, outcome, visit, contrast,
        modifier_value, estimate, conf_low, conf_high``.

        ``global_tests`` — per outcome x visit, F test that all arm x modifier
        interactions (every non-reference arm, every modifier) are zero in
        ``y_t ~ arm * (m_1 + … + m_k) + y_0 [+ covariates]`` (complete cases on
        every modifier): ``outcome, visit, statistic, df_num`` (contrasts x
        modifiers), ``df_den, p_value, n, n_contrasts, n_modifiers, model,
        se_method`` (with "hc3" the Wald F uses the HC3 covariance, as R
        ``lmtest::waldtest(..., vcov = ..., test = "F")``; with "hc2" the HTZ
        test of Pustejovsky & Tipton 2018, as R ``clubSandwich::Wald_test(...,
        test = "HTZ")``, whose ``df_den`` is the Hotelling-approximation df).

        ``credibility`` — see :mod:`resolve.analysis.credibility` (empty when
        ``credibility=False``).

    Raises
    ------
    DataValidationError
        If the data do not match the plan, a modifier has no variance, or a
        model is rank deficient.

    Notes
    -----
    Missing data: complete cases per outcome x visit (the outcome, the baseline
    outcome when adjusted for, the modifier and covariates observed); nothing
    is imputed. Baseline characteristics are taken once per participant.

    Multiplicity: the family adjusted by Holm and Benjamini-Hochberg is every
    row of ``table`` at a ``family_visits`` visit — all contrasts x modifiers x
    effect-modification outcomes x family visits (with three arms, twice the
    tests of a two-arm trial).

    Categorical covariates enter as factors (one 0/1 column per level present
    in the cell except the first, the reference); numeric ones as numbers.

    When an adjustment column equals the modifier (baseline pain is both the
    modifier ``pain_baseline`` and the baseline outcome y_0), it is entered once;
    R ``lm`` would report the duplicate as aliased (NA) with the same κ.

    Non-linearity: ``y_t ~ arm * rcs(m, k) + y_0`` with Harrell's knots and
    parametrisation (:func:`rcs_basis`) against the linear model; the F test has
    (k − 2)(number of arms) numerator df (the non-linear main effect and its
    interactions with arm).

    The SD, quartiles and curve range come from the participants' baseline
    values (one value per participant, all randomised participants with the
    modifier), so they are the same for every outcome and visit.
    """
    plan = load_plan() if plan is None else plan
    with limit_blas_threads(1):  # many tiny solves: threading only adds overhead
        return _analyse(wide_data(data, plan), credibility=credibility)


def _analyse(w: WideData, *, credibility: bool) -> ModifierAnalysis:
    plan = w.plan
    em = plan.effect_modification
    level = plan.analysis.conf_level
    vcov = em.standard_errors
    visits = [v for v in em.visits if v in w.visits]
    labels = w.contrast_labels

    rows: list[dict[str, Any]] = []
    quart_rows: list[dict[str, Any]] = []
    curve_frames: list[pd.DataFrame] = []
    for spec in plan.modifiers:
        values = _participant_values(w, spec)
        binary = spec.type == "binary"
        sd = np.nan if binary else float(np.std(values, ddof=1))
        if binary:
            points = [(0.0, "level 0"), (1.0, "level 1")]
            grid = None
        else:
            pct = np.percentile(values, [q for q, _ in QUARTILES])
            points = [(float(v), lab) for v, (_, lab) in zip(pct, QUARTILES, strict=True)]
            lo, hi = np.percentile(values, CURVE_RANGE)
            grid = np.linspace(lo, hi, CURVE_POINTS)
        for outcome in em.outcomes:
            hyp = _direction_hypothesised(spec, plan, outcome)
            for visit in visits:
                cell = _cell(w, outcome, visit, [spec.column])
                m = w.baseline[spec.column].to_numpy()[cell.mask]
                fit = _fit_cell(cell, m, spec.name, labels, vcov=vcov)
                nl_p = np.nan
                if not binary:
                    knots = rcs_knots(m, em.spline_knots)
                    if knots.size >= 3:
                        sfit = _fit_cell(cell, m, spec.name, labels, rcs_basis(m, knots))
                        q = sfit.n - sfit.df_resid - (fit.n - fit.df_resid)
                        f = ((fit.rss - sfit.rss) / q) / sfit.sigma2
                        nl_p = float(stats.f.sf(f, q, sfit.df_resid))
                for lab in labels:
                    i_arm = fit.index(f"arm[{lab}]")
                    i_int = fit.index(f"arm[{lab}]:{spec.name}")
                    c = np.zeros(fit.coef.size)
                    c[i_int] = 1.0
                    k = contrast(fit, c, conf_level=level)
                    rows.append(
                        {
                            "modifier": spec.name, "label": spec.label, "type": spec.type,
                            "unit": spec.unit, "outcome": outcome, "visit": visit,
                            "n": fit.n, "estimate": k.estimate, "std_error": k.std_error,
                            "conf_low": k.conf_low, "conf_high": k.conf_high,
                            "p_value": k.p_value, "sd": sd,
                            "estimate_per_sd": k.estimate * sd,
                            "conf_low_per_sd": k.conf_low * sd,
                            "conf_high_per_sd": k.conf_high * sd,
                            "in_family": visit in em.family_visits,
                            "exploratory": bool(k.p_value < em.exploratory_p),
                            "nonlinearity_p": nl_p, "direction_hypothesised": hyp,
                            "direction_observed": _sign(k.estimate), "contrast": lab,
                            "df": k.df, "statistic": k.statistic, "se_method": vcov,
                        }
                    )  # fmt: skip
                    C = np.zeros((len(points), fit.coef.size))
                    C[:, i_arm] = 1.0
                    C[:, i_int] = [v for v, _ in points]
                    est, _, lo_, hi_ = contrasts(fit, C, conf_level=level)
                    for j, (v, qlab) in enumerate(points):
                        quart_rows.append(
                            {
                                "modifier": spec.name, "outcome": outcome, "visit": visit,
                                "quartile": qlab, "modifier_value": v, "estimate": est[j],
                                "conf_low": lo_[j], "conf_high": hi_[j], "contrast": lab,
                            }
                        )  # fmt: skip
                    if grid is not None:
                        G = np.zeros((grid.size, fit.coef.size))
                        G[:, i_arm] = 1.0
                        G[:, i_int] = grid
                        est, _, lo_, hi_ = contrasts(fit, G, conf_level=level)
                        curve_frames.append(
                            pd.DataFrame(
                                {
                                    "modifier": spec.name,
                                    "outcome": outcome,
                                    "visit": visit,
                                    "modifier_value": grid,
                                    "estimate": est,
                                    "conf_low": lo_,
                                    "conf_high": hi_,
                                    "contrast": lab,
                                }
                            )
                        )
    table = pd.DataFrame(rows)
    for method, col in (("holm", "p_holm"), ("bh", "p_bh")):
        adj = np.full(len(table), np.nan)
        if method in em.multiplicity and len(table):
            fam = table["in_family"].to_numpy(dtype=bool)
            adj[fam] = adjust_p(table.loc[fam, "p_value"].to_numpy(dtype=float), method)
        table[col] = adj
    table = table.reindex(columns=TABLE_COLUMNS)
    quartiles = pd.DataFrame(quart_rows, columns=QUARTILE_COLUMNS)
    curves = (
        pd.concat(curve_frames, ignore_index=True).reindex(columns=CURVE_COLUMNS)
        if curve_frames
        else pd.DataFrame(columns=CURVE_COLUMNS)
    )
    global_tests = _global_tests(w, visits)
    cred = pd.DataFrame()
    if credibility:
        from resolve.analysis.credibility import assess_credibility

        cred = assess_credibility(table, plan)
    return ModifierAnalysis(table, quartiles, curves, global_tests, cred)


def joint_fit(
    w: WideData, outcome: str, visit: str, *, vcov: VcovType = "ols"
) -> tuple[OLSFit, _Cell]:
    """OLS of ``y_t ~ arm * (m_1 + ... + m_k) [+ y_0 + covariates]`` on one cell's complete cases.

    Coefficients, in order: ``(Intercept)``, ``arm[<contrast>]`` per non-reference
    arm, the modifiers, ``arm[<contrast>]:<modifier>`` (arm-major), then the
    adjustment terms. Used by the global heterogeneity test and by
    :func:`resolve.analysis.individual.predict_individual`.
    """
    specs = w.plan.modifiers
    labels = w.contrast_labels
    cols = [s.column for s in specs]
    cell = _cell(w, outcome, visit, cols)
    M = w.baseline[cols].to_numpy()[cell.mask]
    X = np.column_stack(
        [np.ones(cell.y.size), cell.arm, M]
        + [cell.arm[:, [i]] * M for i in range(len(labels))]
        + [cell.adjust]
    )
    names = ["(Intercept)", *(f"arm[{c}]" for c in labels), *(s.name for s in specs)]
    names += [f"arm[{c}]:{s.name}" for c in labels for s in specs]
    names += list(cell.adjust_names)
    return ols(X, cell.y, names, vcov=vcov), cell


def _global_tests(w: WideData, visits: list[str]) -> pd.DataFrame:
    """Joint F test of every arm x modifier interaction, per outcome x visit."""
    plan = w.plan
    specs = plan.modifiers
    labels = w.contrast_labels
    adj = " + y_0" if plan.effect_modification.adjust_for_baseline else ""
    adj += "".join(
        f" + factor({c})" if c in w.factors else f" + {c}"
        for c in dict.fromkeys(plan.analysis.covariates)
    )
    model = f"y_t ~ arm * ({' + '.join(s.name for s in specs)}){adj}"
    vcov = plan.effect_modification.standard_errors
    rows: list[dict[str, Any]] = []
    for outcome in plan.effect_modification.outcomes:
        for visit in visits:
            fit, cell = joint_fit(w, outcome, visit, vcov=vcov)
            n = cell.y.size
            idx = [fit.index(f"arm[{c}]:{s.name}") for c in labels for s in specs]
            L = np.zeros((len(idx), fit.coef.size))
            L[np.arange(len(idx)), idx] = 1.0
            f, q, d, p = wald_f(fit, L)
            rows.append(
                {
                    "outcome": outcome, "visit": visit, "statistic": f, "df_num": q,
                    "df_den": d, "p_value": p, "n": n, "n_contrasts": len(labels),
                    "n_modifiers": len(specs), "model": model, "se_method": vcov,
                }
            )  # fmt: skip
    return pd.DataFrame(rows, columns=GLOBAL_COLUMNS)
