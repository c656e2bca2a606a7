"""``mediate``: the whole mediation analysis of a randomised treatment in one call.

For every outcome, each mediator alone (:func:`~.regression.fit_single`, delta-method
rows), then optionally all mediators jointly (:func:`~.interventional.fit_joint`) and
the interventional effects of Vansteelandt & Daniel (2017,
:func:`~.interventional.fit_interventional`), with the Imai-Keele-Yamamoto sensitivity
curve of each linear single-mediator fit (:func:`~.sensitivity.rho_curve`).

Bootstrap: ONE matrix of resampled participants (:func:`~.bootstrap.bootstrap_indices`,
``boot`` x rows of ``data``, seeded with ``seed``) is drawn once and every model of every
outcome and mediator is re-estimated on the same resamples (its complete cases among the
resampled rows), so the intervals of different mediators and outcomes are coherent and the
same seed always gives the same draws. Percentile or BCa intervals
(:func:`~.bootstrap.percentile_ci`, :func:`~.bootstrap.bca_ci`; BCa's acceleration from the
jackknife over the model's complete cases); a bootstrap row's ``std_error`` is the SD of
the draws and its ``p_value`` twice the smaller share of draws on either side of 0.
Resamples in which a model cannot be fitted are left out and counted in ``warnings``.

Missing values: complete cases per model, the number dropped in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from resolve._validation import require_columns, show_values
from resolve.analysis.mediation.bootstrap import (
    bca_ci,
    bootstrap_indices,
    jackknife_weights,
    percentile_ci,
    percentile_p_value,
    resample_weights,
)
from resolve.analysis.mediation.interventional import (
    TypesArg,
    fit_interventional,
    fit_joint,
    interventional_arrays,
    mediator_type_list,
)
from resolve.analysis.mediation.regression import (
    MediatorType,
    ModelData,
    SingleMediation,
    fit_single,
    model_data,
    point_estimates,
)
from resolve.analysis.mediation.result import (
    EFFECT_COLUMNS,
    EFFECTS,
    PATH_COLUMNS,
    SENSITIVITY_COLUMNS,
    MediationResult,
    empty_frame,
)
from resolve.analysis.mediation.sensitivity import rho_curve, rho_thresholds
from resolve.errors import DataValidationError

__all__ = ["MIN_BOOT", "MIN_BOOT_BCA", "check_options", "mediate"]

FloatArray = npt.NDArray[np.float64]
CiMethod = Literal["percentile", "bca"]

#: Smallest number of resamples for percentile intervals (0 switches the bootstrap off).
MIN_BOOT = 50
#: Smallest number of resamples for BCa intervals.
MIN_BOOT_BCA = 200
_IV = "interventional:"


def _names(value: str | Sequence[str], what: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise DataValidationError(f"give at least one {what}")
    for name in names:
        if not isinstance(name, str):
            raise DataValidationError(f"{what} names must be strings; got {name!r}")
    dup = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if dup:
        raise DataValidationError(f"{what} {dup[0]!r} is given twice")
    return names


def _check_roles(
    data: pd.DataFrame,
    treatment: str,
    outcomes: list[str],
    mediators: list[str],
    covariates: list[str],
) -> None:
    roles = {
        "treatment": [treatment],
        "outcome": outcomes,
        "mediator": mediators,
        "covariate": covariates,
    }
    seen: dict[str, str] = {}
    for role, names in roles.items():
        for name in names:
            if name in seen:
                raise DataValidationError(
                    f"column {name!r} is given as {seen[name]} and as {role}; one role each"
                )
            seen[name] = role
    require_columns(data, list(seen))


def _mediator_covariates(
    given: Mapping[str, Sequence[str]] | None, mediators: list[str], covariates: list[str]
) -> dict[str, list[str]]:
    """The per-mediator confounders, checked: known mediators, names, no repeats of roles."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise DataValidationError(
            f"mediator_covariates must map mediator names to column names; got {given!r}"
        )
    out: dict[str, list[str]] = {}
    for mediator, columns in given.items():
        if mediator not in mediators:
            raise DataValidationError(
                f"mediator_covariates names {mediator!r}, which is not a mediator "
                f"({show_values(mediators)})"
            )
        names = _names(columns, f"covariate of mediator {mediator!r}") if columns else []
        for name in names:
            if name in mediators:
                raise DataValidationError(
                    f"{name!r} is a mediator; it cannot also be a confounder of {mediator!r}"
                )
        out[mediator] = [c for c in names if c not in covariates]
    return out


def _default_reference(values: pd.Series, column: str) -> object:
    """0 when the treatment holds 0/1; otherwise the caller must name the reference."""
    levels = list(pd.unique(values.dropna()))
    if len(levels) != 2:
        raise DataValidationError(
            f"treatment column {column!r} must have exactly 2 distinct values (treated and "
            f"reference); got {len(levels)}: {show_values(sorted(map(str, levels)))}"
        )
    numeric = all(isinstance(v, int | float | np.integer | np.floating) for v in levels)
    if numeric and {float(v) for v in levels} == {0.0, 1.0}:
        return 0
    raise DataValidationError(
        f"treatment column {column!r} holds {show_values(levels)}; name the reference "
        "(control) value with reference="
    )


def check_options(
    boot: object, seed: object, ci: object, conf_level: object = 0.95, draws: object = 50
) -> None:
    """Refuse bad bootstrap settings before any work (also used by the command line).

    Examples
    --------
    >>> check_options(1000, 2021, "bca")
    >>> check_options(150, 2021, "bca")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: boot must be 0 (no bootstrap) or at least 200 ...
    """

    def integer(name: str, value: object, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise DataValidationError(f"{name} must be an integer >= {low}; got {value!r}")
        return int(value)

    n_boot = integer("boot", boot, 0)
    integer("seed", seed, 0)
    integer("draws", draws, 1)
    if ci not in ("percentile", "bca"):
        raise DataValidationError(f"ci must be 'percentile' or 'bca'; got {ci!r}")
    if not isinstance(conf_level, float | int) or not 0.0 < float(conf_level) < 1.0:
        raise DataValidationError(
            f"conf_level must lie strictly between 0 and 1; got {conf_level!r}"
        )
    low = MIN_BOOT_BCA if ci == "bca" else MIN_BOOT
    if 0 < n_boot < low:
        raise DataValidationError(
            f"boot must be 0 (no bootstrap) or at least {low} for {ci} intervals; got {boot}"
        )


def _row(outcome: str, mediator: str, effect: str, *values: Any) -> dict[str, Any]:
    """One effects row: ``values`` are estimate, std_error, conf_low, conf_high, p_value,
    ci_method, n."""
    return dict(zip(EFFECT_COLUMNS, (outcome, mediator, effect, *values), strict=True))


class _Bootstrap:
    """The shared resamples and the interval arithmetic of the bootstrap rows."""

    def __init__(self, n: int, boot: int, seed: int, ci: CiMethod, conf_level: float) -> None:
        self.boot, self.ci, self.level = boot, ci, conf_level
        self.indices = bootstrap_indices(n, boot, seed) if boot else np.empty((0, n), np.int64)
        self.weights = resample_weights(self.indices, n) if boot else np.empty((0, n))
        self.warnings: list[str] = []

    def rows(
        self,
        outcome: str,
        what: str,
        labels: Sequence[tuple[str, str]],
        estimates: Sequence[float],
        draws: Sequence[FloatArray],
        jackknife: Sequence[FloatArray] | None,
        n: int,
    ) -> list[dict[str, Any]]:
        """Rows for (mediator, effect) ``labels``; a resample failing any of them is dropped.

        ``what`` names the models in the warning that counts failed resamples.
        """
        stack = np.vstack(draws)
        good = np.isfinite(stack[[i for i, (_, e) in enumerate(labels) if e != "pm"]]).all(axis=0)
        if (failed := int((~good).sum())) > 0:
            self.warnings.append(
                f"outcome {outcome!r}, {what}: {failed} of {self.boot} bootstrap resamples "
                "could not be fitted and are left out of the intervals"
            )
        out = []
        for i, ((mediator, effect), est) in enumerate(zip(labels, estimates, strict=True)):
            d = stack[i][good & np.isfinite(stack[i])]
            method: str = self.ci
            low = high = p = se = float("nan")
            if d.size >= 2:
                se, p = float(np.std(d, ddof=1)), percentile_p_value(d)
                low, high = percentile_ci(d, self.level)
            if self.ci == "bca" and d.size >= 2 and jackknife is not None:
                try:
                    low, high = bca_ci(d, est, jackknife[i][np.isfinite(jackknife[i])], self.level)
                except DataValidationError as exc:
                    method = "percentile"
                    self.warnings.append(
                        f"outcome {outcome!r}, {mediator} {effect}: percentile interval given "
                        f"instead of BCa ({exc})"
                    )
            out.append(_row(outcome, mediator, effect, est, se, low, high, p, method, n))
        return out


def _delta_rows(
    outcome: str, mediator: str, values: Sequence[float], ses: Sequence[float], n: int, level: float
) -> list[dict[str, Any]]:
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    rows = []
    for effect, est, se in zip(EFFECTS, values, ses, strict=True):
        p = float(2.0 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
        rows.append(
            _row(outcome, mediator, effect, est, se, est - z * se, est + z * se, p, "delta", n)
        )
    return rows


@dataclass
class _Run:
    """One call of :func:`mediate`: its validated settings and the rows gathered so far."""

    data: pd.DataFrame
    common: dict[str, Any]  # treatment, covariates, reference: the same for every model
    types: list[MediatorType]
    interaction: bool
    ci: CiMethod
    level: float
    draws: int
    seed: int
    bs: _Bootstrap
    own: dict[str, list[str]] = field(default_factory=dict)  # mediator -> its own confounders
    effects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def kw(self, mediators: list[str]) -> dict[str, Any]:
        """Treatment, reference and the confounders of a model holding ``mediators``."""
        extra = [c for m in mediators for c in self.own.get(m, [])]
        covs = list(dict.fromkeys([*self.common["covariates"], *extra]))
        return {**self.common, "covariates": covs}

    def model(self, outcome: str, mediators: list[str], types: list[MediatorType]) -> ModelData:
        return model_data(
            self.data,
            outcome=outcome,
            mediators=mediators,
            mediator_types=types,
            **self.kw(mediators),
        )

    def natural_draws(
        self, md: ModelData, W: FloatArray, types: list[MediatorType]
    ) -> list[FloatArray]:
        est = point_estimates(
            md.treatment,
            md.mediators,
            md.outcome,
            md.covariates,
            W,
            interaction=self.interaction,
            mediator_types=types,
        )
        return [est.nde, est.nie, est.te, est.pm]

    def bootstrap_natural(
        self,
        outcome: str,
        label: str,
        md: ModelData,
        types: list[MediatorType],
        estimates: Sequence[float],
    ) -> None:
        if not self.bs.boot:
            return
        jack = None
        if self.ci == "bca":
            jack = self.natural_draws(md, jackknife_weights(len(md.rows)), types)
        what = "all mediators jointly" if label == "joint" else f"mediator {label!r}"
        draws = self.natural_draws(md, self.bs.weights[:, md.rows], types)
        labels = [(label, e) for e in EFFECTS]
        self.effects.extend(
            self.bs.rows(outcome, what, labels, estimates, draws, jack, len(md.rows))
        )

    def single(self, outcome: str, mediator: str, kind: MediatorType) -> SingleMediation:
        kw = {**self.kw([mediator]), "interaction": self.interaction, "conf_level": self.level}
        fit = fit_single(self.data, outcome=outcome, mediator=mediator, mediator_type=kind, **kw)
        self.effects.extend(
            {str(k): v for k, v in r.items()} for r in fit.effects_frame().to_dict(orient="records")
        )
        self.notes.extend(fit.warnings)
        md = self.model(outcome, [mediator], [kind])
        self.bootstrap_natural(outcome, mediator, md, [kind], [fit.nde, fit.nie, fit.te, fit.pm])
        return fit

    def joint(self, outcome: str, mediators: list[str]) -> None:
        kw = {**self.kw(mediators), "interaction": self.interaction, "mediator_types": self.types}
        jf = fit_joint(self.data, outcome=outcome, mediators=mediators, **kw)
        values = [jf.nde, jf.nie, jf.te, jf.pm]
        self.notes.extend(jf.warnings)
        if np.isfinite(jf.nie_se):
            ses = [jf.nde_se, jf.nie_se, jf.te_se, jf.pm_se]
            self.effects.extend(_delta_rows(outcome, "joint", values, ses, jf.n, self.level))
        self.bootstrap_natural(
            outcome, "joint", self.model(outcome, mediators, self.types), self.types, values
        )

    def interventional(self, outcome: str, mediators: list[str]) -> None:
        """Point estimates and bootstrap rows of the interventional effects of one outcome."""
        kw = {**self.kw(mediators), "interaction": self.interaction, "mediator_types": self.types}
        iv = fit_interventional(
            self.data, outcome=outcome, mediators=mediators, draws=self.draws, seed=self.seed, **kw
        )
        md = self.model(outcome, mediators, self.types)
        labels = [(f"{_IV}{m}", "nie") for m in mediators]
        labels += [(f"{_IV}joint", e) for e in EFFECTS] + [(f"{_IV}dependence", "nie")]
        pm = iv.joint_indirect / iv.total if iv.total != 0 else float("nan")
        estimates = [iv.indirect[m] for m in mediators]
        estimates += [iv.direct, iv.joint_indirect, iv.total, pm, iv.dependence]
        position = np.full(len(self.data), -1)
        position[md.rows] = np.arange(len(md.rows))

        def one(rows: npt.NDArray[np.int64], stream: int) -> FloatArray:
            out = interventional_arrays(
                *(x[rows] for x in (md.treatment, md.outcome, md.mediators, md.covariates)),
                mediator_types=self.types,
                interaction=self.interaction,
                draws=self.draws,
                rng=np.random.default_rng([self.seed, stream]),
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = out["joint_indirect"] / out["total"]
            tail = [out["direct"], out["joint_indirect"], out["total"], ratio, out["dependence"]]
            return np.concatenate([out["indirect"], np.array(tail, dtype=float)])

        reps = []
        for b, drawn in enumerate(self.bs.indices):  # the shared resamples, complete cases
            kept = position[drawn]
            reps.append(one(kept[kept >= 0], b + 1))
        jack = None
        if self.ci == "bca":
            every = np.arange(len(md.rows))
            jack = list(np.array([one(np.delete(every, i), 0) for i in every]).T)
        what, draws = "interventional effects", list(np.array(reps).T)
        self.effects.extend(self.bs.rows(outcome, what, labels, estimates, draws, jack, iv.n))


def mediate(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcomes: str | Sequence[str],
    mediators: str | Sequence[str],
    covariates: Sequence[str] = (),
    mediator_covariates: Mapping[str, Sequence[str]] | None = None,
    interaction: bool = False,
    mediator_types: TypesArg = None,
    reference: object = None,
    boot: int = 1000,
    seed: int = 2021,
    ci: CiMethod = "percentile",
    conf_level: float = 0.95,
    joint: bool = True,
    interventional: bool = False,
    sensitivity: bool = True,
    draws: int = 50,
) -> MediationResult:
    """Causal mediation analysis: every mediator alone, jointly and interventionally.

    Parameters
    ----------
    data : DataFrame
        One row per participant (wide): treatment, outcomes, mediators, covariates.
    treatment : str
        Two-valued treatment column.
    outcomes : str or sequence of str
        Continuous outcome column(s).
    mediators : str or sequence of str
        Mediator columns (continuous, or binary 0/1 when declared in ``mediator_types``).
    covariates : sequence of str
        Numeric baseline confounders (one-hot categorical ones yourself).
    mediator_covariates : mapping mediator -> sequence of str, optional
        More confounders of one mediator only, typically its baseline value: they enter
        that mediator's own models and, with the other mediators' ones, the joint and
        interventional models (which hold every mediator).
    interaction : bool
        Treatment x mediator term(s) in the outcome models.
    mediator_types : mapping name -> "continuous" | "binary", or one per mediator
        Default: all continuous.
    reference : object, optional
        The control value of ``treatment``; may be omitted when it holds 0/1 (0 is then
        the reference).
    boot : int
        Bootstrap resamples (0: delta-method rows only); at least 50, or 200 for BCa.
    seed : int
        Seed of the resamples (and of the interventional Monte-Carlo draws).
    ci : {"percentile", "bca"}
        Bootstrap interval.
    conf_level : float
        Confidence level of every interval.
    joint : bool
        Add the joint natural effects of all mediators (``mediator = "joint"``) when there
        are two or more.
    interventional : bool
        Add interventional effects (needs the bootstrap for intervals): ``effect = "nie"``
        rows for ``"interventional:<name>"`` (IIE of each mediator) and
        ``"interventional:dependence"``, and nde/nie/te/pm rows for
        ``"interventional:joint"`` (direct, joint indirect, total).
    sensitivity : bool
        Add the rho sensitivity curve of each continuous mediator (without interaction);
        where NIE and its interval reach zero is in ``settings["rho_thresholds"]``.
    draws : int
        Monte-Carlo mediator draws per participant for the interventional effects.

    Returns
    -------
    MediationResult
        ``effects`` has, per outcome and mediator, delta-method rows and bootstrap rows
        (``ci_method``); ``paths``, ``sensitivity``, ``settings``, ``warnings``.

    Raises
    ------
    DataValidationError
        Unknown or repeated column, a treatment without exactly two values (or no
        reference when it is not 0/1), a constant or non-numeric mediator, too few
        resamples for the interval, ...: the message names the column and value.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(4)
    >>> df = pd.DataFrame({"arm": np.repeat(["sham", "gsr"], 60), "age": rng.normal(size=120)})
    >>> df["pseq"] = 0.6 * (df.arm == "gsr") + rng.normal(size=120)
    >>> df["pain"] = -0.3 * (df.arm == "gsr") - 0.5 * df.pseq + rng.normal(size=120)
    >>> res = mediate(df, treatment="arm", reference="sham", outcomes="pain",
    ...               mediators=["pseq"], covariates=["age"], boot=200, seed=1)
    >>> nie = res.effects.query("effect == 'nie' and ci_method == 'percentile'")
    >>> bool(nie.conf_high.item() < 0), sorted(set(res.effects.ci_method))
    (True, ['delta', 'percentile'])
    """
    out_names = _names(outcomes, "outcome")
    med_names = _names(mediators, "mediator")
    cov_names = list(covariates)
    if not isinstance(data, pd.DataFrame):
        raise DataValidationError(f"data must be a pandas DataFrame; got {type(data).__name__}")
    own = _mediator_covariates(mediator_covariates, med_names, cov_names)
    extra = list(dict.fromkeys(c for m in med_names for c in own.get(m, [])))
    _check_roles(data, treatment, out_names, med_names, [*cov_names, *extra])
    check_options(boot, seed, ci, conf_level, draws)
    types = mediator_type_list(med_names, mediator_types)
    if reference is None:
        reference = _default_reference(data[treatment], treatment)
    if interventional and not boot:
        raise DataValidationError("interventional effects need the bootstrap; set boot > 0")
    level = float(conf_level)
    common = {"treatment": treatment, "covariates": cov_names, "reference": reference}
    bs = _Bootstrap(len(data), boot, seed, ci, level)
    run = _Run(data, common, types, interaction, ci, level, draws, seed, bs, own)
    paths, curves, thresholds, no_curve = [], [], [], []
    for outcome in out_names:
        for mediator, kind in zip(med_names, types, strict=True):
            fit = run.single(outcome, mediator, kind)
            paths.append(fit.paths_frame())
            if sensitivity and kind == "continuous" and not interaction:
                curves.append(rho_curve(fit, conf_level=level))
                th = rho_thresholds(fit, conf_level=level)
                thresholds.append(
                    {
                        "outcome": outcome,
                        "mediator": mediator,
                        "nie_zero": th.nie_zero,
                        "ci_zero": th.ci_zero,
                    }
                )
            elif sensitivity and mediator not in no_curve:
                no_curve.append(mediator)
        if joint and len(med_names) > 1:
            run.joint(outcome, med_names)
        if interventional:
            run.interventional(outcome, med_names)
    if no_curve:
        run.notes.append(
            f"no rho sensitivity curve for mediator(s) {', '.join(map(repr, no_curve))}: it "
            "needs a continuous mediator and no treatment-mediator interaction"
        )
    settings = {
        "treatment": treatment, "reference": reference, "outcomes": out_names,
        "mediators": med_names, "covariates": cov_names, "mediator_covariates": own,
        "interaction": interaction,
        "mediator_types": dict(zip(med_names, types, strict=True)), "boot": boot,
        "seed": seed, "ci": ci, "conf_level": level, "joint": joint,
        "interventional": interventional, "draws": draws, "sensitivity": sensitivity,
        "n_rows": len(data), "rho_thresholds": thresholds,
    }  # fmt: skip
    return MediationResult(
        effects=_ordered(
            pd.DataFrame(run.effects, columns=list(EFFECT_COLUMNS)), out_names, med_names
        ),
        paths=pd.concat(paths, ignore_index=True) if paths else empty_frame(PATH_COLUMNS),
        sensitivity=pd.concat(curves, ignore_index=True)
        if curves
        else empty_frame(SENSITIVITY_COLUMNS),
        settings=settings,
        warnings=tuple(dict.fromkeys([*run.notes, *bs.warnings])),
    )


def _ordered(frame: pd.DataFrame, outcomes: list[str], mediators: list[str]) -> pd.DataFrame:
    """Rows by outcome, mediator (singles, joint, interventional), interval method, effect."""
    ivs = [f"{_IV}{m}" for m in [*mediators, "joint", "dependence"]]
    med_order = {m: i for i, m in enumerate([*mediators, "joint", *ivs])}
    keys = pd.DataFrame({
        "o": frame["outcome"].map({o: i for i, o in enumerate(outcomes)}),
        "m": frame["mediator"].map(med_order),
        "c": frame["ci_method"].map({"delta": 1}).fillna(0),
        "e": frame["effect"].map({e: i for i, e in enumerate(EFFECTS)}),
    })  # fmt: skip
    order = keys.sort_values(["o", "m", "c", "e"], kind="stable").index
    return frame.loc[order].reset_index(drop=True)
