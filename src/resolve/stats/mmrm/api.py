"""The public entry point :func:`mmrm`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from resolve._validation import Interval
from resolve.errors import DataValidationError
from resolve.stats._blas import limit_blas_threads
from resolve.stats.mmrm.covariance import get_structure
from resolve.stats.mmrm.design import build_design
from resolve.stats.mmrm.fit import FitControl, fit_model
from resolve.stats.mmrm.result import MMRMResult
from resolve.stats.mmrm.spec import MMRMSpec

__all__ = ["make_spec", "mmrm"]


def make_spec(
    formula: str,
    *,
    subject: str,
    visit: str,
    cov: str = "us",
    group: str | None = None,
    method: str = "reml",
    df: str = "satterthwaite",
    weights: str | None = None,
    coordinates: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    visit_order: Sequence[str] | None = None,
    convention: str = "sas",
) -> MMRMSpec:
    """Validate the scalar options of a fit and return its frozen :class:`MMRMSpec`."""
    if coordinates is None:
        coords: tuple[str, ...] = ()
    elif isinstance(coordinates, str):
        coords = (coordinates,)
    else:
        coords = tuple(coordinates)
    level = Interval("conf_level", 0.0, 1.0, False, False)(conf_level)
    for name, value in (("subject", subject), ("visit", visit)):
        if not isinstance(value, str):
            raise DataValidationError(f"{name} must be a column name; got {value!r}")
    order: tuple[str, ...] | None = None
    if visit_order is not None:
        if isinstance(visit_order, str) or not isinstance(visit_order, Sequence):
            raise DataValidationError(
                f"visit_order must be a list of visit labels; got {visit_order!r}"
            )
        order = tuple(str(v) for v in visit_order)
        if not order:
            raise DataValidationError("visit_order must list the visit labels; got an empty list")
    spec = MMRMSpec(
        formula=formula,
        subject=subject,
        visit=visit,
        cov=cov,
        group=group,
        method=method,
        df=df,
        weights=weights,
        coordinates=coords,
        conf_level=level,
        visit_order=order,
        convention=convention,
    )
    if not get_structure(spec.cov).spatial and coords:
        raise DataValidationError(
            "coordinates are only used with the spatial structures 'sp_exp', 'sp_pow', 'sp_gau'"
        )
    return spec


def mmrm(
    formula: str,
    data: pd.DataFrame,
    *,
    subject: str,
    visit: str,
    cov: str = "us",
    group: str | None = None,
    method: str = "reml",
    df: str = "satterthwaite",
    weights: str | None = None,
    coordinates: str | Sequence[str] | None = None,
    conf_level: float = 0.95,
    visit_order: Sequence[str] | None = None,
    control: FitControl | None = None,
    convention: str = "sas",
) -> MMRMResult:
    """Fit a mixed model for repeated measures (marginal model, structured covariance).

    The model is ``y_i = X_i b + e_i`` with ``e_i ~ N(0, S_i)`` independent over
    subjects, ``S_i`` the rows and columns of the visit covariance matrix for the
    visits subject ``i`` has (missing outcomes dropped), as SAS PROC MIXED with
    ``REPEATED visit / SUBJECT=subject TYPE=...`` and R ``mmrm::mmrm``.

    Parameters
    ----------
    formula : str
        ``"outcome ~ terms"`` in R/formulaic syntax, e.g.
        ``"FEV1 ~ RACE + SEX + ARMCD * AVISIT"``.  Categorical variables use
        treatment coding with the first level as reference; levels are the
        categories of a pandas Categorical (in their order), otherwise the
        unique values sorted as R's ``factor()`` sorts them in an
        ``en_US.UTF-8`` locale (case-insensitive first: ``alpha < Beta``;
        ``VIS10 < VIS2``; numbers numerically), see
        :func:`resolve._levels.r_sort_levels`.  ``fit.factor_levels`` records
        the levels used (the first is the reference).
    data : pandas.DataFrame
        Long format, one row per subject and visit.
    subject, visit : str
        Columns identifying subjects and visits.  The visit order (which the
        covariance structures ``ar1``, ``toep``, ``ad``, ... treat as time order,
        and which also codes ``visit`` when it is in the formula) is
        ``visit_order`` if given, else the categories of a pandas Categorical,
        else the natural order of the labels (``week 6 < week 10 < week 26``,
        see :func:`resolve._levels.natural_sort_levels`); ``fit.visit_levels``
        and ``fit.visit_order_source`` record it.
    cov : str
        ``"us"`` (unstructured), ``"cs"``, ``"csh"``, ``"ar1"``, ``"ar1h"``, ``"toep"``,
        ``"toeph"``, ``"ad"``, ``"adh"`` (SAS ANTE(1)), ``"sp_exp"`` (spatial
        exponential on ``coordinates``), ``"sp_pow"`` (the same model reported as
        SAS ``SP(POW)``), ``"sp_gau"`` (spatial Gaussian, SAS
        ``SP(GAU)``) or ``"ri"`` (random intercept, lme4 ``(1 | subject)``).
    group : str, optional
        Column with a separate covariance matrix per level (SAS ``GROUP=``);
        must be constant within subject.
    method : {"reml", "ml"}
    df : str
        ``"satterthwaite"`` (default), ``"residual"``, ``"between-within"``,
        ``"kenward-roger"`` (SAS ``DDFM=KR``: adjusted covariance of the fixed
        effects and KR df/F scaling), ``"kenward-roger-linear"`` (SAS
        ``DDFM=KR(LINEAR)``) or ``"empirical"`` (SAS ``EMPIRICAL`` sandwich
        covariance with SAS's between-within df); see
        :mod:`resolve.stats.mmrm.kenward_roger` and :mod:`resolve.stats.mmrm.empirical`.
    weights : str, optional
        Column of positive weights; ``S_i = W^-1/2 Sigma W^-1/2`` (SAS ``WEIGHT``).
    coordinates : str or list of str, optional
        Numeric coordinate column(s) for ``sp_exp``, ``sp_pow`` and ``sp_gau`` (Euclidean
        distance).
    conf_level : float in (0, 1)
    visit_order : sequence of str, optional
        The visit labels in time order; must list every label of the visit
        column and nothing else.
    control : FitControl, optional
        Optimiser settings.
    convention : {"sas", "mmrm"}
        Where SAS PROC MIXED and R mmrm differ, which to reproduce (default SAS):
        ``kenward-roger``'s second-order term (SAS evaluates it in its own
        covariance parameters, R mmrm in the unconstrained ones, which this
        package shares with R mmrm), and the intercept's df under
        ``between-within`` and ``empirical`` (SAS: between-subject; R mmrm:
        within-subject). Other methods do not depend on it. See docs/mmrm.md,
        "Parity with SAS and R mmrm".

    Returns
    -------
    MMRMResult
        ``to_frame()`` has columns ``term, estimate, std_error, df, statistic,
        p_value, conf_low, conf_high``.

    Notes
    -----
    Rows with a missing outcome, covariate, weight or coordinate are dropped;
    a subject contributes the visits it has.  Aliased columns of the design are
    dropped (R's rule) and reported in ``aliased``; their estimates are NaN.
    The fit raises :class:`~resolve.errors.ConvergenceError` rather than return
    a non-converged model.

    Examples
    --------
    >>> import pandas as pd
    >>> from resolve.stats import mmrm
    >>> fev = pd.read_csv("tests/reference/sas/fev_data.csv")  # doctest: +SKIP
    >>> fit = mmrm("FEV1 ~ RACE + SEX + ARMCD * AVISIT", fev,
    ...            subject="USUBJID", visit="AVISIT", cov="us")  # doctest: +SKIP
    >>> round(fit.loglik, 4)  # doctest: +SKIP
    -1693.2249
    """
    spec = make_spec(
        formula,
        subject=subject,
        visit=visit,
        cov=cov,
        group=group,
        method=method,
        df=df,
        weights=weights,
        coordinates=coordinates,
        conf_level=conf_level,
        visit_order=visit_order,
        convention=convention,
    )
    level = spec.conf_level
    with limit_blas_threads(1):
        model_data = build_design(spec, data)
        theta, evaluation, report, _ = fit_model(model_data, method == "reml", control)
    result = MMRMResult(
        data=model_data,
        theta=theta,
        evaluation=evaluation,
        convergence=report,
        conf_level=level,
    )
    if df not in ("satterthwaite", "residual", "between-within"):
        result.to_frame()  # fail early if the df method is not registered
    return result
