"""Published RESOLVE targets as data, per-trial summaries, and their comparison.

:data:`TARGETS` lists the numbers of ``specs/resolve-trial.md`` (sections 0,
1.7, 4, 5, 7 and 9) that a simulated trial should reproduce, each with its
class, source and a *rounding tolerance*: the published value is rounded (e.g.
3.1 stands for anything in [3.05, 3.15)), so a simulated mean within
``tolerance`` of it is consistent with it. :func:`trial_statistics` computes
the same quantities in each simulated trial, and :func:`calibration_report`
compares their mean over replicates with the targets: a target is met when
``|mean - value| <= tolerance + 4 * MCSE`` (MCSE = SD over replicates /
sqrt(replicates)).

Examples
--------
>>> from resolve.simulate import simulate_trials
>>> from resolve.simulate.calibration import calibration_report, trial_statistics
>>> stats = trial_statistics(simulate_trials(seed=3, n_trials=5))
>>> stats.shape[0], "pain.diff.w18" in stats.columns
(5, True)
>>> report = calibration_report(stats)
>>> float(report.loc["n", "target"]), float(report.loc["n", "simulated"])
(276.0, 276.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from resolve._validation import require_columns
from resolve.simulate.scenario import MODIFIERS

__all__ = ["TARGETS", "Target", "calibration_report", "summarise", "trial_statistics"]


@dataclass(frozen=True)
class Target:
    """One published (or derived) number and how a simulated trial is compared with it.

    ``statistic`` is a column of :func:`trial_statistics`; ``bound`` is
    ``"equal"`` (within ``tolerance`` + 4 MCSE), ``"above"`` or ``"below"``
    (the replicate mean lies beyond ``value``). ``cls`` is the provenance
    class of ``value``: ``"published"``, ``"derived"`` (computed from published
    numbers; ``source`` says how) or ``"placeholder"``.
    """

    statistic: str
    value: float
    tolerance: float
    cls: Literal["published", "derived", "placeholder"]
    source: str
    bound: Literal["equal", "above", "below"] = "equal"


def _t(stat: str, value: float, tol: float, cls: str, source: str, bound: str = "equal") -> Target:
    return Target(stat, value, tol, cls, source, bound)  # type: ignore[arg-type]


_RMDQ = {  # JAMA Table 2 via S12: published (mean, sd, n) per arm and week; derived mean
    ("resolve", 18): (3.6, 4.6, 127, 3.7),
    ("sham", 18): (6.4, 5.8, 130, 6.3),
    ("resolve", 26): (4.0, 5.0, 126, 4.1),
    ("sham", 26): (6.3, 5.8, 127, 6.2),
    ("resolve", 52): (4.1, 5.4, 122, 4.2),
    ("sham", 52): (6.1, 5.8, 124, 6.0),
}
_RECENTRED = (
    "derived: published {pub} re-centred on the model estimate (chance baseline imbalance "
    "not reproduced; (sham + RESOLVE) / 2 -+ estimate / 2)"
)
_PLAN_MODEL = "plan model y52 ~ arm * frebaq + y0, completers"

#: The calibration targets (tolerance = half the last published digit).
TARGETS: tuple[Target, ...] = (
    _t("n", 276, 0, "published", "S1: 276 randomised"),
    _t("n.resolve", 138, 0, "published", "S1: 1:1"),
    _t("age.mean", 46, 0.5, "published", "S3/S11: mean 46"),
    _t("age.sd", 14.3, 0.05, "published", "S3/S11: SD 14.3"),
    _t("women.share", 0.5, 0.005, "published", "S3/S11: 138 (50%)"),
    _t("age.min", 18, 0, "published", "S8/S9: eligibility 18-70", "above"),
    _t("age.max", 70, 0, "published", "S8/S9: eligibility 18-70", "below"),
    _t("pain.min.w0", 3, 0, "published", "S8/S9: baseline pain >= 3", "above"),
    _t("pain.mean.w0", 5.7, 0.05, "derived", "S3: mean of the arm means 5.6 and 5.8"),
    _t("pain.diff.w0", 0.0, 0.0, "derived", "randomisation: chance imbalance only"),
    _t("rmdq.mean.w0", 9.8, 0.05, "derived", "S12: mean of the arm means 9.6 and 10.0"),
    _t("rmdq.sd.w0", 5.21, 0.05, "derived", "S12: pooled from 5.4 and 5.0"),
    _t("rmdq.diff.w0", 0.0, 0.0, "derived", "randomisation: chance imbalance only"),
    _t("pain.mean.resolve.w18", 3.05, 0.05, "derived", _RECENTRED.format(pub="3.1")),
    _t("pain.mean.sham.w18", 4.05, 0.05, "derived", _RECENTRED.format(pub="4.0")),
    _t("pain.n.resolve.w18", 128, 0, "published", "S1/S16"),
    _t("pain.n.sham.w18", 133, 0, "published", "S1/S16"),
    _t("pain.diff.w18", -1.0, 0.05, "published", "S1: -1.0 (-1.5 to -0.4), model estimate"),
    _t("pain.ancova.w18", -1.0, 0.05, "published", "S1: -1.0; ANCOVA as proxy of the model"),
    _t("pain.se.w18", 0.281, 0.005, "derived", "S1: CI width / 3.92"),
    _t("pain.sd.pooled.w18", 2.27, 0.05, "derived", "spec 5.1: from the SE"),
    _t("pain.z.w52", -1.96, 0, "published", "S4: 52-wk effect not significant", "above"),
    *(
        t
        for (arm, week), (mean, sd, n, centred) in _RMDQ.items()
        for t in (
            _t(f"rmdq.mean.{arm}.w{week}", centred, 0.05, "derived", _RECENTRED.format(pub=mean)),
            _t(f"rmdq.sd.{arm}.w{week}", sd, 0.05, "published", "S12 (JAMA Table 2)"),
            _t(f"rmdq.n.{arm}.w{week}", n, 0, "published", "S12 (JAMA Table 2)"),
        )
    ),
    _t("rmdq.ancova.w18", -2.6, 0.05, "published", "S12: model estimate; ANCOVA as proxy"),
    _t("rmdq.ancova.w26", -2.1, 0.05, "published", "S12: model estimate; ANCOVA as proxy"),
    _t("rmdq.ancova.w52", -1.8, 0.05, "published", "S12: model estimate; ANCOVA as proxy"),
    _t("rmdq.corr.w0_w18", 0.5, 0.05, "published", "S12: baseline-18 wk r ~ 0.5 (within arm)"),
    _t("interaction.frebaq.pain.w52", 0.18, 0.0, "published", f"S11: +0.18; {_PLAN_MODEL}"),
    _t(
        "interaction_se.frebaq.pain.w52",
        0.069,
        0.005,
        "derived",
        f"S11: (0.32 - 0.05) / 3.92; {_PLAN_MODEL}",
    ),
    _t("pseq.mean", 35, 0, "placeholder", "spec 4.4"),
    _t("pseq.sd", 12, 0, "placeholder", "spec 4.4"),
    _t("pcs.mean", 18, 0, "placeholder", "spec 4.4"),
    _t("pcs.sd", 10, 0, "placeholder", "spec 4.4"),
    _t("tsk.mean", 40, 0, "placeholder", "spec 4.4"),
    _t("tsk.sd", 7, 0, "placeholder", "spec 4.4"),
    _t("frebaq.mean", 14, 0, "placeholder", "spec 4.4"),
    _t("frebaq.sd", 4.05, 0, "derived", "solved for the interaction SE 0.069"),
    _t("bbq.mean", 25, 0, "placeholder", "spec 4.4"),
    _t("bbq.sd", 6, 0, "placeholder", "spec 4.4"),
    _t("psychoactive.mean", 0.22, 0, "placeholder", "spec 4.4: 15-30%"),
)


def summarise(data: pd.DataFrame) -> pd.DataFrame:
    """Per-arm ``n``, ``mean`` and ``sd`` of pain and RMDQ at each visit.

    Parameters
    ----------
    data : DataFrame
        A simulated trial (optionally with a ``trial`` column) or any frame
        with ``arm``, ``week``, ``pain`` and ``rmdq``.

    Returns
    -------
    DataFrame
        Columns ``[trial,] outcome, arm, week, n, mean, sd``; ``n`` counts
        non-missing values and ``sd`` uses ``ddof=1``.
    """
    require_columns(data, ["arm", "week", "pain", "rmdq"], what="simulated trial")
    keys = (["trial"] if "trial" in data.columns else []) + ["arm", "week"]
    long = data.melt(id_vars=keys, value_vars=["pain", "rmdq"], var_name="outcome")
    out = (
        long.groupby([*keys[:-2], "outcome", "arm", "week"], sort=True)["value"]
        .agg(n="count", mean="mean", sd="std")
        .reset_index()
    )
    out["n"] = out["n"].astype(np.int64)
    return out


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    dof = max(len(y) - X.shape[1], 1)
    cov = np.linalg.inv(X.T @ X) * (resid @ resid) / dof
    return beta, np.sqrt(np.diag(cov))


_MODIFIER_COLUMNS = MODIFIERS  # one list: resolve.simulate.scenario.MODIFIERS


def _one_trial(g: pd.DataFrame, ref: str, trt: str) -> dict[str, float]:
    s: dict[str, float] = {}
    base = g[g["week"] == 0]
    s["n"] = float(len(base))
    s["n.resolve"] = float((base["arm"] == trt).sum())
    s["age.mean"], s["age.sd"] = float(base["age"].mean()), float(base["age"].std())
    s["age.min"], s["age.max"] = float(base["age"].min()), float(base["age"].max())
    s["women.share"] = float((base["sex"] == "female").mean())
    s["pain.min.w0"] = float(base["pain"].min())
    in_trt = (base["arm"] == trt).to_numpy()
    for col in ("pseq", "pcs", "tsk", "frebaq", "bbq", "psychoactive", "age"):
        x = base[col].to_numpy(dtype=float)
        if col != "age":
            s[f"{col}.mean"] = float(x.mean())
            s[f"{col}.sd"] = float(x.std(ddof=1))
        s[f"{col}.diff"] = float(x[in_trt].mean() - x[~in_trt].mean())
    wide = {k: g.pivot(index="id", columns="week", values=k) for k in ("pain", "rmdq")}
    arm = base.set_index("id")["arm"].reindex(wide["pain"].index)
    treated = (arm == trt).to_numpy()
    names = {ref: treated == 0, trt: treated}
    for k, w in wide.items():
        y0 = w[0].to_numpy(dtype=float)
        s[f"{k}.mean.w0"] = float(y0.mean())
        s[f"{k}.sd.w0"] = float(y0.std(ddof=1))
        for week in w.columns:
            y = w[week].to_numpy(dtype=float)
            stats = {}
            for name, rows in ((ref, ~treated), (trt, treated)):
                v = y[rows & ~np.isnan(y)]
                stats[name] = (len(v), v.mean(), v.std(ddof=1))
                s[f"{k}.n.{name}.w{week}"] = float(len(v))
                s[f"{k}.mean.{name}.w{week}"] = float(v.mean())
                s[f"{k}.sd.{name}.w{week}"] = float(v.std(ddof=1))
            (n0, m0, sd0), (n1, m1, sd1) = stats[ref], stats[trt]
            diff = m1 - m0
            s[f"{k}.diff.w{week}"] = diff
            if int(week) == 0:
                continue
            se = float(np.sqrt(sd0**2 / n0 + sd1**2 / n1))
            s[f"{k}.se.w{week}"] = se
            s[f"{k}.z.w{week}"] = diff / se
            pooled = np.sqrt(((n0 - 1) * sd0**2 + (n1 - 1) * sd1**2) / (n0 + n1 - 2))
            s[f"{k}.sd.pooled.w{week}"] = float(pooled)
            ok = ~np.isnan(y)
            X = np.column_stack([np.ones(ok.sum()), treated[ok], y0[ok]])
            beta, se_b = _ols(y[ok], X)
            s[f"{k}.ancova.w{week}"] = float(beta[1])
            s[f"{k}.ancova_se.w{week}"] = float(se_b[1])
        for name, rows in names.items():
            both = rows & ~np.isnan(w[18].to_numpy(dtype=float)) if 18 in w.columns else None
            if both is not None:
                r = np.corrcoef(y0[both], w[18].to_numpy(dtype=float)[both])
                s[f"{k}.corr.{name}.w0_w18"] = float(r[0, 1])
        if f"{k}.corr.{ref}.w0_w18" in s:
            s[f"{k}.corr.w0_w18"] = (s[f"{k}.corr.{ref}.w0_w18"] + s[f"{k}.corr.{trt}.w0_w18"]) / 2
    # effect modification, the plan's model: y_t ~ arm * modifier + y_0, completers
    mods = base.set_index("id").reindex(wide["pain"].index)
    for k, w in wide.items():
        y0 = w[0].to_numpy(dtype=float)
        for visit in sorted({18, int(w.columns.max())} & set(w.columns)):
            y = w[visit].to_numpy(dtype=float)
            ok = ~np.isnan(y)
            for m in _MODIFIER_COLUMNS:
                x = mods[m].to_numpy(dtype=float)
                cols = [np.ones(ok.sum()), treated[ok], x[ok], treated[ok] * x[ok]]
                if m != f"{k}_baseline":
                    cols.append(y0[ok])
                beta, se_b = _ols(y[ok], np.column_stack(cols))
                s[f"interaction.{m}.{k}.w{visit}"] = float(beta[3])
                s[f"interaction_se.{m}.{k}.w{visit}"] = float(se_b[3])
    return s


def trial_statistics(
    data: pd.DataFrame, *, reference: str = "sham", treatment: str = "resolve"
) -> pd.DataFrame:
    """Per-trial statistics comparable with :data:`TARGETS`.

    Parameters
    ----------
    data : DataFrame
        Output of :func:`~resolve.simulate.simulate_trials` (or of
        :func:`~resolve.simulate.simulate_trial`, treated as one trial).
    reference, treatment : str
        Arm names (statistic names use ``sham``/``resolve`` labels as given).

    Returns
    -------
    DataFrame
        One row per trial. Columns include ``<outcome>.{n,mean,sd}.<arm>.w<week>``,
        ``<outcome>.{mean,sd}.w0`` (both arms), ``<outcome>.diff.w<week>``
        (treatment minus reference, completers; at week 0 the chance baseline
        difference), ``.se`` (unadjusted two-sample SE), ``.z``, ``.sd.pooled``,
        ``.ancova`` / ``.ancova_se`` (follow-up on arm + baseline, completers),
        ``<outcome>.corr.w0_w18`` (within-arm baseline-18 wk correlation,
        averaged over arms), ``interaction.<modifier>.<outcome>.w<week>`` and
        its ``interaction_se`` at week 18 and the last week (the plan's model:
        OLS of the outcome on arm x modifier + baseline outcome among
        completers; without the baseline term when the modifier is the
        baseline outcome), baseline summaries (``age.mean``, ``women.share``,
        ``frebaq.sd``...) and baseline arm differences (``frebaq.diff``...).
    """
    require_columns(
        data, ["id", "arm", "week", "pain", "rmdq", "age", "sex"], what="simulated trial"
    )
    frame = data if "trial" in data.columns else data.assign(trial=1)
    rows = {t: _one_trial(g, reference, treatment) for t, g in frame.groupby("trial", sort=True)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("trial")


def calibration_report(
    statistics: pd.DataFrame, targets: tuple[Target, ...] = TARGETS
) -> pd.DataFrame:
    """Compare the replicate means of :func:`trial_statistics` with ``targets``.

    Returns
    -------
    DataFrame
        Indexed by statistic; columns ``cls``, ``target``, ``tolerance``,
        ``bound``, ``simulated`` (mean over trials), ``sd`` (over trials),
        ``mcse``, ``ok`` and ``source``.
    """
    rows = []
    R = len(statistics)
    for t in targets:
        values = statistics[t.statistic].to_numpy(dtype=float)
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if R > 1 else float("nan")
        mcse = sd / np.sqrt(R) if R > 1 else 0.0
        if t.bound == "equal":
            ok = abs(mean - t.value) <= t.tolerance + 4 * mcse + 1e-9
        elif t.bound == "above":
            ok = mean >= t.value
        else:
            ok = mean <= t.value
        rows.append(
            {
                "statistic": t.statistic,
                "cls": t.cls,
                "target": float(t.value),
                "tolerance": t.tolerance,
                "bound": t.bound,
                "simulated": mean,
                "sd": sd,
                "mcse": mcse,
                "ok": bool(ok),
                "source": t.source,
            }
        )
    return pd.DataFrame(rows).set_index("statistic")
