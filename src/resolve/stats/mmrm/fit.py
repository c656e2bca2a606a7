"""Optimisation of the (RE)ML criterion with fallbacks and a convergence report.

Strategy (each step recorded in the report):

1. start values from the residual moments of an ordinary least-squares fit
   (pairwise-complete covariance of the residuals per visit);
2. optimisers in turn: Newton trust region with the exact Hessian
   (``trust-exact``), ``L-BFGS-B`` and ``BFGS`` with the analytic gradient;
3. if all fail, the same again from a diagonal start (correlations zero);
4. every candidate is polished by damped Newton steps and accepted only when
   the Newton decrement ``g' H^-1 g`` is below ``1e-8`` and the Hessian is
   positive definite.

If nothing is accepted a :class:`~resolve.errors.ConvergenceError` lists each
attempt and suggests what to try next.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from scipy.linalg import cho_factor, cho_solve

from resolve.errors import ConvergenceError
from resolve.stats._blas import limit_blas_threads
from resolve.stats.mmrm.covariance import Structure
from resolve.stats.mmrm.design import ModelData
from resolve.stats.mmrm.likelihood import Evaluation, Likelihood

__all__ = [
    "Attempt",
    "ConvergenceReport",
    "FitControl",
    "fit_model",
    "make_likelihood",
    "start_values",
]

Array = NDArray[np.float64]
DOCS = "docs/convergence.md"


@dataclass(frozen=True)
class FitControl:
    """Optimiser settings (kept apart from the model specification).

    Parameters
    ----------
    optimizers : tuple of str
        Tried in turn: any of ``"newton"`` (damped Newton with the exact Hessian,
        Levenberg-Marquardt safeguarded), ``"trust-exact"``, ``"L-BFGS-B"``,
        ``"BFGS"``, ``"Nelder-Mead"``.
    max_iter : int
        Iteration cap per optimiser.
    tol : float
        Acceptance threshold for the Newton decrement ``g' H^-1 g``.
    """

    optimizers: tuple[str, ...] = ("newton", "trust-exact", "L-BFGS-B", "BFGS")
    max_iter: int = 500
    tol: float = 1e-8


@dataclass(frozen=True)
class Attempt:
    """One optimiser run from one start."""

    optimizer: str
    start: str
    value: float
    newton_decrement: float
    hessian_pd: bool
    iterations: int
    message: str

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.value) and self.hessian_pd and self.newton_decrement < 1.0)


@dataclass(frozen=True)
class ConvergenceReport:
    """What was tried, what failed, which attempt was kept."""

    converged: bool
    attempts: tuple[Attempt, ...]
    chosen: int | None
    warnings: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = ["converged" if self.converged else "NOT converged"]
        for i, a in enumerate(self.attempts, 1):
            mark = " <- chosen" if self.chosen == i - 1 else ""
            lines.append(
                f"  {i}. {a.optimizer} from {a.start} start: -2logL={a.value:.6f}, "
                f"g'H^-1g={a.newton_decrement:.2e}, Hessian PD={a.hessian_pd}, "
                f"{a.iterations} iterations; {a.message}{mark}"
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "converged": self.converged,
            "chosen": self.chosen,
            "warnings": list(self.warnings),
            "attempts": [a.__dict__ for a in self.attempts],
        }


def _empirical_cov(data: ModelData) -> Array:
    """Pairwise-complete covariance of OLS residuals per slot (``m x m``)."""
    m = data.cov_model.m
    x, y = data.x, data.y
    try:  # normal equations (the design is of full column rank after aliasing)
        beta = cho_solve(cho_factor(x.T @ x), x.T @ y)
    except (np.linalg.LinAlgError, ValueError):
        beta = np.linalg.lstsq(x, y, rcond=None)[0].astype(np.float64)
    res = np.full((data.n_subjects, m), np.nan)
    res[data.subject_of_obs, data.slot_of_obs] = y - x @ beta
    mask = ~np.isnan(res)
    filled = np.where(mask, res, 0.0)
    counts = mask.T.astype(float) @ mask.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = (filled.T @ filled) / np.maximum(counts - 1.0, 1.0)
    var = np.diag(cov).copy()
    pooled = float(np.nanmean(np.where(counts.diagonal() > 1, var, np.nan)))
    if not np.isfinite(pooled) or pooled <= 0:
        pooled = float(np.var(y)) or 1.0
    var = np.where((counts.diagonal() > 1) & (var > 0), var, pooled)
    cov = np.where(counts > 2, cov, 0.0)
    np.fill_diagonal(cov, var)
    w, v = np.linalg.eigh(cov)
    w = np.maximum(w, 1e-3 * float(w.max()))
    out: Array = (v * w) @ v.T
    return out


def _moment_fit(structure: Structure, cov: Array, theta: Array, tol: float = 1e-4) -> Array:
    """The structure's member closest to ``cov``: minimise ``log|S| + tr(S^-1 C)``.

    This is the Gaussian likelihood of a complete-data sample covariance ``C``
    under the structure (``C`` itself when the structure is ``us``): an ``m x m``
    problem, solved by Fisher scoring (gradient ``sum(dS_k * (S^-1 - S^-1 C S^-1))``,
    information ``tr(S^-1 dS_k S^-1 dS_l)``) with step halving whenever a step
    leaves the positive-definite matrices or does not decrease the discrepancy,
    until the scoring decrement ``g' F^-1 g`` is below ``tol`` (a start needs no
    more: the REML fit takes it from there; on bcva 1e-4 gave the fewest Newton
    steps, 1e-8 as many and slower, 1e-2 one more).
    Returns ``theta`` unchanged if it cannot be improved.
    """
    m = cov.shape[0]

    def value(th: Array) -> float:
        try:
            s = structure.blocks(th, m, None)[0][0]
            chol = np.linalg.cholesky(s)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        if not np.all(np.isfinite(chol)):
            return np.inf
        half = np.linalg.solve(chol, np.eye(m))  # L^-1, so that S^-1 = L^-T L^-1
        return float(2.0 * np.log(np.diag(chol)).sum() + np.einsum("ab,ab->", half.T @ half, cov))

    current = value(theta)
    if not np.isfinite(current):
        return theta
    th = theta.copy()
    with np.errstate(all="ignore"):
        for _ in range(100):
            s, ds = structure.blocks(th, m, None)
            s_inv = np.linalg.inv(s[0])
            grad = np.einsum("kab,ab->k", ds[0], s_inv - s_inv @ cov @ s_inv)
            a = s_inv @ ds[0]  # (k, m, m): S^-1 dS_k
            info = np.einsum("kab,lba->kl", a, a)
            try:
                step = np.linalg.solve(info + 1e-10 * np.eye(th.size), grad)
            except np.linalg.LinAlgError:
                break
            if float(grad @ step) < tol:  # scoring decrement: close enough for a start
                break
            t = 1.0
            while t > 1e-10:
                cand = th - t * step
                new = value(cand)
                if new < current:
                    break
                t *= 0.5
            else:
                break
            th, current = cand, new
    return th


def start_values(data: ModelData, diagonal: bool = False) -> Array:
    """Start values for every group's parameters from residual moments.

    The structure's closed-form start from the pairwise-complete residual
    covariance; for structures whose closed form is not a moment estimator of
    their own parameters (``Structure.refine_start``: ``toep``, ``toeph``, ``ad``)
    then refined to the member of the structure closest to it (:func:`_moment_fit`;
    bcva ``ad``: 3 Newton steps instead of 10, ``toep``/``toeph`` 3 instead of 5).
    Spatial structures read the correlation of neighbouring slots, converted to
    one per unit of distance with the median distance between neighbours.
    """
    cov = _empirical_cov(data)
    if diagonal:
        cov = np.diag(np.diag(cov))
    structure = data.cov_model.structure
    one = structure.start(cov)
    if structure.refine_start:
        one = _moment_fit(structure, cov, one)
    geometry = data.cov_model.geometry
    if structure.spatial and geometry is not None and geometry.shape[-1] > 1:
        # neighbours' correlation -> per unit of distance (e.g. visits 28 days apart)
        adjacent = np.diagonal(geometry, offset=1, axis1=1, axis2=2)
        adjacent = adjacent[adjacent > 0]
        if adjacent.size:
            one = structure.start_for_distance(one, float(np.median(adjacent)))
    return np.tile(one, data.cov_model.n_groups)


class _Cached:
    """Memoise evaluations so value, gradient and Hessian share work."""

    def __init__(self, lik: Likelihood) -> None:
        self.lik = lik
        self.key: bytes | None = None
        self.ev: Evaluation | None = None

    def get(self, theta: Array, order: int) -> Evaluation:
        key = theta.tobytes()
        ev = self.ev
        if (
            self.key == key
            and ev is not None
            and (order == 0 or (order == 1 and ev.gradient is not None) or ev.hessian is not None)
        ):
            return ev
        self.ev = self.lik.evaluate(np.array(theta, dtype=np.float64), order)
        self.key = key
        return self.ev

    def fun(self, theta: Array) -> tuple[float, Array]:
        ev = self.get(theta, 1)
        if ev.gradient is None:
            return np.inf, np.zeros_like(theta)
        return ev.value, ev.gradient

    def hess(self, theta: Array) -> Array:
        ev = self.get(theta, 2)
        if ev.hessian is None:
            return np.eye(theta.size) * 1e6
        return ev.hessian


def _decrement(ev: Evaluation) -> tuple[float, bool]:
    if ev.hessian is None or ev.gradient is None or not np.isfinite(ev.value):
        return np.inf, False
    try:
        chol = np.linalg.cholesky(ev.hessian)
    except np.linalg.LinAlgError:
        return float(np.inf), False
    z = np.linalg.solve(chol, ev.gradient)
    return float(z @ z), True


def _polish(
    lik: Likelihood, theta: Array, steps: int = 8, ev: Evaluation | None = None
) -> tuple[Array, Evaluation]:
    """Damped Newton steps from ``theta`` (reaches full precision after a near-solution).

    ``ev``, if given, must be ``lik.evaluate(theta, 2)`` (saves one evaluation).
    """
    if ev is None or ev.hessian is None:
        ev = lik.evaluate(theta, 2)
    for _ in range(steps):
        dec, pd_ = _decrement(ev)
        if not pd_ or dec < 1e-14 or ev.gradient is None or ev.hessian is None:
            break
        step = np.linalg.solve(ev.hessian, ev.gradient)
        t = 1.0
        for _ in range(20):
            cand = theta - t * step
            ev_c = lik.evaluate(cand, 2)
            if ev_c.value <= ev.value + 1e-12 * max(1.0, abs(ev.value)):
                theta, ev = cand, ev_c
                break
            t *= 0.5
        else:
            break
    return theta, ev


#: Newton's stall rule: after SINGULAR_AFTER iterations without convergence, a
#: covariance whose smallest/largest eigenvalue ratio is below SINGULAR_RATIO and
#: has not risen over the last SINGULAR_SPAN iterations is heading for the
#: boundary (a likelihood without a maximum among positive-definite matrices).
SINGULAR_AFTER = 30
SINGULAR_SPAN = 10
SINGULAR_RATIO = 1e-3
SINGULAR = "covariance approaching singularity"
#: ... and after STALL_AFTER iterations, STALL_SPAN iterations that lowered -2 log L by
#: less than 1e-8 relative hand over to the next optimiser (a flat region where the
#: damped Newton steps shrink to nothing, e.g. a correlation started far too small).
STALL_AFTER = 50
STALL_SPAN = 20
STALLED = f"no progress in {STALL_SPAN} iterations"


def _eigen_ratio(lik: Likelihood, theta: Array) -> float:
    """Smallest eigenvalue ratio (min / max) of the subjects' covariance blocks at ``theta``.

    Per visit pattern, over its observed slots only (for spatial coordinates that
    differ between subjects, a unit's padded ``m x m`` block beyond a subject's
    observations is not a covariance matrix).
    """
    try:
        s = lik.data.cov_model.evaluate(theta)[0]
        ratio = np.inf
        for _, idx, units in lik.classes:
            w = np.linalg.eigvalsh(s[units[:, None, None], idx[:, :, None], idx[:, None, :]])
            ratio = min(ratio, float(np.min(w[:, 0] / np.maximum(w[:, -1], 1e-300))))
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return 0.0
    return ratio


def _newton(
    lik: Likelihood, theta: Array, max_iter: int, ev: Evaluation | None = None
) -> tuple[Array, int, str]:
    """Levenberg-Marquardt safeguarded Newton iterations with the exact Hessian."""
    theta, _, nit, msg = _newton_ev(lik, theta, max_iter, ev)
    return theta, nit, msg


def _newton_ev(
    lik: Likelihood, theta: Array, max_iter: int, ev: Evaluation | None = None
) -> tuple[Array, Evaluation, int, str]:
    """:func:`_newton` that also returns the (order 2) evaluation at the final ``theta``."""
    if ev is None or ev.hessian is None:
        ev = lik.evaluate(theta, 2)
    if ev.hessian is None or ev.gradient is None:
        return theta, ev, 0, "infeasible start"
    lam = 0.0
    eye = np.eye(theta.size)
    ratios: list[float] = []
    values: list[float] = []
    for it in range(1, max_iter + 1):
        g, h = ev.gradient, ev.hessian
        assert g is not None and h is not None
        dec, pd_ = _decrement(ev)
        if pd_ and dec < 1e-14:
            return theta, ev, it - 1, "Newton decrement below 1e-14"
        values.append(ev.value)
        if it > STALL_AFTER and values[-1 - STALL_SPAN] - ev.value <= 1e-8 * max(
            1.0, abs(ev.value)
        ):
            return theta, ev, it - 1, STALLED
        if it >= SINGULAR_AFTER - SINGULAR_SPAN:
            ratios.append(_eigen_ratio(lik, theta))
            if (
                it >= SINGULAR_AFTER
                and ratios[-1] < SINGULAR_RATIO
                and ratios[-1] <= ratios[-1 - SINGULAR_SPAN]
            ):
                return theta, ev, it - 1, SINGULAR
        floor = 1e-6 * max(float(np.max(np.abs(np.diag(h)))), 1e-12)
        lam_try = lam if pd_ else max(lam, floor * 1e3)
        for _ in range(40):
            try:
                chol = np.linalg.cholesky(h + lam_try * eye)
            except np.linalg.LinAlgError:
                lam_try = max(10.0 * lam_try, floor)
                continue
            step = np.linalg.solve(chol.T, np.linalg.solve(chol, g))
            big = float(np.max(np.abs(step)))
            if big > 3.0:  # unconstrained scale: cap one step
                step *= 3.0 / big
            cand = theta - step
            ev_c = lik.evaluate(cand, 2)
            if ev_c.hessian is not None and ev_c.value <= ev.value + 1e-12 * abs(ev.value):
                theta, ev = cand, ev_c
                lam = 0.0 if lam_try <= floor else lam_try / 10.0
                break
            lam_try = max(10.0 * lam_try, floor)
        else:
            return theta, ev, it, "no descent step found"
    return theta, ev, max_iter, "iteration limit reached"


def _run(cache: _Cached, method: str, theta0: Array, max_iter: int) -> Any:
    minimize: Any = optimize.minimize  # scipy-stubs overloads are stricter than scipy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "trust-exact":
            return minimize(
                cache.fun,
                theta0,
                jac=True,
                hess=cache.hess,
                method="trust-exact",
                options={"maxiter": max_iter, "gtol": 1e-9},
            )
        if method == "Nelder-Mead":
            return minimize(
                lambda t: cache.fun(t)[0],
                theta0,
                method="Nelder-Mead",
                options={"maxiter": max_iter * 20, "xatol": 1e-10, "fatol": 1e-12},
            )
        return minimize(
            cache.fun,
            theta0,
            jac=True,
            method=method,
            options={"maxiter": max_iter, "gtol": 1e-8},
        )


def make_likelihood(data: ModelData, reml: bool) -> Likelihood:
    """The evaluator for ``data``: closed form for ``ri`` without weights, else generic."""
    if data.cov_model.structure.name == "ri" and data.spec.weights is None:
        from resolve.stats.mmrm.ri_fast import RandomInterceptLikelihood

        return RandomInterceptLikelihood(data, reml)
    return Likelihood(data, reml)


def _raise_singular(
    data: ModelData, lik: Likelihood, theta: Array, attempts: list[Attempt]
) -> NoReturn:
    """Stop at once: the likelihood rises towards a singular covariance matrix.

    Other optimisers and starts follow the same slope (each would spend its
    iteration limit: minutes for many visits), so none is tried.
    """
    report = ConvergenceReport(False, tuple(attempts), None)
    cov = data.cov_model
    k = cov.n_params
    n_subj, n_obs, m = data.n_subjects, data.n_obs, cov.m
    raise ConvergenceError(
        f"the MMRM fit did not converge: stopped after {attempts[-1].iterations} Newton "
        "iterations because -2 log L kept falling while the covariance matrix became singular "
        f"(smallest/largest eigenvalue {_eigen_ratio(lik, theta):.1e} and falling): the data do "
        f"not pin down a positive-definite estimate of cov={cov.structure.name!r}, {k} "
        f"covariance parameters for {m} visits from {n_subj} subjects with {n_obs} outcomes; "
        "next steps: use a structured covariance with fewer parameters "
        "(e.g. 'toeph', 'adh' or 'ar1h' instead of 'us'), or fewer visits; "
        f"see {DOCS}\n" + str(report),
        report=report,
    )


def fit_model(
    data: ModelData,
    reml: bool,
    control: FitControl | None = None,
    *,
    theta0: Array | None = None,
) -> tuple[Array, Evaluation, ConvergenceReport, Likelihood]:
    """Minimise ``-2 log L``; return ``theta``, the final evaluation and the report.

    ``theta0`` (e.g. the estimate of a similar data set) is tried first, before
    the usual moment-based starts; acceptance criteria are unchanged.
    """
    with limit_blas_threads(1):
        return _fit_model(data, reml, control, theta0)


def _fit_model(
    data: ModelData, reml: bool, control: FitControl | None, theta0: Array | None = None
) -> tuple[Array, Evaluation, ConvergenceReport, Likelihood]:
    control = control or FitControl()
    lik = make_likelihood(data, reml)
    cache = _Cached(lik)
    attempts: list[Attempt] = []
    candidates: list[tuple[Array, Evaluation]] = []
    # Start values are computed only when reached (a warm start usually suffices).
    starts: list[tuple[str, Callable[[], Array]]] = [("empirical", lambda: start_values(data))]
    if theta0 is not None and np.shape(theta0) == (data.cov_model.n_params,):
        given = np.asarray(theta0, dtype=np.float64).copy()
        starts.insert(0, ("given", lambda: given))
    if data.cov_model.structure.name not in ("cs", "ri", "ar1", "sp_exp"):
        starts.append(("diagonal", lambda: start_values(data, diagonal=True)))
    for start_name, make_start in starts:
        theta0 = make_start()
        first = control.optimizers[:1] == ("newton",)
        ev0 = lik.evaluate(theta0, 2 if first else 0)
        if not np.isfinite(ev0.value):
            attempts.append(
                Attempt("-", start_name, np.inf, np.inf, False, 0, "start value infeasible")
            )
            continue
        for method in control.optimizers:
            try:
                ev_x: Evaluation | None = None
                if method == "newton":
                    x, ev_x, nit, msg = _newton_ev(
                        lik, theta0.copy(), control.max_iter, ev0 if first else None
                    )
                else:
                    res = _run(cache, method, theta0, control.max_iter)
                    x, msg, nit = res.x, str(res.message), int(getattr(res, "nit", 0))
                theta, ev = _polish(lik, np.asarray(x, dtype=np.float64), ev=ev_x)
            except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:
                attempts.append(
                    Attempt(method, start_name, np.inf, np.inf, False, 0, f"failed: {exc}")
                )
                continue
            dec, pd_ = _decrement(ev)
            attempts.append(Attempt(method, start_name, ev.value, dec, pd_, nit, msg))
            candidates.append((theta, ev))
            if pd_ and dec < control.tol:
                report = ConvergenceReport(True, tuple(attempts), len(attempts) - 1)
                return theta, ev, report, lik
            if msg == SINGULAR:
                _raise_singular(data, lik, theta, attempts)
    report = ConvergenceReport(False, tuple(attempts), None)
    raise ConvergenceError(
        "the MMRM fit did not converge; attempts:\n"
        + str(report)
        + "\nnext steps: try a simpler covariance structure (e.g. 'ar1h' or 'cs' instead of 'us'), "
        "check for visits with very few observations, or rescale the outcome; "
        f"see {DOCS}",
        report=report,
    )
