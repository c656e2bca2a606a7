"""The immutable result of an MMRM fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from resolve._levels import numeric_labels
from resolve._results import Result, jsonable
from resolve.errors import DataValidationError
from resolve.stats.mmrm.design import ModelData
from resolve.stats.mmrm.df import DfMethod, FitInfo, make_df_method, test_1d, test_md
from resolve.stats.mmrm.fit import ConvergenceReport
from resolve.stats.mmrm.likelihood import Evaluation
from resolve.stats.mmrm.lsmeans import lsmeans_matrices
from resolve.stats.mmrm.type3 import type3_contrasts

__all__ = ["COLUMNS", "LSMeansResult", "MMRMResult"]

Array = NDArray[np.float64]
COLUMNS = [
    "term",
    "estimate",
    "std_error",
    "df",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
]
_STRUCT_NAMES = {
    "us": "unstructured",
    "cs": "compound symmetry",
    "csh": "heterogeneous compound symmetry",
    "ar1": "auto-regressive order one",
    "ar1h": "heterogeneous auto-regressive order one",
    "toep": "Toeplitz",
    "toeph": "heterogeneous Toeplitz",
    "ad": "ante-dependence",
    "adh": "heterogeneous ante-dependence",
    "sp_exp": "spatial exponential",
    "sp_pow": "spatial power",
    "sp_gau": "spatial Gaussian",
    "ri": "random intercept",
}


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "<1e-04" if p < 1e-4 else f"{p:.4f}"


def _table_text(frame: pd.DataFrame, label: str = "term") -> str:
    out = frame.copy()
    for c in ("estimate", "std_error", "statistic", "conf_low", "conf_high"):
        if c in out:
            out[c] = out[c].map(lambda v: "NA" if not np.isfinite(v) else f"{v:.4f}")
    if "df" in out:
        out["df"] = out["df"].map(lambda v: "NA" if not np.isfinite(v) else f"{v:.1f}")
    if "p_value" in out:
        out["p_value"] = out["p_value"].map(_fmt_p)
    return out.to_string(index=False)


@dataclass(frozen=True, eq=False)
class MMRMResult(Result):
    """A fitted mixed model for repeated measures (see :func:`resolve.stats.mmrm`).

    Attributes
    ----------
    converged : bool
        True only if the gradient is negligible (Newton decrement below 1e-8)
        and the Hessian of the criterion is positive definite.
    convergence : ConvergenceReport
        Every optimiser attempt and its outcome.
    loglik, aic, aicc, bic : float
        Log-likelihood (restricted for REML) and information criteria as SAS
        PROC MIXED computes them (BIC uses the number of subjects).
    visit_levels : list of str
        The visit order used (time order for the covariance structure).
    visit_order_source : {"declared", "categorical", "natural"}
        How the visit order was obtained.
    factor_levels : dict
        Levels of every categorical variable of the formula; the first is the
        reference level.
    """

    data: ModelData
    theta: Array
    evaluation: Evaluation
    convergence: ConvergenceReport
    conf_level: float = 0.95

    # -- basic facts ---------------------------------------------------------
    @property
    def spec(self) -> Any:
        return self.data.spec

    @property
    def method(self) -> str:
        return str(self.data.spec.method)

    @property
    def df_method(self) -> str:
        return str(self.data.spec.df)

    @property
    def converged(self) -> bool:
        return self.convergence.converged

    @property
    def n_subjects(self) -> int:
        return self.data.n_subjects

    @property
    def n_obs(self) -> int:
        return self.data.n_obs

    @property
    def n_theta(self) -> int:
        return int(self.theta.size)

    @property
    def loglik(self) -> float:
        return -0.5 * self.evaluation.value

    @property
    def _n_params_ic(self) -> int:
        return self.n_theta + (self.data.rank if self.method == "ml" else 0)

    @property
    def aic(self) -> float:
        return self.evaluation.value + 2.0 * self._n_params_ic

    @property
    def aicc(self) -> float:
        d = self._n_params_ic
        n = self.n_obs - (self.data.rank if self.method == "reml" else 0)
        return self.evaluation.value + 2.0 * d * n / max(n - d - 1, 1)

    @property
    def bic(self) -> float:
        # SAS counts every subject in the input, including those without outcomes.
        return self.evaluation.value + self._n_params_ic * float(np.log(self.data.n_subjects_input))

    @property
    def aliased(self) -> tuple[str, ...]:
        """Names of coefficients dropped because their column is aliased."""
        return tuple(n for n, k in zip(self.data.coef_names, self.data.kept, strict=True) if not k)

    @property
    def coef_names(self) -> tuple[str, ...]:
        return self.data.coef_names

    # -- level orders -----------------------------------------------------------
    @property
    def visit_levels(self) -> list[str]:
        """The visit labels in the order used for the covariance structure."""
        return list(self.data.visits)

    @property
    def visit_order_source(self) -> str:
        """``"declared"`` (``visit_order=``), ``"categorical"`` or ``"natural"``."""
        return self.data.visit_source

    @property
    def visit_order_inferred(self) -> bool:
        """True when the visit order was inferred from labels that are not all numbers."""
        if self.visit_order_source != "natural":
            return False
        return not numeric_labels(self.visit_levels)

    @property
    def factor_levels(self) -> dict[str, list[str]]:
        """Levels of each categorical variable in the formula (first = reference)."""
        levels = self.data.spec.levels
        return {v: list(levels[v]) for v in self.data.factor_codes}

    @property
    def reference_levels(self) -> dict[str, str]:
        """The reference (first) level of each categorical variable in the formula."""
        return {v: lv[0] for v, lv in self.factor_levels.items() if lv}

    def level_notes(self, option: str = "visit_order=") -> list[str]:
        """Lines stating the visit order (if inferred) and the reference levels.

        ``option`` names how to change the visit order (``"--visit-order"`` on
        the command line).
        """
        lines = []
        order = " < ".join(self.visit_levels)
        if self.visit_order_inferred:
            lines.append(f"visit order inferred from labels: {order}; set {option} to change")
        else:
            lines.append(f"visit order ({self.visit_order_source}): {order}")
        refs = self.reference_levels
        if refs:
            lines.append("reference levels: " + ", ".join(f"{v} = {lv}" for v, lv in refs.items()))
        return lines

    # -- estimates ------------------------------------------------------------
    @cached_property
    def coefficients(self) -> pd.Series:
        """Fixed-effect estimates (NaN for aliased columns)."""
        full = np.full(len(self.coef_names), np.nan)
        assert self.evaluation.beta is not None
        full[self.data.kept] = self.evaluation.beta
        return pd.Series(full, index=list(self.coef_names), name="estimate")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Model-based covariance of the estimable coefficients (SAS COVB)."""
        names = [n for n, k in zip(self.coef_names, self.data.kept, strict=True) if k]
        assert self.evaluation.a_inv is not None
        return pd.DataFrame(self.evaluation.a_inv, index=names, columns=names)

    @cached_property
    def theta_vcov(self) -> Array:
        """Asymptotic covariance of the unconstrained variance parameters."""
        assert self.evaluation.hessian is not None
        return np.asarray(np.linalg.inv(0.5 * self.evaluation.hessian), dtype=np.float64)

    @cached_property
    def cov_params(self) -> pd.DataFrame:
        """Variance parameters on SAS's scale with SAS's names.

        Columns ``group``, ``name``, ``estimate``."""
        cm = self.data.cov_model
        rows = []
        for g, level in enumerate(self.data.group_levels):
            th = self.theta[g * cm.k_group : (g + 1) * cm.k_group]
            for name, value in cm.structure.sas_params(th, cm.m):
                rows.append({"group": level, "name": name, "estimate": value})
        return pd.DataFrame(rows, columns=["group", "name", "estimate"])

    @cached_property
    def varcor(self) -> dict[str, pd.DataFrame]:
        """Estimated covariance matrix between visits, per group (``"all"`` if none).

        For spatial structures whose coordinates are the same for every subject
        at a visit, the matrix is at the visits' coordinates; when coordinates
        differ between subjects, it is the one of the first subject with the most
        observations in the group, rows numbered by position within subject."""
        cm = self.data.cov_model
        s, _ = cm.evaluate(self.theta)
        out = {}
        for g, level in enumerate(self.data.group_levels):
            units = np.flatnonzero(cm.unit_group == g)
            unit = int(units[0])
            if not self.data.slots_are_visits:  # the first unit with every position
                sizes = np.zeros(cm.unit_group.size, dtype=np.intp)
                np.maximum.at(
                    sizes,
                    self.data.unit_of_pattern,
                    [s.size for s in self.data.pattern_slots],
                )
                unit = int(units[np.argmax(sizes[units])])
            labels = (
                list(self.data.visits)
                if self.data.slots_are_visits
                else [str(i + 1) for i in range(cm.m)]
            )
            out[str(level)] = pd.DataFrame(s[unit], index=labels, columns=labels)
        return out

    # -- inference -------------------------------------------------------------
    @cached_property
    def _info(self) -> FitInfo:
        has_int = np.array(
            [n == "(Intercept)" for n, k in zip(self.coef_names, self.data.kept, strict=True) if k]
        )
        return FitInfo(
            beta=np.asarray(self.evaluation.beta, dtype=np.float64),
            vcov=np.asarray(self.evaluation.a_inv, dtype=np.float64),
            theta_vcov=self.theta_vcov,
            jacobian=self.evaluation.jacobian,
            n_obs=self.n_obs,
            n_subjects=self.n_subjects,
            x=self.data.x,
            subject_of_obs=self.data.subject_of_obs,
            has_intercept=has_int,
            model=self.data,
            theta=self.theta,
            reml=self.method == "reml",
            convention=str(getattr(self.data.spec, "convention", "sas")),
        )

    @cached_property
    def _df(self) -> DfMethod:
        return make_df_method(self.df_method, self._info)

    def _to_kept(self, lmat: Array) -> tuple[Array, NDArray[np.bool_]]:
        """Map rows over all coefficients to estimable ones; flag non-estimable rows."""
        bad = np.any(np.abs(lmat[:, ~self.data.kept]) > 1e-12, axis=1)
        return lmat[:, self.data.kept], bad

    def _rows(self, lmat_full: Array, labels: Sequence[str]) -> pd.DataFrame:
        lk, bad = self._to_kept(lmat_full)
        beta = self._info.beta
        recs = []
        for lab, row, b in zip(labels, lk, bad, strict=True):
            if b:
                recs.append((lab, *([np.nan] * 7)))
            else:
                recs.append((lab, *test_1d(self._df, beta, row, self.conf_level)))
        return pd.DataFrame(recs, columns=COLUMNS)

    @cached_property
    def _table(self) -> pd.DataFrame:
        return self._rows(np.eye(len(self.coef_names)), self.coef_names)

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table with columns ``term, estimate, std_error, df, statistic,
        p_value, conf_low, conf_high`` (NaN for aliased coefficients)."""
        return self._table.copy()

    def _contrast_matrix(
        self, contrast: ArrayLike | Mapping[str, ArrayLike] | pd.DataFrame
    ) -> tuple[Array, list[str]]:
        p = len(self.coef_names)
        if isinstance(contrast, pd.DataFrame):
            unknown = [c for c in contrast.columns if c not in self.coef_names]
            if unknown:
                raise DataValidationError(f"contrast names unknown coefficient(s) {unknown}")
            full = contrast.reindex(columns=list(self.coef_names), fill_value=0.0).fillna(0.0)
            return full.to_numpy(dtype=np.float64), [str(i) for i in contrast.index]
        if isinstance(contrast, Mapping):
            mat = np.array([np.asarray(v, dtype=np.float64) for v in contrast.values()])
            labels = [str(k) for k in contrast]
        else:
            mat = np.atleast_2d(np.asarray(contrast, dtype=np.float64))
            labels = [f"contrast {i + 1}" for i in range(mat.shape[0])]
        if mat.ndim != 2 or mat.shape[1] != p:
            raise DataValidationError(
                f"contrast must have {p} columns (one per coefficient: "
                f"{', '.join(self.coef_names)}); got shape {mat.shape}"
            )
        return mat, labels

    def contrast(
        self,
        contrast: ArrayLike | Mapping[str, ArrayLike] | pd.DataFrame,
        *,
        joint: bool = False,
    ) -> pd.DataFrame:
        """Wald tests of linear combinations ``L b`` of the fixed effects.

        Parameters
        ----------
        contrast : array-like, mapping or DataFrame
            Rows of ``L`` over *all* coefficients (``coef_names`` order), a
            mapping label -> row, or a DataFrame whose columns are coefficient
            names (missing names count as zero).
        joint : bool
            If True, one F test of all rows (``term, num_df, den_df, statistic,
            p_value``); otherwise one t test per row (the :meth:`to_frame` columns).
        """
        mat, labels = self._contrast_matrix(contrast)
        if not joint:
            return self._rows(mat, labels)
        lk, bad = self._to_kept(mat)
        if bad.any():
            raise DataValidationError("contrast involves aliased (non-estimable) coefficients")
        num, den, f, p = test_md(self._df, lk)
        return pd.DataFrame(
            [("joint", num, den, f, p)],
            columns=["term", "num_df", "den_df", "statistic", "p_value"],
        )

    def anova(self) -> pd.DataFrame:
        """Type III F tests per model term (SAS "Type 3 Tests of Fixed Effects")."""
        recs = []
        for term, lmat in type3_contrasts(self.data).items():
            num, den, f, p = test_md(self._df, lmat)
            recs.append((term, num, den, f, p))
        return pd.DataFrame(recs, columns=["term", "num_df", "den_df", "statistic", "p_value"])

    def lsmeans(
        self,
        specs: str | Sequence[str],
        by: str | Sequence[str] | None = None,
        weights: str = "equal",
    ) -> LSMeansResult:
        """Least-squares means of ``specs`` (within ``by``) and their differences.

        ``lsmeans("ARMCD", by="AVISIT")`` gives the arm means at each visit and
        the treatment difference at each visit (SAS ``LSMEANS AVISIT*ARMCD /
        DIFF SLICE=AVISIT``); ``lsmeans(["AVISIT", "ARMCD"])`` all pairwise
        differences (SAS ``PDIFF=ALL``).
        """
        cells, lmat, diffs, dmat = lsmeans_matrices(self.data, specs, by, weights)
        est = self._rows(lmat, ["lsmean"] * len(cells)).drop(columns="term")
        dif = self._rows(dmat, list(diffs["contrast"])).drop(columns="term")
        return LSMeansResult(
            estimates=pd.concat([cells.reset_index(drop=True), est], axis=1),
            differences=pd.concat([diffs.reset_index(drop=True), dif], axis=1),
            weights=weights,
            conf_level=self.conf_level,
        )

    # -- residuals, prediction, simulation (issue 3) -----------------------------
    def residuals(self, type: str = "response") -> pd.Series:
        """Residuals of the observations used in the fit.

        Parameters
        ----------
        type : {"response", "pearson", "normalized", "studentized"}
            ``response``: ``y - X b`` (SAS ``OUTP=`` ``Resid``); ``pearson``: divided
            by ``sqrt(var(y_ij))`` (SAS ``PearsonResid``); ``normalized``: the
            subject's residual vector premultiplied by the inverse lower Cholesky
            factor of its covariance, visits in level order (SAS ``VCIRY``
            ``ScaledResid``); ``studentized``: divided by the standard deviation
            of the residual, ``sqrt(var(y_ij) - x_ij' cov(b) x_ij)`` (SAS
            ``StudentResid``).  The first three are R mmrm's ``residuals()`` types.

        Returns
        -------
        pandas.Series
            Indexed by the row labels of the data passed to :func:`mmrm`, rows
            used in the fit only, in subject-visit order; ``.reindex(data.index)``
            aligns it with the input (NaN at rows not used).

        Notes
        -----
        With ``weights`` the variance of ``y_ij`` is ``Sigma_jj / w_ij`` (SAS
        ``WEIGHT``).  Formulas: :mod:`resolve.stats.mmrm.residuals`.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from resolve.stats import mmrm
        >>> rng = np.random.default_rng(7)
        >>> trial = pd.DataFrame({"id": np.repeat(np.arange(30), 3),
        ...                       "visit": np.tile(["V1", "V2", "V3"], 30),
        ...                       "arm": np.repeat(rng.integers(0, 2, 30), 3)})
        >>> trial["y"] = trial["arm"] + rng.normal(size=90) + np.repeat(rng.normal(size=30), 3)
        >>> fit = mmrm("y ~ arm * visit", trial, subject="id", visit="visit", cov="cs")
        >>> r = fit.residuals("normalized")
        >>> r.shape, bool(abs(r.mean()) < 0.5)
        ((90,), True)
        """
        from resolve.stats.mmrm.residuals import residuals as _residuals

        values = _residuals(self.data, self.theta, self._info.beta, self._info.vcov, type)
        return pd.Series(values, index=self.data.frame.index, name=f"{type}_residual")

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        *,
        conditional: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.DataFrame:
        """Population or conditional predictions with standard errors and intervals.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict; default the rows used in the fit.  Needs the
            covariates of the formula; with ``conditional=True`` or
            ``interval="prediction"`` also the subject and visit columns (and
            ``group``/coordinate columns if the model has them).  The outcome
            column, if present, is what conditional predictions condition on;
            the weights column, if present, scales the variances (else weights 1).
        conditional : bool
            False: ``X b`` (SAS ``OUTP=`` ``Pred``).  True: each missing outcome is
            predicted from the subject's observed outcomes,
            ``X_m b + S_mo S_oo^-1 (y_o - X_o b)``; observed rows are returned as
            they are with zero standard error (R mmrm ``predict(conditional = TRUE)``).
        interval : {None, "confidence", "prediction"}
            Add ``df``, ``lower``, ``upper``.  ``"confidence"`` is for the mean;
            ``"prediction"`` for a new outcome (adds the residual variance, or
            the conditional variance ``S_mm - S_mo S_oo^-1 S_om``).
        level : float in (0, 1)

        Returns
        -------
        pandas.DataFrame
            Index of ``newdata``; columns ``fit``, ``std_error`` (for the mean,
            ``sqrt(l' cov(b) l)``, or for a new outcome when
            ``interval="prediction"``) and, with ``interval``, ``df``, ``lower``,
            ``upper``.  Rows with a missing covariate are NaN.

        Notes
        -----
        Intervals are ``fit +- t(df) * std_error`` with the fit's df method
        applied to the row's contrast (SAS ``OUTP=`` limits); for
        ``between-within`` SAS uses the residual df ``n - rank(X)`` for
        predicted values and so do we.  R mmrm uses normal quantiles instead,
        and adds the uncertainty of the variance parameters to prediction
        intervals by Monte Carlo; here ``theta`` is treated as known.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from resolve.stats import mmrm
        >>> rng = np.random.default_rng(7)
        >>> trial = pd.DataFrame({"id": np.repeat(np.arange(30), 3),
        ...                       "visit": np.tile(["V1", "V2", "V3"], 30),
        ...                       "arm": np.repeat(rng.integers(0, 2, 30), 3)})
        >>> trial["y"] = trial["arm"] + rng.normal(size=90) + np.repeat(rng.normal(size=30), 3)
        >>> fit = mmrm("y ~ arm * visit", trial, subject="id", visit="visit", cov="cs")
        >>> trial.loc[trial.index[::7], "y"] = np.nan  # predict these from the other visits
        >>> pred = fit.predict(trial, conditional=True, interval="prediction")
        >>> list(pred.columns)
        ['fit', 'std_error', 'df', 'lower', 'upper']
        """
        from resolve.stats.mmrm.predict import predict as _predict

        return _predict(self, newdata, conditional=conditional, interval=interval, level=level)

    def simulate(
        self,
        nsim: int = 1,
        *,
        seed: int | np.random.Generator | None = None,
        newdata: pd.DataFrame | None = None,
        method: str = "marginal",
    ) -> NDArray[np.float64]:
        """Simulate outcomes from the fitted model (``b`` and ``theta`` at their estimates).

        Parameters
        ----------
        nsim : int >= 1
            Number of simulated outcome vectors.
        seed : int, numpy.random.Generator or None
            Passed to :func:`numpy.random.default_rng`.
        newdata : pandas.DataFrame, optional
            Rows to simulate (covariates, subject, visit and any group,
            coordinate or weights column); default the rows used in the fit.
        method : {"marginal", "conditional"}
            ``"marginal"``: ``y_i ~ N(X_i b, V_i)`` for every subject.
            ``"conditional"``: observed outcomes in ``newdata`` are kept and the
            missing ones drawn given the subject's observed visits (an
            imputation under MAR).  Note that R mmrm's ``simulate()`` uses these
            words differently (conditional/marginal on the parameter estimates).

        Returns
        -------
        numpy.ndarray of shape ``(len(newdata), nsim)``
            Row ``k`` belongs to row ``k`` of ``newdata`` (or of the fitted rows,
            in subject-visit order, when ``newdata`` is None); NaN where a
            covariate is missing.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from resolve.stats import mmrm
        >>> rng = np.random.default_rng(7)
        >>> trial = pd.DataFrame({"id": np.repeat(np.arange(30), 3),
        ...                       "visit": np.tile(["V1", "V2", "V3"], 30),
        ...                       "arm": np.repeat(rng.integers(0, 2, 30), 3)})
        >>> trial["y"] = trial["arm"] + rng.normal(size=90) + np.repeat(rng.normal(size=30), 3)
        >>> fit = mmrm("y ~ arm * visit", trial, subject="id", visit="visit", cov="cs")
        >>> fit.simulate(5, seed=1).shape
        (90, 5)
        """
        from resolve.stats.mmrm.simulate import simulate as _simulate

        return _simulate(self, nsim, seed=seed, newdata=newdata, method=method)

    # -- views -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (coefficients, covariance, fit statistics, convergence)."""
        out: dict[str, Any] = jsonable(
            {
                "formula": self.spec.formula,
                "covariance_structure": self.spec.cov,
                "method": self.method,
                "df_method": self.df_method,
                "convention": self.spec.convention,
                "conf_level": self.conf_level,
                "converged": self.converged,
                "loglik": self.loglik,
                "aic": self.aic,
                "bic": self.bic,
                "n_subjects": self.n_subjects,
                "n_obs": self.n_obs,
                "aliased": list(self.aliased),
                "visit_order": {
                    "levels": self.visit_levels,
                    "source": self.visit_order_source,
                    "inferred": self.visit_order_inferred,
                },
                "factor_levels": self.factor_levels,
                "reference_levels": self.reference_levels,
                "coefficients": self._table.to_dict(orient="records"),
                "cov_params": self.cov_params.to_dict(orient="records"),
                "covariance": {
                    "structure": self.spec.cov,
                    "visits": list(self.data.visits),
                    "matrices": {k: v.to_numpy() for k, v in self.varcor.items()},
                },
                "convergence": self.convergence.to_dict(),
            }
        )
        return out

    def summary(self, *, visit_order_option: str = "visit_order=") -> str:
        """Readable summary in the spirit of R's ``summary(mmrm)``.

        It states the visit order used (and, when it was inferred from the
        labels, how to set it: ``visit_order_option``) and the reference level
        of each factor.
        """
        spec = self.spec
        lines = [
            f"mmrm fit ({'converged' if self.converged else 'NOT CONVERGED'})",
            "",
            f"Formula:     {spec.formula}",
            f"Covariance:  {_STRUCT_NAMES[spec.cov]} "
            f"({spec.cov}, {self.n_theta} variance parameters)"
            + (f", by {spec.group}" if spec.group else ""),
            f"Subject:     {spec.subject}   Visit: {spec.visit}",
            f"Method:      {self.method.upper()}   Degrees of freedom: {self.df_method}"
            + (" (R mmrm convention)" if spec.convention == "mmrm" else ""),
            f"Data:        {self.n_subjects} subjects, {self.n_obs} observations",
            *(
                f"Levels:      {line}" if i == 0 else f"             {line}"
                for i, line in enumerate(self.level_notes(visit_order_option))
            ),
            "",
            "Model fit:",
            f"  logLik {self.loglik:.4f}   -2logLik {-2 * self.loglik:.4f}   "
            f"AIC {self.aic:.4f}   BIC {self.bic:.4f}",
            "",
            f"Coefficients ({round(100 * self.conf_level)}% confidence limits):",
            _table_text(self._table),
        ]
        if self.aliased:
            lines.append(f"  aliased (not estimable): {', '.join(self.aliased)}")
        lines += ["", "Covariance estimate:"]
        for level, mat in self.varcor.items():
            if len(self.varcor) > 1:
                lines.append(f"  {spec.group} = {level}")
            lines.append(mat.round(4).to_string())
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class LSMeansResult(Result):
    """LS-means (``estimates``) and pairwise differences (``differences``)."""

    estimates: pd.DataFrame
    differences: pd.DataFrame
    weights: str
    conf_level: float

    def to_frame(self) -> pd.DataFrame:
        """The LS-means table (factor columns then the standard columns)."""
        return self.estimates.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "weights": self.weights,
                "conf_level": self.conf_level,
                "estimates": self.estimates,
                "differences": self.differences,
            }
        )
        return out

    def summary(self) -> str:
        return "\n".join(
            [
                f"Least-squares means ({self.weights} weights)",
                _table_text(self.estimates),
                "",
                "Differences",
                _table_text(self.differences),
            ]
        )
