r"""Sensitivity of the indirect effect to unmeasured mediator-outcome confounding.

Imai, Keele & Yamamoto (2010, Statistical Science 25:51-71) for linear mediator
and outcome models without treatment-mediator interaction: sequential
ignorability fails when the errors of the mediator model
``M = α2 + β2 A + ξ2'C + ε2`` and of the outcome model
``Y = α3 + β3 A + γ M + ξ3'C + ε3`` are correlated, ``ρ = corr(ε2, ε3) ≠ 0`` (an
unmeasured common cause of mediator and outcome). ``ρ`` is not identified by the
data; the indirect effect (ACME, here NIE) is, given ``ρ``.

Closed form (our derivation, equivalent to IKY's): write ``a`` (= β2) and ``b``
for the OLS paths, ``σ_M`` and ``σ_Y`` for the maximum-likelihood residual SDs of
the fitted mediator and outcome models (``Y ~ A + M + C``). If ``ρ`` is the true
error correlation, the outcome regression's ``b`` absorbs the confounding,
``b = γ + ρ σ3 / σ2``, and ``σ_Y² = σ3²(1 − ρ²)``, so

``NIE(ρ) = a · (b − ρ / √(1 − ρ²) · σ_Y / σ_M)``,

which at ``ρ = 0`` is ``a·b`` and is zero at ``ρ* = (b r) / √(1 + (b r)²)`` with
``r = σ_M / σ_Y``; ``ρ*`` is the correlation of the residuals of ``Y ~ A + C`` and
``M ~ A + C`` (IKY's ``ρ̃``). IKY write the same curve as
``β2 σ1/σ2 (ρ̃ − ρ √((1 − ρ̃²)/(1 − ρ²)))`` with ``σ1`` the residual SD of ``Y ~ A + C``.

Interval at each ``ρ``: delta method on the reduced-form estimates ``(a, b, σ_Y/σ_M)``,
which are asymptotically independent under normal errors (for any ``ρ``, since
``ρ`` does not change their sampling distribution), with
``Var(log(σ_Y / σ_M)) ≈ 1/(2n) + 1/(2n)``:

``Var NIE(ρ) ≈ (b − k s)² SE(a)² + a² SE(b)² + a² k² s² / n``, ``k = ρ/√(1 − ρ²)``,
``s = σ_Y / σ_M``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from resolve.analysis.mediation.regression import fit_single
>>> rng = np.random.default_rng(2)
>>> df = pd.DataFrame({"arm": np.repeat([0, 1], 150)})
>>> df["m"] = 0.5 * df.arm + rng.normal(size=300)
>>> df["y"] = 0.3 * df.arm + 0.4 * df.m + rng.normal(size=300)
>>> fit = fit_single(df, treatment="arm", outcome="y", mediator="m")
>>> curve = rho_curve(fit)
>>> bool(np.isclose(curve.loc[curve.rho == 0.0, "nie"].item(), fit.nie))
True
>>> th = rho_thresholds(fit)
>>> bool(0.0 <= th.ci_zero < th.nie_zero)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import optimize, stats

from resolve._validation import Interval
from resolve.analysis.mediation.regression import SingleMediation
from resolve.errors import DataValidationError

__all__ = ["RhoThresholds", "rho_curve", "rho_nie", "rho_thresholds"]

FloatArray = npt.NDArray[np.float64]

_CONF = Interval("conf_level", 0.0, 1.0, low_inclusive=False, high_inclusive=False)
_RHO = Interval("rho", -1.0, 1.0, low_inclusive=False, high_inclusive=False)
#: Default grid of ρ values.
DEFAULT_RHOS: FloatArray = np.round(np.linspace(-0.9, 0.9, 181), 10)


@dataclass(frozen=True)
class RhoThresholds:
    """Where the indirect effect, and where its confidence interval, reach zero.

    Attributes
    ----------
    nie_zero : float
        The error correlation ``ρ*`` at which NIE = 0.
    ci_zero : float
        The ``ρ`` nearest 0 (between 0 and ``ρ*``) at which the interval first
        includes 0; 0.0 when it already does at ``ρ = 0``.
    conf_level : float
    """

    nie_zero: float
    ci_zero: float
    conf_level: float


def _check(fit: SingleMediation) -> tuple[float, float, float, float, float, int]:
    if not isinstance(fit, SingleMediation):
        raise DataValidationError(
            f"fit must be a SingleMediation (from fit_single); got {type(fit).__name__}"
        )
    if fit.mediator_type != "continuous" or fit.interaction:
        raise DataValidationError(
            f"mediator {fit.mediator!r}: the rho sensitivity analysis needs a continuous "
            "mediator and no treatment-mediator interaction (linear models)"
        )
    se = fit.paths.set_index("path")["std_error"]
    s = fit.sigma_outcome / fit.sigma_mediator
    return fit.path("a"), fit.path("b"), float(se["a"]), float(se["b"]), s, fit.n


def rho_nie(fit: SingleMediation, rho: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """NIE and its delta-method standard error at each error correlation ``rho``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from resolve.analysis.mediation.regression import fit_single
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"t": np.repeat([0, 1], 50)})
    >>> df["m"] = df.t + rng.normal(size=100)
    >>> df["y"] = df.m + rng.normal(size=100)
    >>> nie, se = rho_nie(fit_single(df, treatment="t", outcome="y", mediator="m"), [0.0, 0.5])
    >>> bool(nie[1] < nie[0])
    True
    """
    a, b, se_a, se_b, s, n = _check(fit)
    r = np.atleast_1d(np.asarray(rho, dtype=np.float64))
    for v in r:
        _RHO(float(v))
    k = r / np.sqrt(1.0 - r**2)
    gamma = b - k * s
    nie = a * gamma
    var = gamma**2 * se_a**2 + a**2 * se_b**2 + a**2 * k**2 * s**2 / n
    return nie, np.sqrt(var)


def rho_curve(
    fit: SingleMediation,
    *,
    rhos: npt.ArrayLike | None = None,
    conf_level: float | None = None,
) -> pd.DataFrame:
    """Imai-Keele-Yamamoto sensitivity curve: NIE as a function of the error correlation ρ.

    Parameters
    ----------
    fit : SingleMediation
        A fit of :func:`~.regression.fit_single` with a continuous mediator and no
        interaction.
    rhos : array of float in (-1, 1), optional
        Values of ρ; default −0.9 to 0.9 by 0.01.
    conf_level : float in (0, 1), optional
        Level of the pointwise Wald intervals; default ``fit.conf_level``.

    Returns
    -------
    DataFrame
        Columns ``outcome, mediator, rho, nie, conf_low, conf_high`` (see
        :data:`~.result.SENSITIVITY_COLUMNS`). :func:`rho_thresholds` gives where
        NIE and its interval reach 0.

    Raises
    ------
    DataValidationError
        A binary mediator, an interaction, or ``rho`` outside (-1, 1).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from resolve.analysis.mediation.regression import fit_single
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"t": np.repeat([0, 1], 50)})
    >>> df["m"] = df.t + rng.normal(size=100)
    >>> df["y"] = df.m + rng.normal(size=100)
    >>> rho_curve(fit_single(df, treatment="t", outcome="y", mediator="m"), rhos=[0, .3]).shape
    (2, 6)
    """
    level = fit.conf_level if conf_level is None else _CONF(conf_level)
    grid = DEFAULT_RHOS if rhos is None else np.asarray(rhos, dtype=np.float64).ravel()
    nie, se = rho_nie(fit, grid)
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    return pd.DataFrame(
        {
            "outcome": fit.outcome,
            "mediator": fit.mediator,
            "rho": grid,
            "nie": nie,
            "conf_low": nie - z * se,
            "conf_high": nie + z * se,
        }
    )


def rho_thresholds(fit: SingleMediation, conf_level: float | None = None) -> RhoThresholds:
    """The ρ at which NIE is 0 and the ρ at which its confidence interval first includes 0.

    Parameters
    ----------
    fit : SingleMediation
        As for :func:`rho_curve`.
    conf_level : float in (0, 1), optional
        Default ``fit.conf_level``.

    Returns
    -------
    RhoThresholds
        ``nie_zero`` in closed form; ``ci_zero`` by root finding on the interval
        limit nearer 0, between 0 and ``nie_zero``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from resolve.analysis.mediation.regression import fit_single
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"t": np.repeat([0, 1], 100)})
    >>> df["m"] = df.t + rng.normal(size=200)
    >>> df["y"] = df.m + rng.normal(size=200)
    >>> th = rho_thresholds(fit_single(df, treatment="t", outcome="y", mediator="m"))
    >>> bool(0 < th.ci_zero < th.nie_zero < 1)
    True
    """
    level = fit.conf_level if conf_level is None else _CONF(conf_level)
    _a, b, _sa, _sb, s, _n = _check(fit)
    t = b / s
    nie_zero = float(t / np.sqrt(1.0 + t**2))
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    nie0 = float(rho_nie(fit, 0.0)[0][0])
    sign = 1.0 if nie0 >= 0 else -1.0

    def near_limit(r: float) -> float:
        nie, se = rho_nie(fit, r)
        return float(sign * nie[0] - z * se[0])  # > 0 while the interval excludes 0

    if near_limit(0.0) <= 0.0 or nie_zero == 0.0:
        return RhoThresholds(nie_zero=nie_zero, ci_zero=0.0, conf_level=level)
    grid = np.linspace(0.0, nie_zero, 2001)
    nie, se = rho_nie(fit, grid)
    values = sign * nie - z * se
    first = int(np.flatnonzero(values <= 0.0)[0])
    root = optimize.brentq(near_limit, float(grid[first - 1]), float(grid[first]), xtol=1e-12)
    return RhoThresholds(nie_zero=nie_zero, ci_zero=float(root), conf_level=level)
