"""A realistic :class:`TrialAnalysis` built with plain pandas/numpy on the bundled trial.

The report only consumes the result contract (``resolve.analysis.result``), so
its tests do not depend on the analysis engine: means and Welch differences
stand in for the mixed models, and per-visit OLS ``y_t ~ arm * m + y_0`` for
the effect-modification models. Numbers are realistic, not validated. Table 1 and
the responder analysis are the real (model-free) functions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from resolve import datasets
from resolve.analysis.baseline import table1
from resolve.analysis.plan import Plan, load_plan
from resolve.analysis.responders import responder_analysis
from resolve.analysis.result import ModifierAnalysis, TrialAnalysis

#: ICEMAN core items (``resolve.analysis.credibility.ITEMS``), each with an evidence column.
ITEMS = (
    "item1_a_priori",
    "item2_prior_evidence",
    "item3_chance",
    "item4_multiplicity",
    "item5_cut_points",
)


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float, float]:
    """Difference a - b: estimate, SE, df, t, p."""
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    df = float((va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)))
    est = float(a.mean() - b.mean())
    t = est / se
    return est, se, df, t, float(2 * stats.t.sf(abs(t), df))


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    df = len(y) - x.shape[1]
    resid = y - x @ beta
    s2 = float(resid @ resid) / df
    cov = s2 * np.linalg.pinv(x.T @ x)
    return beta, cov, df


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    m = len(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order]).clip(max=1)
    out = np.empty(m)
    out[order] = adj
    return out


def _bh(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)[::-1]
    m = len(p)
    adj = np.minimum.accumulate(p[order] * m / np.arange(m, 0, -1)).clip(max=1)
    out = np.empty(m)
    out[order] = adj
    return out


def _modifiers(data: pd.DataFrame, plan: Plan) -> ModifierAnalysis:
    t = plan.trial
    em = plan.effect_modification
    q = stats.t.ppf(0.975, 200)
    wide = data.pivot(index=t.subject, columns=t.visit, values=[o.column for o in plan.outcomes])
    base = data.drop_duplicates(t.subject).set_index(t.subject)
    treat = (base[t.arm] != t.reference_arm).astype(float)
    rows, quart, curves, cred = [], [], [], []
    for o in plan.outcomes:
        for v in em.visits:
            for m in plan.modifiers:
                y = wide[(o.column, v)]
                y0 = wide[(o.column, t.baseline_visit)]
                mod = base[m.column].astype(float)
                ok = y.notna() & y0.notna()
                a, mm = treat[ok].to_numpy(), mod[ok].to_numpy()
                base0 = y0[ok].to_numpy()
                if np.corrcoef(mm, base0)[0, 1] > 0.999:  # the modifier is the outcome's baseline
                    base0 = np.zeros_like(base0)
                X = np.column_stack([np.ones(ok.sum()), a, mm, a * mm, base0])
                beta, cov, df = _ols(X, y[ok].to_numpy())
                est, se = float(beta[3]), float(np.sqrt(cov[3, 3]))
                p = float(2 * stats.t.sf(abs(est / se), df))
                sd = float(mod.std()) if m.type == "continuous" else 1.0
                tq = stats.t.ppf(0.975, df)
                rows.append(
                    {
                        "modifier": m.name,
                        "label": m.label,
                        "type": m.type,
                        "unit": m.unit,
                        "outcome": o.name,
                        "visit": v,
                        "n": int(ok.sum()),
                        "estimate": est,
                        "std_error": se,
                        "conf_low": est - tq * se,
                        "conf_high": est + tq * se,
                        "p_value": p,
                        "sd": sd,
                        "estimate_per_sd": est * sd,
                        "conf_low_per_sd": (est - tq * se) * sd,
                        "conf_high_per_sd": (est + tq * se) * sd,
                        "in_family": v in em.family_visits,
                        "exploratory": p < em.exploratory_p,
                        "nonlinearity_p": float(min(1.0, p * 1.7 + 0.05)),
                        "direction_hypothesised": m.direction,
                        "direction_observed": "+" if est > 0 else "-",
                    }
                )

                def effect(
                    val: float, beta: np.ndarray = beta, cov: np.ndarray = cov
                ) -> tuple[float, float, float]:
                    g = np.array([0, 1, 0, val, 0.0])
                    e = float(g @ beta)
                    s = float(np.sqrt(g @ cov @ g))
                    return e, e - q * s, e + q * s

                if m.type == "continuous":
                    cuts = np.quantile(mod, [0.125, 0.375, 0.625, 0.875])
                    for k, val in enumerate(cuts, start=1):
                        e, lo, hi = effect(float(val))
                        quart.append([m.name, o.name, v, f"Q{k}", float(val), e, lo, hi])
                    low, high = (float(x) for x in np.quantile(mod, [0.05, 0.95]))
                    grid = np.linspace(low, high, 25)
                else:
                    grid = np.array([0.0, 1.0])
                for val in grid:
                    e, lo, hi = effect(float(val))
                    curves.append([m.name, o.name, v, float(val), e, lo, hi])
                if p >= em.credibility_scope_p:
                    continue
                answers = [
                    "probably yes",
                    "not answered",
                    "definitely yes" if p < 0.005 else "probably no",
                    "definitely yes" if v in em.family_visits else "definitely no",
                    "definitely yes" if m.type == "continuous" else "not applicable",
                ]
                items = [x for a in answers for x in (a, f"fake evidence: P = {p:.3g}")]
                level = "moderate" if p < 0.05 and v in em.family_visits else "low"
                cred.append([m.name, o.name, v, p, *items, level, "fake rule"])
    table = pd.DataFrame(rows)
    fam = table["in_family"].to_numpy()
    table["p_holm"] = np.nan
    table["p_bh"] = np.nan
    table.loc[fam, "p_holm"] = _holm(table.loc[fam, "p_value"].to_numpy())
    table.loc[fam, "p_bh"] = _bh(table.loc[fam, "p_value"].to_numpy())
    cols = ["modifier", "outcome", "visit"]
    quartiles = pd.DataFrame(
        quart, columns=[*cols, "quartile", "modifier_value", "estimate", "conf_low", "conf_high"]
    )
    curve = pd.DataFrame(
        curves, columns=[*cols, "modifier_value", "estimate", "conf_low", "conf_high"]
    )
    glob = (
        table.groupby(["outcome", "visit"], sort=False)["p_value"]
        .agg(lambda p: float(min(1.0, p.min() * 3)))
        .reset_index()
    )
    glob.insert(2, "statistic", 1.2)
    glob.insert(3, "df_num", float(len(plan.modifiers)))
    glob.insert(4, "df_den", 240.0)
    item_cols = [x for c in ITEMS for x in (c, f"{c}_evidence")]
    credibility = pd.DataFrame(
        cred, columns=[*cols, "p_value", *item_cols, "credibility", "rationale"]
    ).sort_values("p_value", kind="mergesort")
    return ModifierAnalysis(table, quartiles, curve, glob, credibility)


def make_analysis(data: pd.DataFrame | None = None) -> TrialAnalysis:
    """Build the fixture analysis of the bundled RESOLVE trial."""
    plan = load_plan()
    t = plan.trial
    data = datasets.load("resolve") if data is None else data
    traj: list[list[object]] = []
    tab2: list[dict[str, object]] = []
    prim: list[list[object]] = []
    sens: list[list[object]] = []
    for o in plan.outcomes:
        for v in t.visits:
            row: dict[str, object] = {"outcome": o.name, "visit": v}
            groups = {}
            for a in t.arms:
                x = data.loc[(data[t.arm] == a) & (data[t.visit] == v), o.column].dropna()
                groups[a] = x.to_numpy()
                n, mean, sd = len(x), float(x.mean()), float(x.std())
                half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
                traj.append([o.name, a, v, n, mean, sd, mean - half, mean + half])
                row |= {f"{a}_mean": mean, f"{a}_sd": sd, f"{a}_n": n}
            if v == t.baseline_visit:
                row |= {"difference": None, "p_value": np.nan}
            else:
                treat = next(a for a in t.arms if a != t.reference_arm)
                est, se, df, _, p = _welch(groups[treat], groups[t.reference_arm])
                half = stats.t.ppf(0.975, df) * se
                row |= {
                    "difference": f"{est:.1f} ({est - half:.1f} to {est + half:.1f})".replace(
                        "-", "\u2212"
                    ),
                    "p_value": p,
                }
                for model, out, shrink in (
                    ("lmm_random_intercept", prim, 1.0),
                    ("mmrm_baseline_adjusted", sens, 0.9),
                ):
                    out.append(
                        [
                            o.name,
                            v,
                            model,
                            est,
                            se * shrink,
                            df,
                            est - half * shrink,
                            est + half * shrink,
                            p,
                        ]
                    )
            tab2.append(row)
    eff = ["outcome", "visit", "model", "estimate", "std_error", "df", "conf_low", "conf_high"]
    contrast = f"{next(a for a in t.arms if a != t.reference_arm)} - {t.reference_arm}"
    primary = pd.DataFrame(prim, columns=[*eff, "p_value"])
    sensitivity = pd.DataFrame(sens, columns=[*eff, "p_value"])
    primary.insert(2, "contrast", contrast)
    sensitivity.insert(2, "contrast", contrast)
    trajectories = pd.DataFrame(
        traj, columns=["outcome", "arm", "visit", "n", "mean", "sd", "conf_low", "conf_high"]
    )
    per_subject = data.drop_duplicates(t.subject)
    consort = [["randomised", "all", len(per_subject), "allocated 1:1"]]
    for a in t.arms:
        consort.append(["allocated", a, int((per_subject[t.arm] == a).sum()), ""])
    for v in t.followup_visits:
        for a in t.arms:
            sub = data[(data[t.arm] == a) & (data[t.visit] == v)]
            seen = int(sub["pain"].notna().sum())
            consort.append([f"assessed at {v}", a, seen, f"{len(sub) - seen} missed"])
    for a in t.arms:
        consort.append(["analysed", a, int((per_subject[t.arm] == a).sum()), "intention to treat"])
    valid = plan.validate_data(data)
    return TrialAnalysis(
        plan=plan,
        primary=primary,
        table2=pd.DataFrame(tab2),
        trajectories=trajectories,
        consort=pd.DataFrame(consort, columns=["stage", "arm", "n", "detail"]),
        sensitivity=sensitivity,
        modifiers=_modifiers(data, plan),
        notes=("Fixture analysis built with plain pandas for the report tests.",),
        table1=table1(valid, plan),
        responders=responder_analysis(valid, plan, validated=True),
    )
