"""End-of-treatment mediators: treatment -> mediator -> outcome paths with known truths.

A scenario with a ``[mediation]`` part (``scenarios/mediation.toml``) gives every
participant mediators measured at the end of treatment (``mediation.week``,
12 in RESOLVE): the questionnaires of the baseline modifiers (BBQ, PCS, PSEQ,
TSK-17, FreBAQ), tactile acuity (two-point discrimination threshold, mm) and
movement coordination (a placeholder 0-100 score). For mediator ``j`` with
standardised observed baseline ``z_j`` (population mean 0, SD 1)::

    M_j(a) = mean_j + sd_j (r_j z_j + sqrt(1 - r_j^2) e_j) + a_j a
    e_j    = l_j G + sqrt(1 - l_j^2) u_j        G, u_j ~ N(0, 1), independent of the rest

(``r_j`` = ``stability``, ``l_j`` = ``change_loading``, ``a_j`` = ``effect``).
``M_j`` is continuous; the data show ``clip(round(M_j))`` on the scale. The
expected outcome ``k`` at follow-up visit ``t`` is the scenario's
(:mod:`resolve.simulate.latent`) with the mediators acting through ``b[j, k, t]``
(``<outcome>_per_point``)::

    E[Y(a, m) | ...] = A[k, t] - sum_j b_j r_j sd_j z_j + (tau(x) - sum_j a_j b_j) a
                       + sum_j b_j (m_j - mean_j)

so the natural indirect effect through ``M_j`` is ``a_j b_j`` (every participant,
no interaction), the direct effect ``effect - sum_j a_j b_j`` and the total
effect the scenario's ``effect``, unchanged. The baseline term keeps every
calibrated target (control means, baseline-follow-up correlation) as it was:
at the natural mediator values the expected outcome is
``A + tau(x) a + sum_j b_j sd_j sqrt(1 - r_j^2) e_j``, the scenario's plus a
term independent of everything before randomisation, whose variance is taken
out of the beta-binomial dispersion so that the arms' SDs stay the targets.
``mediation.zero = true`` (or :func:`mediation_scenario` with ``zero=True``)
takes every ``b`` as 0 and changes nothing else. The mediators draw from a
child stream of the trial's generator (``Generator.spawn``), so every other
column is the one the scenario without ``[mediation]`` gives for the same seed.

Examples
--------
>>> from resolve.simulate import simulate_trial
>>> from resolve.simulate.mediators import mediation_scenario, true_mediation
>>> s = mediation_scenario()
>>> t = true_mediation(s, "pain", 18)
>>> round(t["bbq"], 3), round(t["joint"], 3), round(t["direct"], 3), t["total"]
(-0.3, -0.55, -0.45, -1.0)
>>> true_mediation(mediation_scenario(zero=True), "pain", 18)["joint"]
0.0
>>> trial = simulate_trial(s, seed=1)
>>> [c for c in trial.columns if c.endswith(("_0", "_12"))]  # doctest: +NORMALIZE_WHITESPACE
['bbq_12', 'pcs_12', 'pseq_12', 'tsk_12', 'frebaq_12', 'tpd_0', 'tpd_12', 'coordination_0',
 'coordination_12']
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from resolve.errors import DataValidationError
from resolve.simulate.latent import (
    bb_quantile,
    calibrate,
    control_mean,
    modifier_values,
    treated_mean,
    treatment_effect,
)
from resolve.simulate.marginals import Marginal, rounded_normal
from resolve.simulate.scenario import OUTCOMES, Mediation, Mediator, Scenario, load_scenario

__all__ = [
    "MEDIATION_PATH",
    "MediatorDraws",
    "mediation_scenario",
    "mediator_columns",
    "observed_mediator_effects",
    "simulate_mediators",
    "single_mediator_indirect",
    "true_mediation",
    "with_zero_mediation",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: The RESOLVE scenario with end-of-treatment mediators.
MEDIATION_PATH = str(resources.files("resolve.simulate").joinpath("scenarios", "mediation.toml"))


def mediation_scenario(*, zero: bool = False) -> Scenario:
    """The RESOLVE scenario with mediators (``scenarios/mediation.toml``).

    ``zero=True``: the zero-mediation scenario, every mediator->outcome path
    ``b`` taken as 0 (``mediation.zero = true``); the mediators, their
    treatment paths and everything else unchanged.

    Examples
    --------
    >>> from resolve.simulate.mediators import mediation_scenario
    >>> s = mediation_scenario()
    >>> s.mediation.week, [m.name for m in s.mediation.mediators][:3]
    (12, ['bbq', 'pcs', 'pseq'])
    >>> mediation_scenario(zero=True).name
    'mediation/zero'
    """
    s = load_scenario(MEDIATION_PATH)
    if not zero:
        return s
    return with_zero_mediation(s)


def with_zero_mediation(scenario: Scenario) -> Scenario:
    """``scenario`` with every mediator->outcome path taken as 0 (named ``<name>/zero``)."""
    med = _mediation(scenario)
    return dataclasses.replace(
        scenario, name=f"{scenario.name}/zero", mediation=dataclasses.replace(med, zero=True)
    )


def _mediation(scenario: Scenario) -> Mediation:
    if scenario.mediation is None:
        raise DataValidationError(
            f"{scenario.source}: scenario {scenario.name!r} has no [mediation] part"
        )
    return scenario.mediation


def mediator_columns(scenario: Scenario) -> tuple[str, ...]:
    """Columns a trial of ``scenario`` gains: ``<name>_<week>``, and ``<name>_0`` when new.

    Empty without ``[mediation]``. Questionnaire baselines are the modifier
    columns (``bbq``, ``pcs``, ...); ``tpd_0`` and ``coordination_0`` are new.

    Examples
    --------
    >>> from resolve.simulate import default_scenario
    >>> from resolve.simulate.mediators import mediation_scenario, mediator_columns
    >>> mediator_columns(default_scenario())
    ()
    >>> mediator_columns(mediation_scenario())[-2:]
    ('coordination_0', 'coordination_12')
    """
    med = scenario.mediation
    if med is None:
        return ()
    out: list[str] = []
    for m in med.mediators:
        if m.baseline_mean is not None:
            out.append(f"{m.name}_0")
        out.append(f"{m.name}_{med.week}")
    return tuple(out)


def true_mediation(scenario: Scenario, outcome: str, week: int) -> dict[str, float]:
    """The effects a mediation analysis of ``outcome`` at ``week`` should recover.

    Parameters
    ----------
    scenario : Scenario
        With a ``[mediation]`` part.
    outcome, week : str, int
        A follow-up visit.

    Returns
    -------
    dict
        One entry per mediator, its natural indirect effect ``a_j b_j``
        (equal to the interventional indirect effect: paths are linear, with
        no treatment-mediator interaction); ``joint``, their sum (the joint
        indirect effect); ``direct``, ``total - joint``; ``total``, the
        scenario's average effect; ``proportion_mediated``, ``joint / total``
        (NaN when the total is 0). Values are on the continuous mediator
        scale and before any truncation of expected outcomes at the scale
        (:attr:`MediatorDraws.truncated`).

    Raises
    ------
    DataValidationError
        No ``[mediation]``, or no such follow-up visit.

    Examples
    --------
    >>> from resolve.simulate.mediators import mediation_scenario, true_mediation
    >>> t = true_mediation(mediation_scenario(), "rmdq", 18)
    >>> {k: round(v, 3) for k, v in t.items() if k in ("pcs", "tpd", "joint", "direct")}
    {'pcs': -0.12, 'tpd': 0.0, 'joint': -0.45, 'direct': -2.15}
    >>> true_mediation(mediation_scenario(), "pain", 26)["joint"]  # no paths at 26 weeks
    0.0
    """
    med = _mediation(scenario)
    weeks = scenario.design.followup_weeks
    if outcome not in OUTCOMES or week not in weeks:
        raise DataValidationError(
            f"no follow-up visit {outcome!r} at week {week!r}; outcomes {OUTCOMES}, weeks {weeks}"
        )
    t = weeks.index(week)
    total = scenario.outcome(outcome).effect[t]
    out = {
        m.name: 0.0 if med.zero else m.effect * m.per_point(outcome)[t] + 0.0 for m in med.mediators
    }
    joint = float(sum(out.values()))
    out |= {"joint": joint, "direct": total - joint, "total": total}
    out["proportion_mediated"] = joint / total if total != 0 else float("nan")
    return out


def single_mediator_indirect(scenario: Scenario, outcome: str, week: int) -> dict[str, float]:
    """What a single-mediator analysis of each mediator estimates (it is not ``a_j b_j``).

    Analysing ``M_k`` alone (adjusted for its baseline) attributes to it the
    paths of the mediators whose change correlates with its own:
    ``a_k (b_k + sum_{j != k} b_j l_j l_k s_j / s_k)`` with
    ``s_j = sd_j sqrt(1 - r_j^2)`` (continuous mediators; rounding and
    clipping of the observed scores aside). With ``change_loading`` 0 it is
    ``a_k b_k``.

    Examples
    --------
    >>> from resolve.simulate.mediators import mediation_scenario, single_mediator_indirect
    >>> alone = single_mediator_indirect(mediation_scenario(), "pain", 18)
    >>> round(alone["bbq"], 3), round(alone["tsk"], 3)  # true paths -0.30 and 0
    (-0.402, -0.114)
    """
    true_mediation(scenario, outcome, week)  # checks the scenario and the visit
    med = _mediation(scenario)
    t = scenario.design.followup_weeks.index(week)
    s = np.array([m.sd * np.sqrt(1 - m.stability**2) for m in med.mediators])
    b = _paths(med, outcome, t) / s  # the b themselves (0 when zero)
    R = _residual_correlation(med)
    out: dict[str, float] = {}
    for k, m in enumerate(med.mediators):
        out[m.name] = float(m.effect * (R[k] * s) @ b / s[k]) + 0.0
    return out


@functools.lru_cache(maxsize=32)
def _own_baseline(m: Mediator) -> Marginal:
    """Integer baseline of a mediator that is not a modifier (rounded normal, clipped)."""
    assert m.baseline_mean is not None and m.baseline_sd is not None
    return rounded_normal(
        m.low,
        m.high,
        mean=m.baseline_mean,
        sd=m.baseline_sd,
        key=f"mediation.{m.name}.baseline_mean / .baseline_sd",
    )


def _baseline_marginal(scenario: Scenario, m: Mediator) -> Marginal:
    if m.baseline_mean is None:
        return calibrate(scenario).marginals[m.name]
    return _own_baseline(m)


def _paths(med: Mediation, outcome: str, t: int) -> FloatArray:
    """``b_j sd_j sqrt(1 - r_j^2)``: the weight of each residual ``e_j`` in the outcome."""
    if med.zero:
        return np.zeros(len(med.mediators))
    return np.array(
        [m.per_point(outcome)[t] * m.sd * np.sqrt(1 - m.stability**2) for m in med.mediators]
    )


def _residual_correlation(med: Mediation) -> FloatArray:
    loading = np.array([m.change_loading for m in med.mediators])
    R = np.outer(loading, loading)
    np.fill_diagonal(R, 1.0)
    return R


def _dispersion(scenario: Scenario, outcome: str, t: int, added: float) -> tuple[float, float]:
    """The arms' beta-binomial ``rho`` once a variance ``added`` joins the expected outcome.

    The calibrated ``rho`` solves ``sd^2 = V + (m - (V + m^2) / N) (1 + (N - 1) rho)``
    for the observed mean ``m`` and SD ``sd`` (``V`` the variance of the expected
    outcome among the observed); the added term is independent of dropout, so the
    same equation with ``V + added`` gives the new ``rho`` in closed form.
    """
    o = scenario.outcome(outcome)
    week = scenario.design.followup_weeks[t]
    p = calibrate(scenario).followup[(outcome, week)]
    n = o.high - o.low
    out = []
    for a, (mean, sd, rho) in enumerate(
        ((p.control_mean, p.control_sd, p.rho[0]), (p.treated_mean, p.treated_sd, p.rho[1]))
    ):
        m = mean - o.low
        c = 1 + (n - 1) * rho
        V = (sd * sd - c * m * (1 - m / n)) / (1 - c / n)
        binom = m - (V + added + m * m) / n
        new = ((sd * sd - V - added) / binom - 1) / (n - 1)
        if not 0 <= new < 1:
            room = (sd * sd - V - m + (V + m * m) / n) / (1 - 1 / n)  # the added variance at rho 0
            raise DataValidationError(
                f"{scenario.source}: mediation: the mediator->outcome paths add variance "
                f"{added:.4g} to the expected {outcome} at week {week}; the SD {sd:g} "
                f"({outcome}.{scenario.design.arms[a]}.sd[{t}]) leaves room for at most "
                f"{room:.4g} (reduce mediation.<mediator>.{outcome}_per_point[{t}])"
            )
        out.append(float(new))
    return out[0], out[1]


@dataclass(frozen=True)
class MediatorDraws:
    """Mediators of simulated participants and the outcomes they act on.

    ``scores``: the ``scores`` given to :func:`simulate_mediators` with
    ``pain`` and ``rmdq`` redrawn at the visits where a path ``b`` acts;
    ``baseline``: ``<name>_0`` of the mediators that are not modifiers;
    ``end``: ``<name>_<week>`` observed scores (integers on the scale);
    ``latent``: the continuous ``M_j`` of the observed arm (``<name>``);
    ``truncated``: per ``(outcome, week)`` the share of participants whose
    expected outcome had to be truncated at the scale.
    """

    week: int
    scores: dict[str, IntArray]
    baseline: dict[str, IntArray]
    end: dict[str, IntArray]
    latent: dict[str, FloatArray]
    truncated: dict[tuple[str, int], float]

    def columns(self, missed: NDArray[np.bool_]) -> dict[str, FloatArray | IntArray]:
        """Output columns in order; end-of-treatment values NaN where ``missed``."""
        out: dict[str, FloatArray | IntArray] = {}
        for name, end in self.end.items():
            if name in self.baseline:
                out[f"{name}_0"] = self.baseline[name]
            out[f"{name}_{self.week}"] = np.where(missed, np.nan, end.astype(np.float64))
        return out


def simulate_mediators(
    scenario: Scenario,
    latent: Mapping[str, FloatArray],
    scores: Mapping[str, IntArray],
    arm: NDArray[np.int64],
    rng: np.random.Generator,
) -> MediatorDraws:
    """Draw the mediators and redraw the outcomes they act on.

    Parameters
    ----------
    scenario : Scenario
        With a ``[mediation]`` part.
    latent, scores : mapping
        :func:`~resolve.simulate.outcomes.draw_latent` and
        :func:`~resolve.simulate.outcomes.observe` output for the same
        participants (outcomes are redrawn at the same residual latent).
    arm : array of int
        0 (reference) or 1 per participant.
    rng : numpy.random.Generator
        Used for the mediators only (a child of the trial's generator).

    Examples
    --------
    >>> import numpy as np
    >>> from resolve.simulate.outcomes import draw_latent, observe
    >>> from resolve.simulate.mediators import mediation_scenario, simulate_mediators
    >>> s = mediation_scenario()
    >>> z = draw_latent(s, 6, np.random.default_rng(0))
    >>> arm = np.array([0, 1, 0, 1, 0, 1])
    >>> draws = simulate_mediators(s, z, observe(s, z, arm), arm, np.random.default_rng(1))
    >>> sorted(draws.baseline), draws.end["bbq"].shape
    (['coordination', 'tpd'], (6,))
    """
    med = _mediation(scenario)
    cal = calibrate(scenario)
    treated = np.asarray(arm) == 1
    n = treated.size
    own = [m for m in med.mediators if m.baseline_mean is not None]
    u_base = rng.standard_normal((len(own), n))
    G = rng.standard_normal(n)
    U = rng.standard_normal((len(med.mediators), n))

    baseline: dict[str, IntArray] = {}
    for m, u in zip(own, u_base, strict=True):
        lam = float(m.prognosis_loading or 0.0)
        z = lam * latent["prognosis_pain"] + np.sqrt(1 - lam**2) * u
        baseline[m.name] = _own_baseline(m).transform(z)
    residual: dict[str, FloatArray] = {}
    end: dict[str, IntArray] = {}
    values: dict[str, FloatArray] = {}
    for m, u in zip(med.mediators, U, strict=True):
        marg = _baseline_marginal(scenario, m)
        x0 = baseline[m.name] if m.name in baseline else scores[m.name]
        z0 = (np.asarray(x0, dtype=np.float64) - marg.mean) / marg.sd
        e = m.change_loading * G + np.sqrt(1 - m.change_loading**2) * u
        residual[m.name] = e
        r = m.stability
        M = m.mean + m.sd * (r * z0 + np.sqrt(1 - r * r) * e) + m.effect * treated
        values[m.name] = np.asarray(M, dtype=np.float64)
        end[m.name] = np.clip(np.rint(M), m.low, m.high).astype(np.int64)

    out = {k: np.array(v, copy=True) for k, v in scores.items()}
    truncated: dict[tuple[str, int], float] = {}
    R = _residual_correlation(med)
    E = np.vstack([residual[m.name] for m in med.mediators])
    base = {k: np.asarray(v) for k, v in scores.items()}
    mods = modifier_values({**base, "pain": base["pain"][:, 0], "rmdq": base["rmdq"][:, 0]})
    for k in OUTCOMES:
        o = scenario.outcome(k)
        for t, week in enumerate(scenario.design.followup_weeks):
            w = _paths(med, k, t)
            added = float(w @ R @ w)
            if added == 0.0:
                continue
            rho0, rho1 = _dispersion(scenario, k, t, added)
            A = control_mean(scenario, cal, k, week, latent[f"prognosis_{k}"])
            tau = treatment_effect(scenario, k, week, mods, centres=cal.centres)
            mu1, _ = treated_mean(o.low, o.high, A, tau)
            mu = np.where(treated, mu1, A) + w @ E
            truncated[(k, week)] = float(np.mean((mu < o.low) | (mu > o.high)))
            mu = np.clip(mu, o.low, o.high)
            u01 = special.ndtr(latent[f"{k}_w{week}"])
            rho = np.where(treated, rho1, rho0)
            out[k][:, t + 1] = o.low + bb_quantile(u01, mu - o.low, rho, o.high - o.low)
    return MediatorDraws(med.week, out, baseline, end, values, truncated)


def observed_mediator_effects(scenario: Scenario) -> pd.DataFrame:
    """Expected observed (rounded, clipped) mediator scores per arm, computed exactly.

    The treatment moves the continuous mediator by ``effect``; the observed
    integer score moves by ``observed_effect``, less where the scale's ends
    clip it. ``clipped_<arm>`` is the share of participants whose continuous
    value lies beyond the scale (shown at its end).

    Examples
    --------
    >>> from resolve.simulate.mediators import mediation_scenario, observed_mediator_effects
    >>> tab = observed_mediator_effects(mediation_scenario()).set_index("mediator")
    >>> tab.loc["pcs", ["effect", "observed_effect"]].astype(float).round(2).tolist()
    [-4.0, -3.83]
    >>> round(float(tab.loc["pcs", "clipped_resolve"]), 3)  # continuous PCS below 0, shown as 0
    0.07
    """
    med = _mediation(scenario)
    rows = []
    for m in med.mediators:
        marg = _baseline_marginal(scenario, m)
        z0 = (marg.support - marg.mean) / marg.sd
        s = m.sd * np.sqrt(1 - m.stability**2)
        v = np.arange(m.low, m.high + 1, dtype=np.float64)
        row: dict[str, float | str] = {"mediator": m.name, "effect": m.effect}
        means = []
        for a, arm in enumerate(scenario.design.arms):
            centre = (m.mean + m.sd * m.stability * z0 + m.effect * a)[:, None]
            upper = special.ndtr((v + 0.5 - centre) / s)
            lower = special.ndtr((v - 0.5 - centre) / s)
            upper[:, -1], lower[:, 0] = 1.0, 0.0
            means.append(float(marg.pmf @ ((upper - lower) @ v)))
            beyond = special.ndtr((m.low - centre) / s) + special.ndtr((centre - m.high) / s)
            row[f"mean_{arm}"] = means[-1]
            row[f"clipped_{arm}"] = float(marg.pmf @ beyond[:, 0])
        row["observed_effect"] = means[1] - means[0]
        rows.append(row)
    return pd.DataFrame(rows)
