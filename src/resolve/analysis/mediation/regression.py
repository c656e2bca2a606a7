r"""Regression-based natural direct and indirect effects (VanderWeele 2015, ch. 2).

Models, for treatment ``A`` (1 = treated, 0 = reference), mediator(s) ``M_j``,
continuous outcome ``Y`` and baseline covariates ``C``:

* mediator model ``E[M_j | A, C] = g(β_{0j} + β_{1j} A + β_{2j}'C)`` — linear (``g``
  the identity, OLS) for a continuous mediator, logistic (``g = expit``, maximum
  likelihood) for a binary one;
* outcome model ``E[Y | A, M, C] = θ0 + θ1 A + Σ_j θ_{2j} M_j (+ Σ_j θ_{3j} A M_j) + θ4'C``
  (OLS), with the treatment-mediator interaction when ``interaction=True``.

With ``μ_j(a) = g(β_{0j} + β_{1j} a + β_{2j}'c̄)`` (covariates fixed at their sample
means ``c̄``) and ``a0 = 0``, ``a1 = 1``, the natural effects (VanderWeele &
Vansteelandt 2009 for a continuous, 2010 for a binary mediator) are

* ``NDE = θ1 + Σ_j θ_{3j} μ_j(a0)``  (pure natural direct effect: mediators at their
  reference-arm means),
* ``NIE = Σ_j (θ_{2j} + θ_{3j} a1)(μ_j(a1) − μ_j(a0))``  (total natural indirect effect),
* ``TE = NDE + NIE``, ``PM = NIE / TE``.

For one continuous mediator these are the textbook forms
``NDE = θ1 + θ3(β0 + β1 a0 + β2'c̄)`` and ``NIE = (θ2 β1 + θ3 β1 a1)``, and without
interaction ``NIE = a·b`` (``a = β1``, ``b = θ2``), ``NDE = c'`` (``= θ1``) and
``TE`` equals the treatment coefficient of ``Y ~ A + C`` exactly. For a binary
mediator, ``NDE = θ1 + θ3 expit(β0 + β1 a0 + β2'c̄)`` and
``NIE = (θ2 + θ3 a1)(expit(β0 + β1 a1 + β2'c̄) − expit(β0 + β1 a0 + β2'c̄))``: effects
at the covariate means, which (the logistic model being non-linear) are not the
population-averaged effects. Because the outcome model is linear in the mediators
(no mediator-mediator terms), the joint effects of several mediators need only
each mediator's mean, which is why the same formulas serve :func:`point_estimates`
with several mediators entered together.

Delta method (:func:`fit_single`): the gradient of each effect with respect to
``(β, θ, c̄)`` is combined with the block-diagonal covariance
``diag(V_β, V_θ, S_C / n)``: ``V_β = σ̂²_M (X_M'X_M)⁻¹`` (OLS, ``σ̂²`` on ``n − p``
df) or the inverse information (logistic), ``V_θ = σ̂²_Y (X_Y'X_Y)⁻¹``, and ``S_C``
the sample covariance of the covariates — ``c̄`` is itself estimated and is
asymptotically uncorrelated with the coefficients. That last block adds nothing
for a linear model without interaction; with one it makes the delta method
estimate the same quantity as the bootstrap, which recomputes ``c̄`` in every
resample. Intervals are Wald intervals ``est ± z_{1−α/2} SE``.

Missing data: complete cases over the treatment, outcome, mediator(s) and
covariates; the number of rows dropped (and per column, why) is a warning on the
result. Nothing is ever imputed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from resolve._validation import Interval
from resolve.analysis.mediation import _batched
from resolve.analysis.mediation._data import (
    MEDIATOR_TYPES,
    MediatorType,
    ModelData,
    encode_treatment,
    model_data,
)
from resolve.errors import DataValidationError

__all__ = [
    "MEDIATOR_TYPES",
    "EffectDraws",
    "MediatorType",
    "ModelData",
    "SingleMediation",
    "encode_treatment",
    "fit_single",
    "model_data",
    "point_estimates",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_CONF = Interval("conf_level", 0.0, 1.0, low_inclusive=False, high_inclusive=False)


# ---------------------------------------------------------------------------
# vectorised estimation core
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectDraws:
    """Natural effects for a batch of weightings of the same data (see :func:`point_estimates`).

    Every array has the batch (resample) as its first axis; rows where ``ok`` is
    False (a singular design or a logistic fit that did not converge in that
    resample) are NaN.
    """

    nde: FloatArray
    nie: FloatArray
    te: FloatArray
    pm: FloatArray
    a: FloatArray
    """(B, J) treatment coefficient of each mediator model."""
    b: FloatArray
    """(B, J) mediator coefficients of the outcome model."""
    c_prime: FloatArray
    """(B,) treatment coefficient of the outcome model."""
    interaction: FloatArray | None
    """(B, J) treatment x mediator coefficients, or None without interaction."""
    ok: BoolArray


def point_estimates(
    treatment: npt.ArrayLike,
    mediators: npt.ArrayLike,
    outcome: npt.ArrayLike,
    covariates: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    *,
    interaction: bool = False,
    mediator_types: MediatorType | Sequence[MediatorType] = "continuous",
    max_iter: int = 50,
    tol: float = 1e-10,
) -> EffectDraws:
    """Natural direct, indirect and total effects for many weightings at once (vectorised).

    The fast core of the bootstrap: for each row ``w_b`` of ``weights`` (frequency
    weights: a resample, a jackknife deletion or all ones) it fits the mediator
    model(s) and the outcome model and evaluates the formulas of the module notes,
    with ``c̄`` the ``w_b``-weighted covariate mean. Several mediators are entered
    *jointly* (one outcome model with all of them; their joint effects).

    Parameters
    ----------
    treatment : (n,) array of 0/1
    mediators : (n,) or (n, J) array
    outcome : (n,) array
    covariates : (n, q) array or None
    weights : (B, n) non-negative array or None
        None means one row of ones (the original sample).
    interaction : bool
        Include treatment x mediator term(s) in the outcome model.
    mediator_types : "continuous", "binary" or one per mediator
    max_iter, tol : Newton iteration cap and relative step tolerance (binary mediators).

    Returns
    -------
    EffectDraws
        ``nde``, ``nie``, ``te``, ``pm`` of shape (B,) and the path coefficients.

    Raises
    ------
    DataValidationError
        Shapes that do not match, non-finite values, a treatment not coded 0/1,
        negative weights.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> a = np.repeat([0.0, 1.0], 50)
    >>> m = 0.5 * a + rng.normal(size=100)
    >>> y = 0.3 * a + 0.4 * m + rng.normal(size=100)
    >>> est = point_estimates(a, m, y)
    >>> bool(np.isclose(est.nie[0], est.a[0, 0] * est.b[0, 0]))
    True
    """
    A = np.asarray(treatment, dtype=np.float64)
    M = np.asarray(mediators, dtype=np.float64)
    Y = np.asarray(outcome, dtype=np.float64)
    if M.ndim == 1:
        M = M[:, None]
    n = A.shape[0]
    C = (
        np.empty((n, 0))
        if covariates is None
        else np.asarray(covariates, dtype=np.float64).reshape(n, -1)
    )
    W = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        W = W[None, :]
    if A.ndim != 1 or M.shape[0] != n or Y.shape != (n,) or W.shape[1] != n or M.ndim != 2:
        raise DataValidationError(
            f"shapes do not match: treatment {A.shape}, mediators {M.shape}, outcome {Y.shape}, "
            f"covariates {C.shape}, weights {W.shape}"
        )
    for name, arr in [
        ("treatment", A),
        ("mediators", M),
        ("outcome", Y),
        ("covariates", C),
        ("weights", W),
    ]:
        if not np.all(np.isfinite(arr)):
            raise DataValidationError(f"{name} has missing or non-finite values")
    if not np.all(np.isin(A, (0.0, 1.0))):
        raise DataValidationError("treatment must be coded 0 (reference) / 1 (treated)")
    if np.any(W < 0):
        raise DataValidationError("weights must be non-negative")
    types: list[MediatorType] = (
        [mediator_types] * M.shape[1] if isinstance(mediator_types, str) else list(mediator_types)
    )
    if len(types) != M.shape[1] or any(t not in MEDIATOR_TYPES for t in types):
        raise DataValidationError(
            f"mediator_types must be {' or '.join(MEDIATOR_TYPES)} for each of the "
            f"{M.shape[1]} mediator(s); got {mediator_types!r}"
        )
    fits = _batched.fit_models(A, M, Y, C, W, types, interaction, max_iter, tol)
    J = M.shape[1]
    theta = fits.theta
    c_prime = theta[:, 1]
    b = theta[:, 2 : 2 + J]
    inter = theta[:, 2 + J : 2 + 2 * J] if interaction else np.zeros_like(b)
    nde = c_prime + np.sum(inter * fits.mu0, axis=1)
    nie = np.sum((b + inter) * (fits.mu1 - fits.mu0), axis=1)
    te = nde + nie
    with np.errstate(divide="ignore", invalid="ignore"):
        pm = nie / te
    bad = ~fits.ok
    out = [x.copy() for x in (nde, nie, te, pm)]
    for x in out:
        x[bad] = np.nan
    return EffectDraws(
        nde=out[0],
        nie=out[1],
        te=out[2],
        pm=out[3],
        a=np.where(bad[:, None], np.nan, fits.beta[:, :, 1]),
        b=np.where(bad[:, None], np.nan, b),
        c_prime=np.where(bad, np.nan, c_prime),
        interaction=np.where(bad[:, None], np.nan, inter) if interaction else None,
        ok=fits.ok,
    )


# ---------------------------------------------------------------------------
# one mediator, with delta-method inference
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SingleMediation:
    """Natural effects of one mediator on one outcome with delta-method inference.

    Attributes
    ----------
    nde, nie, te, pm : float
        Natural direct, natural indirect and total effects (treated minus
        reference, covariates at their means) and the proportion mediated.
    nde_se, nie_se, te_se, pm_se : float
        Delta-method standard errors.
    paths : DataFrame
        Columns ``path, estimate, std_error, conf_low, conf_high, p_value``; paths
        ``a`` (mediator model, treatment; a log odds ratio for a binary mediator),
        ``b`` (outcome model, mediator), ``c_prime`` (outcome model, treatment; at
        mediator 0 with an interaction) and, with an interaction, ``interaction``.
        Linear-model paths have t intervals on the residual df, logistic ones z.
    n, n_dropped : int
        Complete cases used and rows dropped for missing values.
    rows : ndarray of int
        Positions (0-based) in ``data`` of the complete cases.
    sigma_mediator, sigma_outcome : float
        Maximum-likelihood residual SDs (divisor ``n``) of the mediator and
        outcome models (NaN for a binary mediator), for the sensitivity analysis.
    covariate_means : dict
        ``c̄``, the covariate values the effects are evaluated at.
    warnings : tuple of str
    """

    treatment: str
    outcome: str
    mediator: str
    covariates: tuple[str, ...]
    reference: object
    interaction: bool
    mediator_type: MediatorType
    conf_level: float
    nde: float
    nie: float
    te: float
    pm: float
    nde_se: float
    nie_se: float
    te_se: float
    pm_se: float
    paths: pd.DataFrame
    n: int
    n_dropped: int
    rows: IntArray
    sigma_mediator: float
    sigma_outcome: float
    covariate_means: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def path(self, name: str) -> float:
        """The estimate of path ``name`` (``a``, ``b``, ``c_prime``, ``interaction``)."""
        hit = self.paths.loc[self.paths["path"] == name, "estimate"]
        if hit.empty:
            raise DataValidationError(
                f"no path {name!r}; available: {', '.join(self.paths['path'])}"
            )
        return float(hit.iloc[0])

    def effects_frame(self) -> pd.DataFrame:
        """The effects as rows of :data:`~.result.EFFECT_COLUMNS` with ``ci_method = "delta"``."""
        z = float(stats.norm.ppf(0.5 + self.conf_level / 2.0))
        rows = []
        for effect in ("nde", "nie", "te", "pm"):
            est = float(getattr(self, effect))
            se = float(getattr(self, f"{effect}_se"))
            p = float(2.0 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
            rows.append(
                {
                    "outcome": self.outcome,
                    "mediator": self.mediator,
                    "effect": effect,
                    "estimate": est,
                    "std_error": se,
                    "conf_low": est - z * se,
                    "conf_high": est + z * se,
                    "p_value": p,
                    "ci_method": "delta",
                    "n": self.n,
                }
            )
        return pd.DataFrame(rows)

    def paths_frame(self) -> pd.DataFrame:
        """The paths as rows of :data:`~.result.PATH_COLUMNS`."""
        out = self.paths.copy()
        out.insert(0, "mediator", self.mediator)
        out.insert(0, "outcome", self.outcome)
        return out


def _inv_spd(G: FloatArray) -> FloatArray:
    s = 1.0 / np.sqrt(np.diag(G))
    inv: FloatArray = np.linalg.inv(G * s[:, None] * s[None, :]) * s[:, None] * s[None, :]
    return inv


def _path_row(
    name: str, est: float, se: float, df: float | None, level: float
) -> dict[str, object]:
    dist = stats.norm if df is None else stats.t(df)
    q = float(dist.ppf(0.5 + level / 2.0))
    p = float(2.0 * dist.sf(abs(est / se)))
    return {
        "path": name,
        "estimate": est,
        "std_error": se,
        "conf_low": est - q * se,
        "conf_high": est + q * se,
        "p_value": p,
    }


def fit_single(
    data: pd.DataFrame,
    *,
    treatment: str,
    outcome: str,
    mediator: str,
    covariates: Sequence[str] = (),
    interaction: bool = False,
    mediator_type: MediatorType = "continuous",
    reference: object = 0,
    conf_level: float = 0.95,
) -> SingleMediation:
    """Regression-based natural effects of one mediator, with delta-method standard errors.

    Parameters
    ----------
    data : DataFrame
        One row per participant.
    treatment : str
        Two-valued treatment column; ``reference`` is the comparator (coded 0).
    outcome : str
        Continuous outcome column.
    mediator : str
        Mediator column: continuous, or binary coded 0/1 (``mediator_type="binary"``).
    covariates : sequence of str
        Numeric baseline covariates (one-hot categorical ones yourself).
    interaction : bool
        Add the treatment x mediator term to the outcome model.
    mediator_type : {"continuous", "binary"}
        Linear (OLS) or logistic mediator model.
    reference : object
        The reference value of ``treatment`` (default 0).
    conf_level : float in (0, 1)
        Level of the Wald intervals of the paths and effects.

    Returns
    -------
    SingleMediation
        Effects, delta-method standard errors, path table; ``effects_frame()``
        gives tidy rows.

    Raises
    ------
    DataValidationError
        Bad columns or values (see :func:`model_data`), a rank-deficient design,
        or a logistic mediator model that does not converge (separation).

    Notes
    -----
    Formulas and assumptions are in the module notes. Rows with a missing value
    in any model column are dropped (complete cases) and counted in
    ``warnings``. The delta method treats ``c̄`` as estimated (variance
    ``S_C / n``).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> n = 200
    >>> df = pd.DataFrame({"arm": np.repeat([0, 1], n // 2), "age": rng.normal(size=n)})
    >>> df["m"] = 0.5 * df.arm + 0.3 * df.age + rng.normal(size=n)
    >>> df["y"] = 0.3 * df.arm + 0.4 * df.m + 0.2 * df.age + rng.normal(size=n)
    >>> fit = fit_single(df, treatment="arm", outcome="y", mediator="m", covariates=["age"])
    >>> bool(np.isclose(fit.nie, fit.path("a") * fit.path("b")))
    True
    >>> fit.effects_frame()["effect"].tolist()
    ['nde', 'nie', 'te', 'pm']
    """
    level = _CONF(conf_level)
    if not isinstance(interaction, bool):
        raise DataValidationError(f"interaction must be True or False; got {interaction!r}")
    if mediator_type not in MEDIATOR_TYPES:
        raise DataValidationError(
            f"mediator_type must be one of {', '.join(MEDIATOR_TYPES)}; got {mediator_type!r}"
        )
    md = model_data(
        data,
        treatment=treatment,
        outcome=outcome,
        mediators=[mediator],
        covariates=covariates,
        reference=reference,
        mediator_types=[mediator_type],
    )
    A, M, Y, C = md.treatment, md.mediators, md.outcome, md.covariates
    n, q = A.shape[0], C.shape[1]
    W = np.ones((1, n))
    fits = _batched.fit_models(A, M, Y, C, W, [mediator_type], interaction, 100, 1e-10)
    if not fits.ok[0]:
        model = (
            f"logistic model of binary mediator {mediator!r} did not converge (separation?)"
            if mediator_type == "binary" and not np.isfinite(fits.beta).all()
            else "a model design is rank deficient: a covariate is collinear with the "
            f"treatment, the mediator or other covariates ({', '.join(covariates) or 'none'})"
        )
        raise DataValidationError(f"outcome {outcome!r}, mediator {mediator!r}: {model}")
    beta, theta = fits.beta[0, 0], fits.theta[0]
    X_m, X_y = fits.X_m, fits.X_y
    p_m, p_y = X_m.shape[1], X_y.shape[1]
    rss_y = float(np.sum((Y - X_y @ theta) ** 2))
    V_theta = rss_y / (n - p_y) * _inv_spd(fits.gram_y[0])
    if mediator_type == "continuous":
        rss_m = float(np.sum((M[:, 0] - X_m @ beta) ** 2))
        V_beta = rss_m / (n - p_m) * _inv_spd(fits.gram_m[0][0])
        sigma_m, df_m = float(np.sqrt(rss_m / n)), float(n - p_m)
        d0 = d1 = 1.0
    else:
        V_beta = _inv_spd(fits.gram_m[0][0])
        sigma_m, df_m = float("nan"), None
        p0, p1 = float(fits.mu0[0, 0]), float(fits.mu1[0, 0])
        d0, d1 = p0 * (1.0 - p0), p1 * (1.0 - p1)
    V_c = np.cov(C, rowvar=False, ddof=1).reshape(q, q) / n if q else np.empty((0, 0))
    V = np.zeros((p_m + p_y + q, p_m + p_y + q))
    V[:p_m, :p_m] = V_beta
    V[p_m : p_m + p_y, p_m : p_m + p_y] = V_theta
    V[p_m + p_y :, p_m + p_y :] = V_c

    th1, th2 = theta[1], theta[2]
    th3 = theta[3] if interaction else 0.0
    mu0, mu1 = float(fits.mu0[0, 0]), float(fits.mu1[0, 0])
    x0 = np.zeros(p_m)
    x0[0] = 1.0
    x1 = x0.copy()
    x1[1] = 1.0
    g_nde = np.zeros_like(V[0])
    g_nie = np.zeros_like(V[0])
    g_nde[:p_m] = th3 * d0 * x0
    g_nde[p_m + 1] = 1.0
    g_nde[p_m + p_y :] = th3 * d0 * beta[2:]
    g_nie[:p_m] = (th2 + th3) * (d1 * x1 - d0 * x0)
    g_nie[p_m + 2] = mu1 - mu0
    g_nie[p_m + p_y :] = (th2 + th3) * (d1 - d0) * beta[2:]
    if interaction:
        g_nde[p_m + 3] = mu0
        g_nie[p_m + 3] = mu1 - mu0
    nde = th1 + th3 * mu0
    nie = (th2 + th3) * (mu1 - mu0)
    te = nde + nie
    g_te = g_nde + g_nie
    g_pm = (g_nie * te - nie * g_te) / te**2

    def se(g: FloatArray) -> float:
        return float(np.sqrt(g @ V @ g))

    df_y = float(n - p_y)
    theta_se = np.sqrt(np.diag(V_theta))
    path_rows = [
        _path_row("a", float(beta[1]), float(np.sqrt(V_beta[1, 1])), df_m, level),
        _path_row("b", float(th2), float(theta_se[2]), df_y, level),
        _path_row("c_prime", float(th1), float(theta_se[1]), df_y, level),
    ]
    if interaction:
        path_rows.append(_path_row("interaction", float(th3), float(theta_se[3]), df_y, level))
    return SingleMediation(
        treatment=treatment,
        outcome=outcome,
        mediator=mediator,
        covariates=tuple(covariates),
        reference=reference,
        interaction=interaction,
        mediator_type=mediator_type,
        conf_level=level,
        nde=float(nde),
        nie=float(nie),
        te=float(te),
        pm=float(nie / te),
        nde_se=se(g_nde),
        nie_se=se(g_nie),
        te_se=se(g_te),
        pm_se=se(g_pm),
        paths=pd.DataFrame(path_rows),
        n=n,
        n_dropped=md.n_dropped,
        rows=md.rows,
        sigma_mediator=sigma_m,
        sigma_outcome=float(np.sqrt(rss_y / n)),
        covariate_means={c: float(v) for c, v in zip(covariates, C.mean(axis=0), strict=True)},
        warnings=md.warnings,
    )
