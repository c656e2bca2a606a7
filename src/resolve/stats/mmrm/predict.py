"""Population and conditional predictions from a fitted MMRM.

Population prediction of a row with covariates ``x`` is ``x' b`` with standard
error ``sqrt(x' cov(b) x)`` (SAS PROC MIXED ``OUTP=`` / ``OUTPM=`` columns
``Pred`` and ``StdErrPred``; R ``predict(fit, newdata)``).

Conditional prediction of the missing visits ``m`` of a subject given its
observed visits ``o`` (R ``predict(..., conditional = TRUE)``) uses the
Gaussian conditional distribution::

    mean = X_m b + S_mo S_oo^-1 (y_o - X_o b)
    var  = S_mm - S_mo S_oo^-1 S_om

The mean is the linear combination ``z' b + const`` with ``z = X_m - S_mo S_oo^-1
X_o`` so its confidence variance is ``z' cov(b) z``; the prediction variance
adds ``diag(var)``.  Observed rows are returned unchanged with zero variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from resolve._validation import Interval, OneOf, require_columns, require_unique, show_values
from resolve.errors import DataValidationError
from resolve.stats.mmrm.design import ModelData, _as_categorical, _parse_formula

if TYPE_CHECKING:
    from resolve.stats.mmrm.result import MMRMResult

__all__ = ["NewRows", "new_rows", "predict"]

Array = NDArray[np.float64]
IntArray = NDArray[np.intp]
INTERVALS: tuple[str, ...] = ("confidence", "prediction")


@dataclass(frozen=True)
class NewRows:
    """New data laid out for prediction and simulation.

    ``x`` holds the estimable design columns (NaN rows where a covariate is
    missing, ``valid`` False); ``y`` the outcome (NaN if missing or absent);
    ``subjects`` the valid row positions of each subject in visit order and
    ``blocks`` their marginal covariance matrices (only when built with
    ``with_covariance``).
    """

    x: Array
    valid: NDArray[np.bool_]
    y: Array
    subjects: tuple[IntArray, ...] = ()
    blocks: tuple[Array, ...] = ()


def _design_matrix(data: ModelData, newdata: pd.DataFrame) -> tuple[Array, NDArray[np.bool_]]:
    """Fixed-effects design for ``newdata`` with the fit's encoding (estimable columns)."""
    spec = data.spec
    _, rhs = _parse_formula(spec.formula)
    require_columns(newdata, rhs, what="newdata")
    frame = newdata[rhs].copy()
    valid = frame.notna().all(axis=1).to_numpy()
    for v in rhs:
        if v in spec.levels:
            known = set(spec.levels[v])
            as_str = frame[v].astype(str).where(frame[v].notna())
            unknown = sorted({s for s in as_str.dropna().unique() if s not in known})
            if unknown:
                raise DataValidationError(
                    f"newdata column {v!r} has level(s) not seen in the fit: "
                    f"{show_values(unknown)}; known levels: {show_values(spec.levels[v])}"
                )
            frame[v] = _as_categorical(frame[v], spec.levels[v])
        elif not pd.api.types.is_numeric_dtype(frame[v]):
            raise DataValidationError(f"newdata column {v!r} must be numeric as in the fit")
    if not valid.any():
        return np.full((len(frame), data.rank), np.nan), valid
    filled = frame.copy()
    # formulaic cannot encode missing values; fill them with a valid row, masked below.
    first = filled.iloc[int(np.flatnonzero(valid)[0])]
    for v in rhs:
        filled[v] = filled[v].where(valid, first[v])
    mm = data.model_spec.get_model_matrix(filled)
    x_full = np.asarray(mm, dtype=np.float64)
    if x_full.shape != (len(frame), len(data.kept)):  # pragma: no cover - formulaic contract
        raise DataValidationError("newdata could not be encoded like the fitted data")
    x = x_full[:, data.kept]
    x[~valid] = np.nan
    return x, valid


def _codes(values: pd.Series, levels: tuple[str, ...], name: str) -> IntArray:
    codes = pd.Categorical(values.astype(str), categories=list(levels)).codes.astype(np.intp)
    if (codes < 0).any():
        bad = values[codes < 0].astype(str).unique()
        raise DataValidationError(
            f"newdata column {name!r} has level(s) not seen in the fit: {show_values(bad)}"
        )
    return codes


def new_rows(
    result: MMRMResult, newdata: pd.DataFrame, *, with_covariance: bool = False
) -> NewRows:
    """Encode ``newdata`` like the fitted data (and, optionally, per-subject covariances).

    The covariance of subject ``i``'s rows is ``W^-1/2 Sigma_i W^-1/2`` with
    ``Sigma_i`` the fitted visit covariance of its group at its visits (or at
    its coordinates for spatial structures) and ``W`` its weights if the
    weights column is in ``newdata`` (otherwise weights 1).
    """
    data = result.data
    spec = data.spec
    if not isinstance(newdata, pd.DataFrame):
        raise DataValidationError(f"newdata must be a pandas DataFrame; got {type(newdata)}")
    x, valid = _design_matrix(data, newdata)
    y = np.full(len(newdata), np.nan)
    if data.outcome in newdata:
        y = pd.to_numeric(newdata[data.outcome], errors="coerce").to_numpy(dtype=np.float64)
    if not with_covariance:
        return NewRows(x=x, valid=valid, y=y)

    cm = data.cov_model
    need = [spec.subject, spec.visit, *([spec.group] if spec.group else []), *spec.coordinates]
    require_columns(newdata, need, what="newdata")
    valid = valid & newdata[need].notna().all(axis=1).to_numpy()
    weight = np.ones(len(newdata))
    if spec.weights is not None and spec.weights in newdata:
        w = pd.to_numeric(newdata[spec.weights], errors="coerce").to_numpy(dtype=np.float64)
        valid &= np.isfinite(w)
        if (w[valid] <= 0).any():
            raise DataValidationError(f"weights column {spec.weights!r} must be positive numbers")
        weight = np.where(valid, w, 1.0)
    x = np.where(valid[:, None], x, np.nan)
    if not valid.any():
        return NewRows(x=x, valid=valid, y=y)
    sub = newdata.iloc[np.flatnonzero(valid)]
    require_unique(sub, [spec.subject, spec.visit], what="newdata")
    pos = np.flatnonzero(valid)
    visit_code = _codes(sub[spec.visit], data.visits, spec.visit)
    group_code = np.zeros(pos.size, dtype=np.intp)
    if spec.group is not None:
        group_code = _codes(sub[spec.group], data.group_levels, spec.group)
    coords = sub[list(spec.coordinates)].to_numpy(dtype=np.float64) if spec.coordinates else None
    subj = pd.Categorical(sub[spec.subject].astype(str)).codes.astype(np.intp)
    order = np.lexsort((visit_code, subj))
    kg = cm.k_group
    full: dict[int, Array] = {}
    subjects: list[IntArray] = []
    blocks: list[Array] = []
    bounds = np.searchsorted(subj[order], np.arange(int(subj.max()) + 2))
    for i in range(len(bounds) - 1):
        idx = order[bounds[i] : bounds[i + 1]]
        if idx.size == 0:
            continue
        groups = np.unique(group_code[idx])
        if groups.size > 1:
            raise DataValidationError(
                f"group column {spec.group!r} must be constant within subject; it varies for "
                f"{show_values(sub[spec.subject].iloc[idx[:1]].astype(str))}"
            )
        g = int(groups[0])
        theta_g = result.theta[g * kg : (g + 1) * kg]
        if coords is not None:
            crd = coords[idx]
            dist = np.sqrt(((crd[:, None, :] - crd[None, :, :]) ** 2).sum(-1))
            s = cm.structure.blocks(theta_g, idx.size, dist[None])[0][0]
        else:
            if g not in full:
                full[g] = cm.structure.blocks(theta_g, cm.m, None)[0][0]
            vc = visit_code[idx]
            s = full[g][np.ix_(vc, vc)]
        rows = pos[idx]
        scale = 1.0 / np.sqrt(weight[rows])
        subjects.append(rows)
        blocks.append(s * np.outer(scale, scale))
    return NewRows(x=x, valid=valid, y=y, subjects=tuple(subjects), blocks=tuple(blocks))


def _row_df(result: MMRMResult, lmat: Array) -> Array:
    """Degrees of freedom of each row ``l' b`` under the fit's df method.

    For ``between-within`` SAS gives predicted values the residual df
    (``n - rank(X)``; sas_resid_un.txt: 526 = 537 - 11 for every row), which we
    follow; other methods use their own df of the contrast.
    """
    out = np.full(lmat.shape[0], np.nan)
    ok = np.all(np.isfinite(lmat), axis=1)
    if result.df_method == "between-within":
        out[ok] = float(result.n_obs - result.data.rank)
        return out
    if not ok.any():
        return out
    uniq, inverse = np.unique(lmat[ok], axis=0, return_inverse=True)
    dfs = np.array([result._df.df_1d(row) for row in uniq])
    out[ok] = dfs[np.ravel(inverse)]
    return out


def predict(
    result: MMRMResult,
    newdata: pd.DataFrame | None = None,
    *,
    conditional: bool = False,
    interval: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Predictions for ``newdata`` (see :meth:`MMRMResult.predict`)."""
    if interval is not None:
        OneOf("interval", INTERVALS)(interval)
    level = Interval("level", 0.0, 1.0, False, False)(level)
    if not isinstance(conditional, bool):
        raise DataValidationError(f"conditional must be True or False; got {conditional!r}")
    frame = result.data.frame if newdata is None else newdata
    need_cov = conditional or interval == "prediction"
    rows = new_rows(result, frame, with_covariance=need_cov)
    beta = result._info.beta
    vcov = result._df.vcov
    lmat = rows.x.copy()  # the contrast whose df and confidence variance apply
    fit = rows.x @ beta
    pred_var = np.full(fit.size, np.nan)
    fixed = np.zeros(fit.size, dtype=bool)  # observed rows in conditional mode
    for idx, s in zip(rows.subjects, rows.blocks, strict=True):
        pred_var[idx] = np.diag(s)
        if not conditional:
            continue
        obs = np.isfinite(rows.y[idx])
        if not obs.any() or obs.all():
            fixed[idx[obs]] = True
            continue
        o, m = idx[obs], idx[~obs]
        s_oo = s[np.ix_(obs, obs)]
        s_mo = s[np.ix_(~obs, obs)]
        k = np.linalg.solve(s_oo, s_mo.T).T  # S_mo S_oo^-1
        fit[m] = rows.x[m] @ beta + k @ (rows.y[o] - rows.x[o] @ beta)
        lmat[m] = rows.x[m] - k @ rows.x[o]
        pred_var[m] = np.diag(s[np.ix_(~obs, ~obs)] - k @ s_mo.T)
        fixed[o] = True
    conf_var = np.einsum("ip,pq,iq->i", lmat, vcov, lmat)
    if conditional:
        fit[fixed] = rows.y[fixed]
        conf_var[fixed] = 0.0
        pred_var[fixed] = 0.0
    var = conf_var + pred_var if interval == "prediction" else conf_var
    out = pd.DataFrame({"fit": fit, "std_error": np.sqrt(var)}, index=frame.index)
    if interval is not None:
        df = _row_df(result, np.where(fixed[:, None], np.nan, lmat))
        q = stats.t.ppf(0.5 + level / 2.0, np.where(np.isfinite(df), df, np.inf))
        q = np.where(fixed, 0.0, q)
        out["df"] = df
        out["lower"] = fit - q * out["std_error"].to_numpy()
        out["upper"] = fit + q * out["std_error"].to_numpy()
    return out
