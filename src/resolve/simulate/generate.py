"""Simulate participant-level RESOLVE-like trials.

Examples
--------
>>> from resolve.simulate import simulate_trial
>>> trial = simulate_trial(seed=1)
>>> trial.shape, trial["id"].nunique(), sorted(trial["arm"].unique())
((1380, 16), 276, ['resolve', 'sham'])
>>> trial.groupby("visit", sort=False)["pain"].count().tolist()[:3]
[276, 267, 264]
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np
import pandas as pd

from resolve.errors import DataValidationError
from resolve.simulate.baseline import item_responses, medication_lists, score_items
from resolve.simulate.latent import calibrate
from resolve.simulate.mediators import simulate_mediators
from resolve.simulate.missingness import missing_masks
from resolve.simulate.outcomes import draw_latent, observe
from resolve.simulate.scenario import MODIFIERS, Scenario, default_scenario

__all__ = ["COLUMNS", "simulate_trial", "simulate_trials"]

#: Columns of a simulated trial, in order (``simulate_trials`` adds ``trial`` first).
COLUMNS = ("id", "arm", "age", "sex", "week", "visit", "pain", "rmdq", *MODIFIERS)


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataValidationError(
            f"seed must be a non-negative integer or a Generator; got {seed!r}"
        )
    return np.random.default_rng(int(seed))


@overload
def simulate_trials(
    scenario: Scenario | None = ...,
    *,
    seed: int | np.random.Generator,
    n_trials: int,
    items: Literal[False] = ...,
    modifiers: bool = ...,
) -> pd.DataFrame: ...


@overload
def simulate_trials(
    scenario: Scenario | None = ...,
    *,
    seed: int | np.random.Generator,
    n_trials: int,
    items: Literal[True],
    modifiers: bool = ...,
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def simulate_trials(
    scenario: Scenario | None = None,
    *,
    seed: int | np.random.Generator,
    n_trials: int,
    items: bool = False,
    modifiers: bool = True,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate ``n_trials`` independent trials at once (vectorised).

    Parameters
    ----------
    scenario : Scenario, optional
        Parameters; the RESOLVE default (:func:`default_scenario`) if omitted.
    seed : int or numpy.random.Generator
        Seed of a ``numpy.random.default_rng``; the same seed and scenario give
        identical data.
    n_trials : int
        Number of replicate trials (>= 1).
    items : bool
        Also return the baseline item-level responses.
    modifiers : bool
        Simulate the baseline questionnaires item by item and score them into
        the modifier columns (the default). ``False`` leaves the modifier
        columns out, which is about three times faster; everything else
        (arms, demographics, outcomes, missed visits, mediators) is identical
        for the same seed, because the items are drawn last. Cannot be
        combined with ``items=True``.

    Returns
    -------
    pandas.DataFrame or (DataFrame, DataFrame)
        Long format, one row per trial x participant x visit, columns
        ``trial`` then :data:`COLUMNS` (see :func:`simulate_trial`; without
        the modifiers when ``modifiers=False``), then the mediator columns
        when the scenario has ``[mediation]``. With ``items=True`` also the
        wide item table: ``trial``, ``id`` and one column per item
        (``pseq_1`` ... ``psychoactive_medication_3``).

    Examples
    --------
    >>> a = simulate_trials(seed=3, n_trials=2)
    >>> b = simulate_trials(seed=3, n_trials=2, modifiers=False)
    >>> a.shape, b.shape, a[list(b.columns)].equals(b)
    ((2760, 17), (2760, 9), True)
    """
    scenario = default_scenario() if scenario is None else scenario
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise DataValidationError(f"n_trials must be a positive integer; got {n_trials!r}")
    if items and not modifiers:
        raise DataValidationError("items=True needs modifiers=True (the items are the modifiers)")
    rng = _rng(seed)
    cal = calibrate(scenario)
    d = scenario.design
    n = sum(d.n_per_arm)
    N = n_trials * n
    weeks = d.weeks
    T = len(weeks)

    # randomisation: a random permutation of the fixed arm sizes, per trial
    base = np.repeat([0, 1], d.n_per_arm)
    arm = base[np.argsort(rng.random((n_trials, n)), axis=1)]
    age = cal.marginals["age"].transform(rng.standard_normal((n_trials, n)))
    women = rng.random((n_trials, n)) < scenario.demographics.women
    latent = draw_latent(scenario, N, rng)
    scores = observe(scenario, latent, arm.ravel())
    mediated = None
    if scenario.mediation is not None:  # a child stream: every other draw stays the same
        mediated = simulate_mediators(scenario, latent, scores, arm.ravel(), rng.spawn(1)[0])
        scores = mediated.scores
    masks = missing_masks(
        scenario,
        arm=arm,
        pain0=scores["pain"][:, 0].reshape(n_trials, n).astype(float),
        rmdq0=scores["rmdq"][:, 0].reshape(n_trials, n).astype(float),
        age=age.astype(float),
        rng=rng,
    )

    # baseline items, scored through resolve.instruments (drawn last: see ``modifiers``)
    item_table: pd.DataFrame | None = None
    scored: pd.DataFrame | None = None
    if modifiers:
        item_frames = [
            item_responses("nrs", scores["pain"][:, 0], rng),
            item_responses("rmdq24", scores["rmdq"][:, 0], rng),
        ]
        item_frames += [item_responses(s.instrument, scores[s.name], rng) for s in scenario.scales]
        item_frames.append(medication_lists(scores["psychoactive"], rng))
        item_table = pd.concat(item_frames, axis=1)
        scored = score_items(item_table)

    width = len(str(n))
    ids = np.array([f"R{k:0{width}d}" for k in range(1, n + 1)], dtype=object)
    arm_names = np.array(d.arms, dtype=object)
    pain = scores["pain"].astype(float).reshape(n_trials, n, T)
    rmdq = scores["rmdq"].astype(float).reshape(n_trials, n, T)
    pain[masks["pain"]] = np.nan
    rmdq[masks["rmdq"]] = np.nan

    def per_visit(x: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(x).reshape(N), T)

    frame = pd.DataFrame(
        {
            "trial": np.repeat(np.arange(1, n_trials + 1), n * T),
            "id": np.tile(np.repeat(ids, T), n_trials),
            "arm": per_visit(arm_names[arm]),
            "age": per_visit(age),
            "sex": per_visit(np.where(women, "female", "male").astype(object)),
            "week": np.tile(np.asarray(weeks), N),
            "visit": np.tile(np.array(d.visits, dtype=object), N),
            "pain": pain.reshape(N * T),
            "rmdq": rmdq.reshape(N * T),
        }
    )
    if scored is not None:
        for col in MODIFIERS:
            values = scored[col].to_numpy()
            frame[col] = per_visit(values.astype(np.int64) if col == "psychoactive" else values)
    if mediated is not None:
        missed = masks["pain"][:, :, weeks.index(mediated.week)].ravel()
        for col, values in mediated.columns(missed).items():
            frame[col] = per_visit(values)
    if not items or item_table is None:
        return frame
    item_table.insert(0, "id", np.tile(ids, n_trials))
    item_table.insert(0, "trial", np.repeat(np.arange(1, n_trials + 1), n))
    return frame, item_table


@overload
def simulate_trial(
    scenario: Scenario | None = ...,
    *,
    seed: int | np.random.Generator,
    items: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def simulate_trial(
    scenario: Scenario | None = ...,
    *,
    seed: int | np.random.Generator,
    items: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def simulate_trial(
    scenario: Scenario | None = None,
    *,
    seed: int | np.random.Generator,
    items: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate one participant-level trial.

    Parameters
    ----------
    scenario : Scenario, optional
        Parameters; the RESOLVE default (``scenarios/resolve.toml``) if omitted.
    seed : int or numpy.random.Generator
        Seed; the same seed and scenario give identical data (also across
        calls of :func:`simulate_trials` with ``n_trials=1``).
    items : bool
        Also return the baseline item-level responses.

    Returns
    -------
    pandas.DataFrame or (DataFrame, DataFrame)
        Long format, one row per participant x visit, sorted by ``id`` then
        ``week``:

        ``id`` (``"R001"``...), ``arm`` (reference arm first in the scenario,
        e.g. ``"sham"``/``"resolve"``), ``age`` (whole years), ``sex``
        (``"female"``/``"male"``), ``week`` (0, 12, 18, 26, 52), ``visit``
        (``"baseline"``, ``"week 12"``...), ``pain`` (NRS 0-10), ``rmdq``
        (0-24), and the baseline modifiers repeated on every row: ``pseq``,
        ``pcs``, ``pain_baseline``, ``psychoactive`` (0/1), ``frebaq``,
        ``tsk``, ``rmdq_baseline``, ``bbq``. A missed visit has NaN
        ``pain``/``rmdq`` (never 0); baseline is complete. A scenario with
        ``[mediation]`` adds the mediators, repeated on every row
        (:func:`~resolve.simulate.mediators.mediator_columns`: e.g.
        ``bbq_12``, ``tpd_0``, ``tpd_12``; NaN when the mediator visit's pain
        is missing).

        With ``items=True``, also the item table (``id`` and one column per
        item, e.g. ``tsk17_4`` as a raw code before reversal).

    Notes
    -----
    The generative model, every parameter's source and the calibration
    evidence are in ``docs/simulation.md``. Dropout is MAR given baseline
    pain, RMDQ and age (:mod:`resolve.simulate.missingness`).
    """
    out = simulate_trials(scenario, seed=seed, n_trials=1, items=True)
    frame, table = out
    frame = frame.drop(columns="trial")
    if not items:
        return frame
    return frame, table.drop(columns="trial")
