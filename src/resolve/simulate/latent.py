"""The latent-normal layer: factor model, calibrated marginals and effect modification.

Per participant, standard-normal latent variables are built from a common
factor ``F`` ("pain-related distress"), outcome-specific person intercepts
``S_pain`` and ``S_rmdq`` (correlation ``pain_rmdq_person``) and visit
residuals ``e[k, t]`` (same-visit correlation ``pain_rmdq_visit``)::

    z_m       = l_m F + sqrt(1 - l_m^2) u_m                 (questionnaires, medication)
    Y[k, t]   = l_k F + g_k S_k + sqrt(1 - r_k) e[k, t]     (k = pain, rmdq; r_k = l_k^2 + g_k^2)

Each latent variable is then thresholded into its arm- and visit-specific
marginal (:mod:`resolve.simulate.marginals`). Effect modification of outcome
``k`` at week ``t`` by modifier ``m`` replaces, in the treated arm only,
``Y[k, t]`` by ``(Y + kappa W_m) / sqrt(1 + 2 kappa c + kappa^2)`` (``W_m`` the
modifier's latent, ``c`` their correlation): the treated arm's marginal, hence
the average effect, is unchanged while its slope on the modifier grows. ``kappa``
is solved so that the difference of the two arms' observed-scale
least-squares slopes equals ``per_point``.

Examples
--------
>>> from resolve.simulate import default_scenario
>>> from resolve.simulate.latent import calibrate, latent_correlation
>>> cal = calibrate(default_scenario())
>>> round(cal.marginals[("pain", 1, 0)].mean, 6), round(cal.marginals[("rmdq", 0, 0)].sd, 6)
(5.6, 5.0)
>>> round(cal.marginals[("rmdq", 1, 2)].mean, 2)  # all randomised; completers: 3.63
3.72
>>> R = latent_correlation(default_scenario())
>>> round(float(R.loc["rmdq_w0", "rmdq_w18"]), 3)
0.55
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.polynomial.legendre import leggauss
from numpy.typing import NDArray
from scipy import optimize, special

from resolve.errors import DataValidationError
from resolve.simulate.marginals import Marginal, beta_binomial, binary, rounded_normal
from resolve.simulate.missingness import dropout_score, solve_intercepts
from resolve.simulate.scenario import EffectModification, Scenario

__all__ = [
    "Calibrated",
    "calibrate",
    "draw_latent",
    "latent_correlation",
    "modified",
    "modifier_latent_name",
    "slope",
]

FloatArray = NDArray[np.float64]

_NODES, _WEIGHTS = leggauss(24)


@dataclass(frozen=True, eq=False)
class Calibrated:
    """Solved quantities of a scenario.

    ``marginals`` maps ``(outcome, arm index, visit index)`` and the modifier
    names (``"pseq"``..., ``"psychoactive"``, ``"age"``) to :class:`Marginal`;
    ``kappa`` maps ``(outcome, visit index)`` to ``(modifier, kappa, c)``.
    """

    marginals: dict[object, Marginal]
    kappa: dict[tuple[str, int], tuple[str, float, float]]


def _latent_names(scenario: Scenario) -> list[str]:
    names = [s.name for s in scenario.scales] + ["psychoactive"]
    for k in ("pain", "rmdq"):
        names += [f"{k}_w{w}" for w in scenario.design.weeks]
    return names


def draw_latent(scenario: Scenario, n: int, rng: np.random.Generator) -> dict[str, FloatArray]:
    """Standard-normal latents of ``n`` participants (reference-arm dependence).

    Keys: the questionnaire modifiers, ``psychoactive``, and ``pain_w<week>``,
    ``rmdq_w<week>`` for every visit. Draw order is fixed (reproducibility).
    """
    c = scenario.correlation
    weeks = scenario.design.weeks
    T = len(weeks)
    F = rng.standard_normal(n)
    s1, s2 = rng.standard_normal((2, n))
    rho = c.pain_rmdq_person
    S = {"pain": s1, "rmdq": rho * s1 + np.sqrt(1 - rho**2) * s2}
    e1, e2 = rng.standard_normal((2, n, T))
    rv = c.pain_rmdq_visit
    E = {"pain": e1, "rmdq": rv * e1 + np.sqrt(1 - rv**2) * e2}
    out: dict[str, FloatArray] = {}
    loadings = [(s.name, s.loading) for s in scenario.scales]
    loadings.append(("psychoactive", scenario.psychoactive.loading))
    U = rng.standard_normal((len(loadings), n))
    for (name, lam), u in zip(loadings, U, strict=True):
        out[name] = lam * F + np.sqrt(1 - lam**2) * u
    for k, lam, within in (
        ("pain", c.pain_loading, c.pain_within),
        ("rmdq", c.rmdq_loading, c.rmdq_within),
    ):
        g = np.sqrt(within - lam**2)
        for t, w in enumerate(weeks):
            out[f"{k}_w{w}"] = lam * F + g * S[k] + np.sqrt(1 - within) * E[k][:, t]
    return out


def modified(z: FloatArray, w: FloatArray, kappa: float, c: float) -> FloatArray:
    """Treated-arm latent ``(z + kappa w) / sqrt(1 + 2 kappa c + kappa^2)`` (still N(0, 1))."""
    return np.asarray((z + kappa * w) / np.sqrt(1 + 2 * kappa * c + kappa**2), dtype=np.float64)


def latent_correlation(scenario: Scenario) -> pd.DataFrame:
    """Correlation matrix of the latent normals (reference arm, before thresholding).

    Rows and columns: the five questionnaire totals, ``psychoactive``, then
    ``pain_w<week>`` and ``rmdq_w<week>`` for every visit.
    """
    c = scenario.correlation
    names = _latent_names(scenario)
    loading = {s.name: s.loading for s in scenario.scales}
    loading["psychoactive"] = scenario.psychoactive.loading
    within = {"pain": c.pain_within, "rmdq": c.rmdq_within}
    lk = {"pain": c.pain_loading, "rmdq": c.rmdq_loading}
    g = {k: np.sqrt(within[k] - lk[k] ** 2) for k in lk}
    R = np.eye(len(names))

    def parse(name: str) -> tuple[str, int | None]:
        if "_w" in name:
            k, w = name.split("_w")
            return k, int(w)
        return name, None

    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i == j:
                continue
            (ka, wa), (kb, wb) = parse(a), parse(b)
            la = lk[ka] if wa is not None else loading[ka]
            lb = lk[kb] if wb is not None else loading[kb]
            value = la * lb
            if wa is not None and wb is not None:
                if ka == kb:
                    value = within[ka]
                else:
                    value += g[ka] * g[kb] * c.pain_rmdq_person
                    if wa == wb:
                        value += np.sqrt((1 - within[ka]) * (1 - within[kb])) * c.pain_rmdq_visit
            R[i, j] = value
    return pd.DataFrame(R, index=names, columns=names)


def modifier_latent_name(modifier: str) -> str:
    """Latent variable behind an output modifier column."""
    return {"pain_baseline": "pain_w0", "rmdq_baseline": "rmdq_w0"}.get(modifier, modifier)


def _cells(m: Marginal) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes, weights (times the normal density) and values by latent cell."""
    edges = np.concatenate([[-9.0], np.clip(m.thresholds, -9.0, 9.0), [9.0]])
    lo, hi = edges[:-1, None], edges[1:, None]
    nodes = (lo + hi) / 2 + (hi - lo) / 2 * _NODES[None, :]
    weights = (hi - lo) / 2 * _WEIGHTS[None, :] * np.exp(-(nodes**2) / 2) / np.sqrt(2 * np.pi)
    values = np.broadcast_to(m.support[:, None].astype(float), nodes.shape)
    return nodes.ravel(), weights.ravel(), values.ravel()


def slope(y: Marginal, x: Marginal, r: float) -> float:
    """Least-squares slope of ``y`` on ``x`` when their latents have correlation ``r``.

    ``E[XY]`` is integrated cell by cell over ``x``'s latent with
    ``E[Y | W = w] = y_0 + sum_k dy_k Phi((r w - a_k) / sqrt(1 - r^2))``.
    """
    nodes, weights, xv = _cells(x)
    s = np.sqrt(1.0 - r * r)
    a = y.thresholds
    dy = np.diff(y.support).astype(float)
    cond = y.support[0] + special.ndtr((r * nodes[:, None] - a[None, :]) / s) @ dy
    exy = float(np.sum(weights * xv * cond))
    var_x = x.sd**2
    return (exy - x.mean * y.mean) / var_x


def _solve_kappa(
    e: EffectModification, k: int, marg: dict[object, Marginal], R: pd.DataFrame, per_point: float
) -> tuple[float, float]:
    latent = modifier_latent_name(e.modifier)
    c = float(R.to_numpy()[R.index.get_loc(f"{e.outcome}_w{e.week}"), R.columns.get_loc(latent)])

    def x_marginal(arm: int) -> Marginal:
        if e.modifier in ("pain_baseline", "rmdq_baseline"):
            return marg[(latent.split("_")[0], arm, 0)]
        return marg[e.modifier]

    y0, y1 = marg[(e.outcome, 0, k)], marg[(e.outcome, 1, k)]
    target = slope(y0, x_marginal(0), c) + per_point

    def gap(r: float) -> float:
        return slope(y1, x_marginal(1), r) - target

    lo, hi = -0.995, 0.995
    if gap(lo) * gap(hi) > 0:
        reach = (slope(y1, x_marginal(1), lo), slope(y1, x_marginal(1), hi))
        raise DataValidationError(
            f"effect_modification ({e.modifier} x {e.outcome}, week {e.week}): per_point "
            f"{e.per_point:g} is not attainable with these marginals; the treated-arm slope can "
            f"range over ({reach[0]:.3g}, {reach[1]:.3g}) against a reference slope "
            f"{target - per_point:.3g}"
        )
    r = float(optimize.brentq(gap, lo, hi, xtol=1e-12))
    kappa = r * np.sqrt((1 - c * c) / (1 - r * r)) - c
    return float(kappa), c


def _outcome_marginals(
    scenario: Scenario, means: dict[tuple[str, int, int], tuple[float, float]]
) -> dict[object, Marginal]:
    d = scenario.design
    marg: dict[object, Marginal] = {}
    for (k, a, v), (mean, sd) in means.items():
        arm = d.arms[a]
        key = f"{k}.{arm}.mean[{v}] / {k}.{arm}.sd[{v}]"
        if k == "pain":
            floor = scenario.pain.eligibility_min if v == 0 else None
            marg[(k, a, v)] = rounded_normal(0, 10, mean=mean, sd=sd, floor=floor, key=key)
        else:
            marg[(k, a, v)] = beta_binomial(0, 24, mean=mean, sd=sd, key=key)
    return marg


_CAL_SIZE = 100_000  # participants per arm in the completer correction
_CAL_SEED = 20150610  # fixed: the correction must not depend on the user's seed


def _completer_shift(
    scenario: Scenario,
    marg: dict[object, Marginal],
    kappa: dict[tuple[str, int], tuple[str, float, float]],
    latent: dict[str, FloatArray],
    age: FloatArray,
) -> tuple[dict[tuple[str, int, int], tuple[float, float]], dict[tuple[str, int], float]]:
    """Completer minus full-data mean and SD, and completer minus full slope gap."""
    d = scenario.design
    shift: dict[tuple[str, int, int], tuple[float, float]] = {}
    slope_shift: dict[tuple[str, int], float] = {}
    for a in (0, 1):
        pain0 = marg[("pain", a, 0)].transform(latent["pain_w0"]).astype(float)
        rmdq0 = marg[("rmdq", a, 0)].transform(latent["rmdq_w0"]).astype(float)
        eta = dropout_score(scenario, pain0=pain0, rmdq0=rmdq0, age=age)
        for k in ("pain", "rmdq"):
            counts = scenario.followup.counts(k)[a]
            for v in range(1, len(d.weeks)):
                z = latent[f"{k}_w{d.weeks[v]}"]
                if a == 1 and (k, v) in kappa:
                    name, kap, c = kappa[(k, v)]
                    z = modified(z, latent[name], kap, c)
                y = marg[(k, a, v)].transform(z).astype(float)
                frac = (d.n_per_arm[a] - counts[v]) / d.n_per_arm[a]
                alpha = solve_intercepts(eta[None, :], np.array([frac * eta.size]))
                w = 1.0 - special.expit(alpha[0] + eta)
                m_obs = float(np.sum(w * y) / np.sum(w))
                sd_obs = float(np.sqrt(np.sum(w * (y - m_obs) ** 2) / np.sum(w)))
                shift[(k, a, v)] = (m_obs - float(y.mean()), sd_obs - float(y.std()))
                if (k, v) in kappa:
                    name = kappa[(k, v)][0]
                    x = _modifier_values(name, a, marg, latent)
                    slope_shift[(k, v)] = slope_shift.get((k, v), 0.0) + (1 if a else -1) * (
                        _wls_slope(y, x, w) - _wls_slope(y, x, np.ones_like(w))
                    )
    return shift, slope_shift


def _modifier_values(
    name: str, a: int, marg: dict[object, Marginal], latent: dict[str, FloatArray]
) -> FloatArray:
    key: object = (name.split("_")[0], a, 0) if name.endswith("_w0") else name
    return marg[key].transform(latent[name]).astype(float)


def _wls_slope(y: FloatArray, x: FloatArray, w: FloatArray) -> float:
    mx, my = np.sum(w * x) / np.sum(w), np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (x - mx) * (y - my)) / np.sum(w * (x - mx) ** 2))


def calibrate(scenario: Scenario) -> Calibrated:
    """Solve every marginal and effect-modification weight of ``scenario`` (cached).

    Follow-up targets describe the participants *observed* at a visit. Because
    dropout depends on baseline values, completers differ slightly from all
    randomised; the full-data marginals are therefore shifted (three
    fixed-point steps on a fixed-seed sample of 100,000 participants per arm)
    so that the completer-weighted mean and SD, and the completer slope
    difference of each effect modification, equal the targets.

    Raises
    ------
    DataValidationError
        A target (mean with SD, or an interaction) cannot be reproduced; the
        message names the scenario file and key.
    """
    try:
        return _calibrate(scenario)
    except DataValidationError as exc:
        raise DataValidationError(f"{scenario.source}: {exc}") from None


@lru_cache(maxsize=16)
def _calibrate(scenario: Scenario) -> Calibrated:
    d = scenario.design
    targets: dict[tuple[str, int, int], tuple[float, float]] = {}
    for k in ("pain", "rmdq"):
        for a in (0, 1):
            tr = scenario.outcome(k).arms[a]
            for v in range(len(d.weeks)):
                targets[(k, a, v)] = (tr.mean[v], tr.sd[v])
    marg = _outcome_marginals(scenario, targets)
    for s in scenario.scales:
        marg[s.name] = beta_binomial(
            s.low, s.high, mean=s.mean, sd=s.sd, key=f"modifiers.{s.name}.mean / .sd"
        )
    marg["psychoactive"] = binary(scenario.psychoactive.prevalence)
    dem = scenario.demographics
    marg["age"] = rounded_normal(
        dem.age_min,
        dem.age_max,
        mean=dem.age_mean,
        sd=dem.age_sd,
        clip=False,
        key="demographics.age_mean / demographics.age_sd",
    )
    R = latent_correlation(scenario)
    per_point = {
        (e.outcome, d.weeks.index(e.week)): e.per_point for e in scenario.effect_modification
    }

    def solve_all(
        pp: dict[tuple[str, int], float],
    ) -> dict[tuple[str, int], tuple[str, float, float]]:
        out: dict[tuple[str, int], tuple[str, float, float]] = {}
        for e in scenario.effect_modification:
            k = d.weeks.index(e.week)
            kap, c = _solve_kappa(e, k, marg, R, pp[(e.outcome, k)])
            out[(e.outcome, k)] = (modifier_latent_name(e.modifier), kap, c)
        return out

    kappa = solve_all(per_point)
    if any(scenario.followup.counts(k)[a][v] < d.n_per_arm[a] for (k, a, v) in targets):
        rng = np.random.default_rng(_CAL_SEED)
        latent = draw_latent(scenario, _CAL_SIZE, rng)
        age = marg["age"].transform(rng.standard_normal(_CAL_SIZE)).astype(float)
        full = dict(targets)
        pp = dict(per_point)
        for _ in range(3):
            shift, slope_shift = _completer_shift(scenario, marg, kappa, latent, age)
            for key, (dm, ds) in shift.items():
                full[key] = (targets[key][0] - dm, targets[key][1] - ds)
            for em_key, gap in slope_shift.items():
                pp[em_key] = per_point[em_key] - gap
            marg.update(_outcome_marginals(scenario, full))
            kappa = solve_all(pp)
    return Calibrated(marg, kappa)
