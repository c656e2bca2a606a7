"""Degrees of freedom and Wald tests for linear combinations of fixed effects.

A df method is an object with ``vcov`` (the covariance of the estimable
coefficients it uses), ``df_1d(c)`` and ``df_md(L)``; methods are registered by
name in :data:`DF_REGISTRY` so that Kenward-Roger or empirical (sandwich)
methods can live in their own modules and add themselves with
:func:`register_df`.  Implemented here:

``satterthwaite``
    As SAS ``DDFM=SATTERTHWAITE`` and R mmrm: ``df = 2 (c'Vc)^2 / (g' W g)``
    with ``g_k = c' (dV/dtheta_k) c`` and ``W`` the inverse observed information
    of the variance parameters.  Multi-row contrasts use mmrm's eigen
    decomposition of ``L V L'`` and combine the per-component df.
``residual``
    ``n_obs - rank(X)``.
``between-within``
    As SAS ``DDFM=BETWITHIN`` / mmrm: a coefficient is *between* subjects when its
    column is constant within each subject; df is the minimum over involved
    coefficients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import special

from resolve.errors import UnknownNameError

__all__ = [
    "DF_REGISTRY",
    "DfMethod",
    "FitInfo",
    "make_df_method",
    "register_df",
    "test_1d",
    "test_md",
]

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FitInfo:
    """What df methods may use from a fit (estimable coefficients only)."""

    beta: Array
    vcov: Array
    theta_vcov: Array | None
    jacobian: Array | None
    n_obs: int
    n_subjects: int
    x: Array
    subject_of_obs: NDArray[np.intp]
    has_intercept: NDArray[np.bool_]
    # For methods that need the model itself (Kenward-Roger, empirical):
    # the design (``ModelData``), the variance parameters and the criterion.
    model: Any = None
    theta: Array | None = None
    reml: bool = True
    #: "sas" or "mmrm" (:data:`resolve.stats.mmrm.spec.CONVENTIONS`)
    convention: str = "sas"


class DfMethod(Protocol):
    """Interface of a degrees-of-freedom method."""

    name: str
    vcov: Array

    def df_1d(self, c: Array) -> float:
        """Denominator df for one contrast row ``c``."""
        ...

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        """Numerator df, denominator df and F statistic for contrast rows ``lmat``."""
        ...


def _f_stat(beta: Array, vcov: Array, lmat: Array) -> tuple[int, float]:
    lv = lmat @ vcov @ lmat.T
    w, v = np.linalg.eigh(lv)
    tol = max(np.sqrt(np.finfo(float).eps) * float(w.max()), 0.0)
    keep = w > tol
    proj = v[:, keep].T @ lmat
    t2 = (proj @ beta) ** 2 / w[keep]
    rank = int(keep.sum())
    return rank, float(t2.sum() / rank)


class Satterthwaite:
    """Satterthwaite df from the Jacobian of ``cov(b)`` (see module docstring)."""

    name = "satterthwaite"

    def __init__(self, info: FitInfo) -> None:
        if info.theta_vcov is None or info.jacobian is None:  # pragma: no cover
            raise ValueError("Satterthwaite df needs theta_vcov and the Jacobian")
        self.info = info
        self.vcov = info.vcov
        self.theta_vcov = info.theta_vcov
        self.jacobian = info.jacobian

    def df_1d(self, c: Array) -> float:
        var = float(c @ self.vcov @ c)
        grad = np.einsum("p,kpq,q->k", c, self.jacobian, c)
        denom = float(grad @ self.theta_vcov @ grad)
        return 2.0 * var * var / denom if denom > 0 else np.inf

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        rank, f = _f_stat(self.info.beta, self.vcov, lmat)
        lv = lmat @ self.vcov @ lmat.T
        w, v = np.linalg.eigh(lv)
        order = np.argsort(w)[::-1][:rank]
        comps = v[:, order].T @ lmat
        nus = np.array([self.df_1d(row) for row in comps])
        return rank, _combine_md_df(nus), f


def _combine_md_df(nus: Array) -> float:
    """mmrm's rule (Fai & Cornelius 1996) for combining per-component df."""
    if nus.size == 1:
        return float(nus[0])
    if np.all(np.abs(np.diff(nus)) < np.sqrt(np.finfo(float).eps)):
        return float(nus.mean())
    if np.any(nus <= 2):
        return 2.0
    e = float(np.sum(nus / (nus - 2.0)))
    return 2.0 * e / (e - nus.size)


class Residual:
    """``n_obs - rank(X)`` for every contrast."""

    name = "residual"

    def __init__(self, info: FitInfo) -> None:
        self.info = info
        self.vcov = info.vcov
        self.df = float(info.n_obs - info.x.shape[1])

    def df_1d(self, c: Array) -> float:
        return self.df

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        rank, f = _f_stat(self.info.beta, self.vcov, lmat)
        return rank, self.df, f


class BetweenWithin:
    """SAS ``DDFM=BETWITHIN`` (intercept: between-subject df) or, with the ``mmrm``
    convention, R mmrm's "Between-Within" (intercept: within-subject df)."""

    name = "between-within"

    def __init__(self, info: FitInfo) -> None:
        self.info = info
        self.vcov = info.vcov
        x, subj = info.x, info.subject_of_obs
        n_s = info.n_subjects
        kinds = []
        for j in range(x.shape[1]):
            if info.has_intercept[j]:
                kinds.append("intercept")
                continue
            pairs = np.unique(np.column_stack([x[:, j], subj]), axis=0).shape[0]
            kinds.append("within" if pairs > n_s else "between")
        self.kinds = np.array(kinds)
        n_between = int((self.kinds == "between").sum())
        n_int = int((self.kinds == "intercept").sum())
        n_within = int((self.kinds == "within").sum())
        self.ddf_between = float(n_s - n_between - n_int)
        self.ddf_within = float(info.n_obs - n_s - n_within)
        # the intercept is constant within subjects: SAS gives it the between-subject
        # df (empirical_us.txt: 195 = 197 subjects - 2), R mmrm the within-subject df
        self.intercept_df = self.ddf_within if info.convention == "mmrm" else self.ddf_between

    def _df(self, involved: NDArray[np.bool_]) -> float:
        table = {"between": self.ddf_between, "intercept": self.intercept_df}
        dfs = [table.get(str(k), self.ddf_within) for k in self.kinds[involved]]
        return float(min(dfs)) if dfs else self.ddf_within

    def df_1d(self, c: Array) -> float:
        return self._df(c != 0)

    def df_md(self, lmat: Array) -> tuple[int, float, float]:
        rank, f = _f_stat(self.info.beta, self.vcov, lmat)
        return rank, self._df(np.any(lmat != 0, axis=0)), f


DF_REGISTRY: dict[str, Callable[[FitInfo], DfMethod]] = {
    "satterthwaite": Satterthwaite,
    "residual": Residual,
    "between-within": BetweenWithin,
}


def register_df(name: str, factory: Callable[[FitInfo], DfMethod]) -> None:
    """Register a df method (e.g. ``"kenward-roger"`` from its own module)."""
    DF_REGISTRY[name] = factory


def make_df_method(name: str, info: FitInfo) -> DfMethod:
    """Instantiate the df method called ``name``."""
    if name not in DF_REGISTRY:
        raise UnknownNameError(
            f"df method {name!r} is not implemented yet; "
            f"available: {', '.join(sorted(DF_REGISTRY))}"
        )
    return DF_REGISTRY[name](info)


def test_1d(
    method: DfMethod, beta: Array, c: Array, conf_level: float
) -> tuple[float, float, float, float, float, float, float]:
    """Estimate, SE, df, t, p, lower and upper confidence limit for ``c' b``."""
    est = float(c @ beta)
    se = float(np.sqrt(c @ method.vcov @ c))
    df = method.df_1d(c)
    t = est / se if se > 0 else np.nan
    p = float(2.0 * special.stdtr(df, -abs(t)))
    q = float(special.stdtrit(df, 0.5 + conf_level / 2.0))
    return est, se, df, t, p, est - q * se, est + q * se


def test_md(method: DfMethod, lmat: Array) -> tuple[int, float, float, float]:
    """Numerator df, denominator df, F statistic and p-value for ``L b = 0``."""
    num, den, f = method.df_md(lmat)
    return num, den, f, float(special.fdtrc(num, den, f))
