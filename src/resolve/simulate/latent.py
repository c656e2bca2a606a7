"""Potential outcomes: latent dependence, calibrated conditional means and effects.

Every participant is generated *before* randomisation and identically in both
arms; the arm only decides which of two potential outcomes is observed.

**Baseline (pre-randomisation).** Standard-normal latents per participant: a
common factor ``F`` ("pain-related distress"), outcome-specific person
intercepts ``S_pain``, ``S_rmdq`` (correlation ``pain_rmdq_person``) and
baseline visit residuals ``e[k, 0]`` (correlation ``pain_rmdq_visit``)::

    P_k       = l_k F + sqrt(1 - l_k^2) S_k           prognosis of outcome k
    X_k       = sqrt(q_k) P_k + sqrt(1 - q_k) e[k, 0]  baseline latent (q_k: reliability)
    z_m       = l_m F + sqrt(1 - l_m^2) u_m            questionnaires, medication

thresholded into one baseline distribution per variable (the same in both
arms: chance imbalance only).

**Follow-up.** The control potential outcome of outcome ``k`` at visit ``t``
has, given everything that exists before randomisation, the conditional mean::

    A[k, t] = h_k + (N_k - 2 h_k) expit(alpha[k, t] + beta_k P_k)

on the scale ``0..N_k`` (``h_k`` = ``headroom``), and the treated potential
outcome the conditional mean ``A[k, t] + tau[k, t](x)`` with::

    tau[k, t](x) = effect[k, t] + sum_m per_point[m, k, t] (x_m - centre_m)

(``x_m`` the observed baseline modifiers, ``centre_m`` their population
means; zero ``per_point`` unless the scenario configures it). Both outcomes
are drawn as ``Y = Q(Phi(eps[k, t]); mean, rho[k, arm, t])``, the quantile
function of a beta-binomial on ``0..N_k`` with that mean and intra-class
correlation ``rho``, at a residual latent ``eps`` that is independent of
everything before randomisation::

    eps[k, t] = sqrt(w_k) V_k + sqrt(1 - w_k) e[k, t]   (w_k: persistence)

Hence ``E[Y1 - Y0 | baseline] = tau(x)`` exactly: the treatment effect
depends on the baseline only through the configured ``per_point`` terms. The
arms' dispersions ``rho`` differ so that the published per-arm SDs are
matched; that is variation of the individual effect *unrelated* to any
baseline variable. ``h_k`` keeps every expected control outcome at least
``headroom`` from the scale's ends, so an additive effect up to
``headroom`` never needs truncation; a configured modification that would
push an expected treated outcome off the scale is truncated there
(:attr:`Calibrated.truncated` reports the share).

Examples
--------
>>> from resolve.simulate import default_scenario
>>> from resolve.simulate.latent import calibrate
>>> cal = calibrate(default_scenario())
>>> round(cal.marginals["rmdq_w0"].mean, 6), round(cal.marginals["rmdq_w0"].sd, 6)
(9.8, 5.21)
>>> p = cal.followup[("rmdq", 18)]
>>> round(p.control_mean, 3), round(p.treated_mean - p.control_mean, 2)  # observed participants
(6.3, -2.63)

The average effect among all randomised is the scenario's -2.6; observed
participants differ slightly because the arms lose different shares at random.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, special

from resolve.errors import DataValidationError
from resolve.simulate.marginals import Marginal, beta_binomial, binary, rounded_normal
from resolve.simulate.missingness import dropout_score, solve_intercepts
from resolve.simulate.scenario import MODIFIERS, OUTCOMES, Scenario

__all__ = [
    "Calibrated",
    "FollowupParameters",
    "baseline_values",
    "bb_quantile",
    "calibrate",
    "control_mean",
    "draw_latent",
    "latent_correlation",
    "modifier_values",
    "treated_mean",
    "treatment_effect",
]

FloatArray = NDArray[np.float64]

_CAL_SIZE = 100_000  # participants in the calibration sample
_CAL_SEED = 20150610  # fixed: the calibration must not depend on the user's seed


@dataclass(frozen=True)
class FollowupParameters:
    """Solved parameters of one outcome at one follow-up visit.

    ``alpha`` locates the control conditional mean, ``rho`` holds the
    beta-binomial intra-class correlations (reference arm, treated arm);
    ``control_mean``, ``treated_mean``, ``control_sd`` and ``treated_sd`` are
    the calibrated moments among participants observed at the visit.
    """

    alpha: float
    rho: tuple[float, float]
    control_mean: float
    treated_mean: float
    control_sd: float
    treated_sd: float


@dataclass(frozen=True, eq=False)
class Calibrated:
    """Solved quantities of a scenario.

    ``marginals`` maps ``"pain_w0"``, ``"rmdq_w0"`` (baseline), the
    questionnaire names, ``"psychoactive"`` and ``"age"`` to :class:`Marginal`;
    ``beta`` maps each outcome to the slope of its conditional mean on the
    prognosis latent; ``followup`` maps ``(outcome, week)`` to
    :class:`FollowupParameters`; ``centres`` the population mean of each
    modifier; ``truncated`` maps ``(outcome, week)`` to the share of
    participants whose configured effect had to be truncated at the scale.
    """

    marginals: dict[str, Marginal]
    beta: dict[str, float]
    followup: dict[tuple[str, int], FollowupParameters]
    centres: dict[str, float]
    truncated: dict[tuple[str, int], float]


def draw_latent(scenario: Scenario, n: int, rng: np.random.Generator) -> dict[str, FloatArray]:
    """Standard-normal latents of ``n`` participants (identical in both arms).

    Keys: ``prognosis_pain``, ``prognosis_rmdq`` (``P_k``), ``pain_w0``,
    ``rmdq_w0`` (baseline latents), the questionnaire names and
    ``psychoactive``, and ``pain_w<week>``, ``rmdq_w<week>`` (the residual
    latent ``eps`` of every follow-up visit). Draw order is fixed
    (reproducibility).
    """
    c = scenario.correlation
    follow = scenario.design.followup_weeks
    F = rng.standard_normal(n)

    def pair(shape: tuple[int, ...], rho: float) -> tuple[FloatArray, FloatArray]:
        a, b = rng.standard_normal((2, *shape))
        return a, rho * a + np.sqrt(1 - rho**2) * b

    s_pain, s_rmdq = pair((n,), c.pain_rmdq_person)
    e_pain, e_rmdq = pair((n,), c.pain_rmdq_visit)
    out: dict[str, FloatArray] = {}
    for k, s, e in (("pain", s_pain, e_pain), ("rmdq", s_rmdq, e_rmdq)):
        lam, q = c.of(k, "loading"), c.of(k, "reliability")
        prognosis = lam * F + np.sqrt(1 - lam**2) * s
        out[f"prognosis_{k}"] = prognosis
        out[f"{k}_w0"] = np.sqrt(q) * prognosis + np.sqrt(1 - q) * e
    loadings = [(s.name, s.loading) for s in scenario.scales]
    loadings.append(("psychoactive", scenario.psychoactive.loading))
    U = rng.standard_normal((len(loadings), n))
    for (name, lam), u in zip(loadings, U, strict=True):
        out[name] = lam * F + np.sqrt(1 - lam**2) * u
    v_pain, v_rmdq = pair((n,), c.pain_rmdq_person)
    r_pain, r_rmdq = pair((n, len(follow)), c.pain_rmdq_visit)
    for k, v, r in (("pain", v_pain, r_pain), ("rmdq", v_rmdq, r_rmdq)):
        w = c.of(k, "persistence")
        for t, week in enumerate(follow):
            out[f"{k}_w{week}"] = np.sqrt(w) * v + np.sqrt(1 - w) * r[:, t]
    return out


def latent_correlation(scenario: Scenario) -> pd.DataFrame:
    """Correlation matrix of the pre-randomisation latents.

    Rows and columns: ``prognosis_pain``, ``prognosis_rmdq``, ``pain_w0``,
    ``rmdq_w0``, the five questionnaires and ``psychoactive``. (Follow-up
    residual latents are independent of all of them.)

    Examples
    --------
    >>> from resolve.simulate import default_scenario
    >>> R = latent_correlation(default_scenario())
    >>> round(float(R.loc["rmdq_w0", "prognosis_rmdq"]), 3)  # sqrt(reliability)
    0.742
    """
    c = scenario.correlation
    lam = {k: c.of(k, "loading") for k in OUTCOMES}
    q = {k: c.of(k, "reliability") for k in OUTCOMES}
    mods = {s.name: s.loading for s in scenario.scales}
    mods["psychoactive"] = scenario.psychoactive.loading
    # representation: every latent = f * F + (person-specific parts)
    names = ["prognosis_pain", "prognosis_rmdq", "pain_w0", "rmdq_w0", *mods]
    R = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    s_pp = np.sqrt((1 - lam["pain"] ** 2) * (1 - lam["rmdq"] ** 2)) * c.pain_rmdq_person
    p_pr = lam["pain"] * lam["rmdq"] + s_pp
    R.loc["prognosis_pain", "prognosis_rmdq"] = p_pr
    for k in OUTCOMES:
        R.loc[f"{k}_w0", f"prognosis_{k}"] = np.sqrt(q[k])
        other = "rmdq" if k == "pain" else "pain"
        R.loc[f"{k}_w0", f"prognosis_{other}"] = np.sqrt(q[k]) * p_pr
    R.loc["pain_w0", "rmdq_w0"] = (
        np.sqrt(q["pain"] * q["rmdq"]) * p_pr
        + np.sqrt((1 - q["pain"]) * (1 - q["rmdq"])) * c.pain_rmdq_visit
    )
    for m, lm in mods.items():
        for k in OUTCOMES:
            R.loc[m, f"prognosis_{k}"] = lm * lam[k]
            R.loc[m, f"{k}_w0"] = lm * lam[k] * np.sqrt(q[k])
        for m2, l2 in mods.items():
            if m2 != m:
                R.loc[m, m2] = lm * l2
    upper = np.triu(R.to_numpy(), 1)
    lower = np.tril(R.to_numpy(), -1)
    full = np.where(upper != 0, upper, lower.T)
    return pd.DataFrame(full + full.T + np.eye(len(names)), index=names, columns=names)


def bb_quantile(
    u: FloatArray, mean: FloatArray, rho: FloatArray | float, n: int
) -> NDArray[np.int64]:
    """Quantile at ``u`` of beta-binomial(``n``) distributions with ``mean`` and ``rho``.

    Vectorised over participants: ``mean`` in ``(0, n)``, intra-class
    correlation ``rho`` in ``[0, 1)`` (0 = binomial); variance
    ``mean (1 - mean / n) (1 + (n - 1) rho)``.

    Examples
    --------
    >>> import numpy as np
    >>> u = (np.arange(20000) + 0.5) / 20000
    >>> y = bb_quantile(u, np.full(u.size, 6.0), 0.2, 24)
    >>> round(float(y.mean()), 3), round(float(y.var()), 2)  # 6 (1 - 6 / 24) (1 + 23 0.2) = 25.2
    (6.0, 25.2)
    """
    u = np.asarray(u, dtype=np.float64)
    p = np.clip(np.asarray(mean, dtype=np.float64) / n, 0.0, 1.0 - 1e-12)
    r = np.maximum(np.asarray(rho, dtype=np.float64), 1e-9)
    theta = 1.0 / r - 1.0
    a = np.broadcast_to(p * theta, u.shape)[:, None]
    b = np.broadcast_to((1 - p) * theta, u.shape)[:, None]
    j = np.arange(n, dtype=np.float64)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p0 = np.sum(np.log1p(-a / (a + b + j)), axis=1, keepdims=True)
        log_ratio = np.log(n - j) + np.log(a + j) - np.log(j + 1) - np.log(b + n - 1 - j)
        log_pmf = np.concatenate([log_p0, log_p0 + np.cumsum(log_ratio, axis=1)], axis=1)
        cdf = np.cumsum(np.exp(log_pmf), axis=1)
    cdf = cdf / cdf[:, -1:]
    return np.asarray((cdf[:, :-1] < u[:, None]).sum(axis=1), dtype=np.int64)


def control_mean(
    scenario: Scenario, cal: Calibrated, outcome: str, week: int, prognosis: FloatArray
) -> FloatArray:
    """Expected control potential outcome ``A[k, t]`` given the prognosis latent."""
    o = scenario.outcome(outcome)
    h = o.headroom
    alpha = cal.followup[(outcome, week)].alpha
    z = alpha + cal.beta[outcome] * prognosis
    return np.asarray(o.low + h + (o.high - o.low - 2 * h) * special.expit(z), dtype=np.float64)


def treatment_effect(
    scenario: Scenario,
    outcome: str,
    week: int,
    modifiers: Mapping[str, FloatArray] | pd.DataFrame,
    *,
    centres: Mapping[str, float] | None = None,
) -> FloatArray:
    """Configured conditional average effect ``tau(x)`` of each participant.

    Parameters
    ----------
    scenario : Scenario
    outcome, week : str, int
        A follow-up visit of the scenario.
    modifiers : mapping or DataFrame
        Observed baseline modifier values (columns of :data:`MODIFIERS`); only
        those with a configured ``per_point`` at this visit are read.
    centres : mapping, optional
        Population mean of each modifier; from :func:`calibrate` if omitted.

    Returns
    -------
    numpy.ndarray
        ``effect + sum per_point (x - centre)``, before any truncation at the
        scale (rare; see :attr:`Calibrated.truncated`).

    Examples
    --------
    >>> import pandas as pd
    >>> from resolve.simulate import default_scenario
    >>> s = default_scenario()
    >>> x = pd.DataFrame({"frebaq": [s.scale("frebaq").mean, s.scale("frebaq").mean + 10]})
    >>> treatment_effect(s, "pain", 52, x).round(2).tolist()  # -0.3 at the mean, +0.18 per point
    [-0.3, 1.5]
    >>> treatment_effect(s, "rmdq", 18, x).tolist()
    [-2.6, -2.6]
    """
    weeks = scenario.design.followup_weeks
    if outcome not in OUTCOMES or week not in weeks:
        raise DataValidationError(
            f"no follow-up visit {outcome!r} at week {week!r}; outcomes {OUTCOMES}, weeks {weeks}"
        )
    centres = calibrate(scenario).centres if centres is None else centres
    base = scenario.outcome(outcome).effect[weeks.index(week)]
    first = next(iter(modifiers.values())) if isinstance(modifiers, Mapping) else modifiers.index
    tau = np.full(len(first), base, dtype=np.float64)
    for e in scenario.effect_modification:
        if e.outcome == outcome and e.week == week:
            x = np.asarray(modifiers[e.modifier], dtype=np.float64)
            tau += e.per_point * (x - centres[e.modifier])
    return tau


def treated_mean(
    low: float, high: float, control: FloatArray, tau: FloatArray
) -> tuple[FloatArray, float]:
    """``control + tau`` truncated to the scale, and the share that needed truncation."""
    mu = control + tau
    share = float(np.mean((mu < low) | (mu > high)))
    return np.asarray(np.clip(mu, low, high), dtype=np.float64), share


def _baseline_marginals(scenario: Scenario) -> dict[str, Marginal]:
    marg: dict[str, Marginal] = {}
    p, r = scenario.pain, scenario.rmdq
    marg["pain_w0"] = rounded_normal(
        p.low,
        p.high,
        mean=p.baseline_mean,
        sd=p.baseline_sd,
        floor=p.eligibility_min,
        key="pain.baseline_mean / pain.baseline_sd",
    )
    marg["rmdq_w0"] = beta_binomial(
        r.low,
        r.high,
        mean=r.baseline_mean,
        sd=r.baseline_sd,
        key="rmdq.baseline_mean / .baseline_sd",
    )
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
    return marg


def baseline_values(
    scenario: Scenario, marginals: Mapping[str, Marginal], latent: Mapping[str, FloatArray]
) -> dict[str, NDArray[np.int64]]:
    """Observed baseline scores: ``pain``, ``rmdq``, questionnaires, ``psychoactive``."""
    out = {
        "pain": marginals["pain_w0"].transform(latent["pain_w0"]),
        "rmdq": marginals["rmdq_w0"].transform(latent["rmdq_w0"]),
    }
    for s in scenario.scales:
        out[s.name] = marginals[s.name].transform(latent[s.name])
    out["psychoactive"] = marginals["psychoactive"].transform(latent["psychoactive"])
    return out


def modifier_values(base: Mapping[str, NDArray[np.int64]]) -> dict[str, FloatArray]:
    """The eight modifier columns from :func:`baseline_values`."""
    out = {m: np.asarray(base[m], dtype=np.float64) for m in MODIFIERS if m in base}
    out["pain_baseline"] = np.asarray(base["pain"], dtype=np.float64)
    out["rmdq_baseline"] = np.asarray(base["rmdq"], dtype=np.float64)
    return out


def calibrate(scenario: Scenario) -> Calibrated:
    """Solve every marginal and conditional-mean parameter of ``scenario`` (cached).

    Follow-up targets describe the participants *observed* at a visit. Dropout
    depends on baseline values, so on a fixed-seed sample of 100,000
    participants each arm's dropout is applied as weights ``1 - q`` and

    * ``alpha[k, t]`` is solved so that the control arm's observed mean is
      ``<outcome>.<reference>.mean``;
    * ``beta_k`` so that the within-arm correlation of baseline with the
      follow-up at ``correlation.baseline_followup_week`` (mean of the two
      arms) is ``correlation.<outcome>_baseline_followup``;
    * each arm's ``rho`` in closed form so that its observed SD is the target:
      ``sd^2 = var(mu) + mean(mu (1 - mu / N)) (1 + (N - 1) rho)``.

    Raises
    ------
    DataValidationError
        A target cannot be reproduced; the message names the scenario file
        and key.
    """
    try:
        return _calibrate(scenario)
    except DataValidationError as exc:
        raise DataValidationError(f"{scenario.source}: {exc}") from None


def _weighted(x: FloatArray, w: FloatArray) -> tuple[float, float]:
    m = float(np.sum(w * x) / np.sum(w))
    return m, float(np.sum(w * (x - m) ** 2) / np.sum(w))


def _wcov(x: FloatArray, y: FloatArray, w: FloatArray) -> float:
    mx, my = np.sum(w * x) / np.sum(w), np.sum(w * y) / np.sum(w)
    return float(np.sum(w * (x - mx) * (y - my)) / np.sum(w))


def _rho(mu: FloatArray, w: FloatArray, sd: float, n: int, key: str) -> float:
    """Intra-class correlation giving observed SD ``sd`` around conditional means ``mu``."""
    m, var_mu = _weighted(mu, w)
    binom = float(np.sum(w * mu * (1 - mu / n)) / np.sum(w))
    rho = ((sd * sd - var_mu) / binom - 1.0) / (n - 1)
    if not 0.0 <= rho < 1.0:
        lo = np.sqrt(var_mu + binom)
        hi = np.sqrt(var_mu + binom * n)
        raise DataValidationError(
            f"{key}: SD {sd:g} is not attainable around these expected outcomes (mean {m:.3g}); "
            f"it must lie in [{lo:.3g}, {hi:.3g}), given the scenario's baseline-follow-up "
            "correlation and effects"
        )
    return float(rho)


class _OutcomeFit:
    """Conditional-mean calibration of one outcome on the calibration sample."""

    def __init__(
        self,
        scenario: Scenario,
        outcome: str,
        prognosis: FloatArray,
        x0: FloatArray,
        mods: Mapping[str, FloatArray],
        centres: Mapping[str, float],
    ) -> None:
        self.scenario, self.k, self.o = scenario, outcome, scenario.outcome(outcome)
        self.P, self.x0, self.mods, self.centres = prognosis, x0, mods, centres

    def mean_at(self, alpha: float, b: float) -> FloatArray:
        o, h = self.o, self.o.headroom
        z = alpha + b * self.P
        return np.asarray(o.low + h + (o.high - o.low - 2 * h) * special.expit(z), dtype=np.float64)

    def solve_alpha(self, b: float, t: int, w0: FloatArray) -> float:
        target = self.o.control_mean[t]

        def gap(alpha: float) -> float:
            return _weighted(self.mean_at(alpha, b), w0)[0] - target

        return float(optimize.brentq(gap, -60.0, 60.0, xtol=1e-10))

    def treated(self, t: int, A: FloatArray) -> tuple[FloatArray, float]:
        week = self.scenario.design.followup_weeks[t]
        tau = treatment_effect(self.scenario, self.k, week, self.mods, centres=self.centres)
        return treated_mean(self.o.low, self.o.high, A, tau)

    def correlation(self, b: float, t: int, w0: FloatArray, w1: FloatArray) -> float:
        """Within-arm baseline-follow-up correlation at visit ``t``, mean of the arms."""
        o, x0 = self.o, self.x0
        A = self.mean_at(self.solve_alpha(b, t, w0), b)
        mu1, _ = self.treated(t, A)
        r0 = _wcov(x0, A, w0) / (np.sqrt(_weighted(x0, w0)[1]) * o.control_sd[t])
        r1 = _wcov(x0, mu1, w1) / (np.sqrt(_weighted(x0, w1)[1]) * o.treated_sd[t])
        return float((r0 + r1) / 2)

    def solve_beta(self, ws: list[tuple[FloatArray, FloatArray]]) -> float:
        c = self.scenario.correlation
        t = self.scenario.design.followup_weeks.index(c.baseline_followup_week)
        w0, w1 = ws[t]
        target = c.of(self.k, "baseline_followup")
        lo, hi = 1e-3, 40.0
        r_lo, r_hi = self.correlation(lo, t, w0, w1), self.correlation(hi, t, w0, w1)
        if not r_lo < target < r_hi:
            raise DataValidationError(
                f"correlation.{self.k}_baseline_followup: {target:g} is not attainable; with "
                f"these marginals and correlation.{self.k}_reliability the within-arm "
                f"correlation ranges over ({r_lo:.3g}, {r_hi:.3g})"
            )

        def gap(b: float) -> float:
            return self.correlation(b, t, w0, w1) - target

        return float(optimize.brentq(gap, lo, hi, xtol=1e-8))


@lru_cache(maxsize=16)
def _calibrate(scenario: Scenario) -> Calibrated:
    d = scenario.design
    arms = d.arms
    marg = _baseline_marginals(scenario)
    rng = np.random.default_rng(_CAL_SEED)
    latent = draw_latent(scenario, _CAL_SIZE, rng)
    age = marg["age"].transform(rng.standard_normal(_CAL_SIZE)).astype(float)
    base = baseline_values(scenario, marg, latent)
    mods = modifier_values(base)
    centres = {m: marg[m].mean for m in ("pseq", "pcs", "tsk", "frebaq", "bbq", "psychoactive")}
    centres["pain_baseline"] = marg["pain_w0"].mean
    centres["rmdq_baseline"] = marg["rmdq_w0"].mean
    eta = dropout_score(
        scenario, pain0=base["pain"].astype(float), rmdq0=base["rmdq"].astype(float), age=age
    )

    def weights(outcome: str, a: int, t: int) -> FloatArray:
        counts = scenario.followup.counts(outcome)[a]
        frac = (d.n_per_arm[a] - counts[t]) / d.n_per_arm[a]
        alpha = solve_intercepts(eta[None, :], np.array([frac * eta.size]))
        return np.asarray(1.0 - special.expit(alpha[0] + eta), dtype=np.float64)

    beta: dict[str, float] = {}
    followup: dict[tuple[str, int], FollowupParameters] = {}
    truncated: dict[tuple[str, int], float] = {}
    for k in OUTCOMES:
        ws = [(weights(k, 0, t), weights(k, 1, t)) for t in range(len(d.followup_weeks))]
        fit = _OutcomeFit(
            scenario, k, latent[f"prognosis_{k}"], base[k].astype(float), mods, centres
        )
        beta[k] = b = fit.solve_beta(ws)
        for t, week in enumerate(d.followup_weeks):
            w0, w1 = ws[t]
            o = fit.o
            alpha = fit.solve_alpha(b, t, w0)
            A = fit.mean_at(alpha, b)
            mu1, share = fit.treated(t, A)
            truncated[(k, week)] = share
            n_scale = o.high - o.low
            rho0 = _rho(A - o.low, w0, o.control_sd[t], n_scale, f"{k}.{arms[0]}.sd[{t}]")
            rho1 = _rho(mu1 - o.low, w1, o.treated_sd[t], n_scale, f"{k}.{arms[1]}.sd[{t}]")
            followup[(k, week)] = FollowupParameters(
                alpha=alpha,
                rho=(rho0, rho1),
                control_mean=_weighted(A, w0)[0],
                treated_mean=_weighted(mu1, w1)[0],
                control_sd=o.control_sd[t],
                treated_sd=o.treated_sd[t],
            )
    return Calibrated(marg, beta, followup, centres, truncated)
