"""Covariance structures: unconstrained parameters to covariance blocks and derivatives.

Each structure maps an unconstrained parameter vector ``theta`` (one group's
share) to covariance blocks ``S`` of shape ``(u, m, m)`` together with the first
derivatives ``dS`` of shape ``(u, k, m, m)``.  ``u`` is 1 for structures indexed
by visit; for spatial structures there is one block per distinct set of
coordinates (``geometry`` holds the pairwise distances).  Second derivatives
are obtained by central differences of the analytic first derivatives, which
is accurate to about 1e-10 relative because the blocks are cheap, smooth
functions of ``theta``.

Parametrisations follow the R package mmrm (openpharma/mmrm, ``src/covariance.h``):
log standard deviations; the unit lower-triangular Cholesky factor for ``us``;
``x / sqrt(1 + x**2)`` for correlations of ``ar1``/``toep``/``ad``; a logistic map
onto ``(-1/(m-1), 1)`` for ``cs``; a logistic map onto ``(0, 1)`` for the
spatial correlation.  ``ri`` (random intercept) uses ``(log sigma, lambda)`` with
``tau**2 = sigma**2 * lambda**2`` so that ``tau**2 = 0`` is reachable, as lme4.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["STRUCTURES", "Structure", "get_structure"]

Array = NDArray[np.float64]


def _cor_link(x: Array) -> tuple[Array, Array]:
    """Map reals to (-1, 1) as mmrm does; return value and derivative."""
    s = np.sqrt(1.0 + x * x)
    return x / s, 1.0 / (s * s * s)


def _cor_link_inv(r: Array) -> Array:
    r = np.clip(r, -0.95, 0.95)
    return np.asarray(r / np.sqrt(1.0 - r * r), dtype=np.float64)


def _expit(x: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


class Structure(ABC):
    """One covariance family for one group of subjects."""

    name: str = ""
    spatial: bool = False
    heterogeneous: bool = False
    #: Refine the closed-form start to the structure's member closest to the residual
    #: covariance (``fit._moment_fit``): for structures whose closed-form start is not a
    #: moment estimator of their own parameters (pooled lags, a common variance that the
    #: correlations must reconcile with unequal visit variances).
    refine_start: bool = False

    @abstractmethod
    def n_params(self, m: int) -> int:
        """Number of unconstrained parameters for ``m`` visits."""

    @abstractmethod
    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        """Return ``S`` ``(u, m, m)`` and ``dS`` ``(u, k, m, m)`` at ``theta``."""

    @abstractmethod
    def start(self, cov: Array) -> Array:
        """Start values from an empirical ``m x m`` covariance matrix."""

    @abstractmethod
    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        """Variance parameters on SAS PROC MIXED's scale, with SAS's names."""

    def start_for_distance(self, theta: Array, distance: float) -> Array:
        """Rescale a start made on unit distances to neighbours ``distance`` apart.

        ``start`` reads the correlation of neighbouring slots; a spatial structure's
        parameter is per unit of distance. Non-spatial structures: unchanged.
        """
        return theta

    def hessian_blocks(self, theta: Array, m: int, geometry: Array | None) -> Array:
        """Second derivatives ``(u, k, k, m, m)`` by central differences of ``dS``."""
        k = theta.size
        _, d0 = self.blocks(theta, m, geometry)
        out = np.empty((d0.shape[0], k, k, m, m))
        for j in range(k):
            h = 1e-5 * max(1.0, abs(float(theta[j])))
            tp = theta.copy()
            tp[j] += h
            tm = theta.copy()
            tm[j] -= h
            _, dp = self.blocks(tp, m, geometry)
            _, dm = self.blocks(tm, m, geometry)
            out[:, :, j] = (dp - dm) / (2.0 * h)
        return 0.5 * (out + out.transpose(0, 2, 1, 3, 4))

    def hessian_dot(self, theta: Array, m: int, geometry: Array | None, b: Array) -> Array:
        """``H[k, l] = sum_uab d2S[u, k, l, a, b] B[u, a, b]`` for ``B`` ``(u, m, m)``.

        What the likelihood's Hessian needs of the second derivatives; structures
        with many parameters override it to avoid forming ``(k, k, m, m)``.
        """
        return np.asarray(
            np.einsum("uklab,uab->kl", self.hessian_blocks(theta, m, geometry), b),
            dtype=np.float64,
        )

    def hessian_weighted(self, theta: Array, m: int, geometry: Array | None, w: Array) -> Array:
        """``sum_kl W[k, l] d2S[u, k, l]`` ``(u, m, m)`` (Kenward-Roger's ``R`` term)."""
        return np.asarray(
            np.einsum("kl,uklab->uab", w, self.hessian_blocks(theta, m, geometry)),
            dtype=np.float64,
        )


@functools.lru_cache(maxsize=64)
def _tril(m: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Strictly-lower-triangle indices of an ``m x m`` matrix (cached, read-only)."""
    rows, cols = np.tril_indices(m, -1)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


class Unstructured(Structure):
    """``us``: Sigma = D L L' D with L unit lower triangular (SAS TYPE=UN)."""

    name = "us"
    heterogeneous = True

    def n_params(self, m: int) -> int:
        return m * (m + 1) // 2

    def _unpack(
        self, theta: Array, m: int
    ) -> tuple[Array, Array, NDArray[np.intp], NDArray[np.intp]]:
        sd = np.exp(theta[:m])
        rows, cols = _tril(m)
        # mmrm stores the strictly lower entries row by row: (1,0), (2,0), (2,1), ...
        lu = np.eye(m)
        lu[rows, cols] = theta[m:]
        return sd, lu, rows, cols

    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        sd, lu, rows, cols = self._unpack(theta, m)
        corr_part = lu @ lu.T
        sigma = corr_part * np.outer(sd, sd)
        k = self.n_params(m)
        d = np.zeros((k, m, m))
        idx = np.arange(m)
        d[idx, idx, :] = sigma
        d[idx, :, idx] += sigma
        n_off = rows.size
        if n_off:
            mm = np.zeros((n_off, m, m))
            mm[np.arange(n_off), rows, :] = lu[:, cols].T
            d[m:] = (mm + mm.transpose(0, 2, 1)) * np.outer(sd, sd)
        return sigma[None], d[None]

    def hessian_blocks(self, theta: Array, m: int, geometry: Array | None) -> Array:
        """Analytic second derivatives of ``D Lu Lu' D``."""
        sd, _, rows, cols = self._unpack(theta, m)
        sigma, d = self.blocks(theta, m, geometry)
        sigma, d = sigma[0], d[0]
        k = self.n_params(m)
        out = np.zeros((k, k, m, m))
        idx = np.arange(m)
        e = np.zeros((m, m, m))  # e[i, a, b] = [a == i] + [b == i]
        e[idx, idx, :] += 1.0
        e[idx, :, idx] += 1.0
        # log-sd x log-sd and log-sd x off-diagonal: rescale by the row/column indicators
        out[:m, :m] = sigma[None, None] * e[:, None] * e[None, :]
        out[:m, m:] = d[None, m:] * e[:, None]
        out[m:, :m] = np.swapaxes(out[:m, m:], 0, 1)
        # off x off: D (E_k E_l' + E_l E_k') D with E_k = e_{i_k} e_{j_k}'
        n_off = rows.size
        if n_off:
            same_col = cols[:, None] == cols[None, :]
            kk, ll = np.nonzero(same_col)
            blk = np.zeros((n_off, n_off, m, m))
            blk[kk, ll, rows[kk], rows[ll]] += 1.0
            blk[kk, ll, rows[ll], rows[kk]] += 1.0
            out[m:, m:] = blk * np.outer(sd, sd)
        return out[None]

    def hessian_dot(self, theta: Array, m: int, geometry: Array | None, b: Array) -> Array:
        """Closed form of the contraction, ``O(k m^2)`` instead of ``O(k^2 m^2)``.

        With ``C = Sigma * B`` (elementwise), ``dS_k`` the first derivatives and
        ``G = (sd sd') * B``: log-sd pairs give ``diag(rowsum C + colsum C) + C + C'``;
        a log-sd ``i`` and an off-diagonal ``k`` give row ``i`` plus column ``i`` of
        ``dS_k * B``; two off-diagonals ``(r, c)``, ``(s, c)`` in the same column give
        ``G[r, s] + G[s, r]`` (zero otherwise).
        """
        sd, _, rows, cols = self._unpack(theta, m)
        sigma, d = self.blocks(theta, m, geometry)
        bm = b.sum(axis=0)
        c = sigma[0] * bm
        k = self.n_params(m)
        out = np.zeros((k, k))
        out[:m, :m] = np.diag(c.sum(axis=0) + c.sum(axis=1)) + c + c.T
        n_off = rows.size
        if n_off:
            db = d[0, m:] * bm
            cross = (db.sum(axis=2) + db.sum(axis=1)).T  # (m, n_off)
            out[:m, m:] = cross
            out[m:, :m] = cross.T
            g = np.outer(sd, sd) * bm
            gs = g + g.T
            out[m:, m:] = np.where(cols[:, None] == cols[None, :], gs[rows[:, None], rows], 0.0)
        return out

    def hessian_weighted(self, theta: Array, m: int, geometry: Array | None, w: Array) -> Array:
        """Closed form of ``sum_kl W_kl d2S_kl`` (see :meth:`hessian_dot`)."""
        sd, _, rows, cols = self._unpack(theta, m)
        sigma, d = self.blocks(theta, m, geometry)
        ws = w[:m, :m]
        dg = np.diag(ws)
        out = sigma[0] * (dg[:, None] + dg[None, :] + ws + ws.T)
        n_off = rows.size
        if n_off:
            wso = w[:m, m:] + w[m:, :m].T  # (m, n_off)
            d_off = d[0, m:]
            out += np.einsum("kab,ak->ab", d_off, wso) + np.einsum("kab,bk->ab", d_off, wso)
            same = cols[:, None] == cols[None, :]
            kk, ll = np.nonzero(same)
            acc = np.zeros((m, m))
            np.add.at(acc, (rows[kk], rows[ll]), w[m + kk, m + ll])
            out += np.outer(sd, sd) * (acc + acc.T)
        return np.asarray(out[None], dtype=np.float64)

    def start(self, cov: Array) -> Array:
        m = cov.shape[0]
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            chol = np.diag(np.sqrt(np.clip(np.diag(cov), 1e-8, None)))
        diag = np.diag(chol)
        rows, cols = np.tril_indices(m, -1)
        # mmrm's factor is L = diag(exp(theta[:m])) @ Lu with Lu unit lower triangular.
        return np.concatenate([np.log(diag), chol[rows, cols] / diag[rows]])

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        sigma = self.blocks(theta, m, None)[0][0]
        return [
            (f"UN({i + 1},{j + 1})", float(sigma[i, j])) for i in range(m) for j in range(i + 1)
        ]


class _SdCorr(Structure):
    """Sigma = D R(rho) D with homogeneous or heterogeneous standard deviations."""

    corr_label: str = "Rho"

    def n_sd(self, m: int) -> int:
        return m if self.heterogeneous else 1

    @abstractmethod
    def n_rho(self, m: int) -> int:
        """Number of correlation parameters."""

    @abstractmethod
    def corr(self, phi: Array, m: int) -> tuple[Array, Array]:
        """Correlation matrix ``(m, m)`` and derivatives ``(n_rho, m, m)`` w.r.t. ``phi``."""

    def n_params(self, m: int) -> int:
        return self.n_sd(m) + self.n_rho(m)

    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        ns = self.n_sd(m)
        sd = np.exp(theta[:ns]) * np.ones(m)
        r, dr = self.corr(theta[ns:], m)
        outer = np.outer(sd, sd)
        sigma = r * outer
        d = np.empty((self.n_params(m), m, m))
        if self.heterogeneous:
            d[:m] = 0.0
            idx = np.arange(m)
            d[idx, idx, :] = sigma
            d[idx, :, idx] += sigma
        else:
            d[0] = 2.0 * sigma
        d[ns:] = dr * outer
        return sigma[None], d[None]

    def start(self, cov: Array) -> Array:
        m = cov.shape[0]
        var = np.clip(np.diag(cov), 1e-8, None)
        sd = np.sqrt(var)
        log_sd = np.log(sd) if self.heterogeneous else np.array([0.5 * np.log(var.mean())])
        return np.concatenate([log_sd, self.rho_start(cov / np.outer(sd, sd), m)])

    def rho_start(self, corr: Array, m: int) -> Array:
        return np.zeros(self.n_rho(m))

    def rho_values(self, theta: Array, m: int) -> Array:
        """Correlation parameters on their natural scale."""
        ns = self.n_sd(m)
        return _cor_link(theta[ns:])[0]

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        ns = self.n_sd(m)
        var = np.exp(2.0 * theta[:ns])
        rho = self.rho_values(theta, m)
        out = [(f"Var({i + 1})", float(v)) for i, v in enumerate(var)] if self.heterogeneous else []
        if self.n_rho(m) == 1:
            out.append((self.corr_label, float(rho[0])))
        else:
            out += [(f"{self.corr_label}({i + 1})", float(r)) for i, r in enumerate(rho)]
        if not self.heterogeneous:
            out.append(("Residual", float(var[0])))
        return out


class AR1(_SdCorr):
    """``ar1`` / ``ar1h``: corr(i, j) = rho**|i - j| (SAS AR(1), ARH(1))."""

    name = "ar1"
    corr_label = "AR(1)"

    def n_rho(self, m: int) -> int:
        return 1

    def corr(self, phi: Array, m: int) -> tuple[Array, Array]:
        rho, drho = _cor_link(phi)
        lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m))).astype(float)
        r = rho[0] ** lag
        lagm1 = np.where(lag > 0, lag - 1.0, 0.0)
        dr = np.where(lag > 0, lag * rho[0] ** lagm1, 0.0) * drho[0]
        return r, dr[None]

    def rho_start(self, corr: Array, m: int) -> Array:
        if m < 2:
            return np.zeros(1)
        return _cor_link_inv(np.array([np.mean(np.diag(corr, -1))]))


class AR1H(AR1):
    name = "ar1h"
    heterogeneous = True
    corr_label = "ARH(1)"


class CS(_SdCorr):
    """``cs`` / ``csh``: constant correlation (SAS CS, CSH)."""

    name = "cs"
    corr_label = "CSH"

    def n_rho(self, m: int) -> int:
        return 1

    @staticmethod
    def _a(m: int) -> float:
        return 1.0 / (m - 1.0) if m > 1 else 1.0

    def corr(self, phi: Array, m: int) -> tuple[Array, Array]:
        a = self._a(m)
        e = _expit(phi)
        rho = e * (1.0 + a) - a
        drho = (1.0 + a) * e * (1.0 - e)
        off = 1.0 - np.eye(m)
        return np.eye(m) + rho[0] * off, (drho[0] * off)[None]

    def rho_values(self, theta: Array, m: int) -> Array:
        a = self._a(m)
        return np.asarray(_expit(theta[self.n_sd(m) :]) * (1.0 + a) - a, dtype=np.float64)

    def rho_start(self, corr: Array, m: int) -> Array:
        a = self._a(m)
        r = np.mean(corr[np.tril_indices(m, -1)]) if m > 1 else 0.0
        r = float(np.clip(r, -a * 0.9, 0.9))
        p = (r + a) / (1.0 + a)
        return np.array([np.log(p / (1.0 - p))])

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        if self.heterogeneous:
            return super().sas_params(theta, m)
        var = float(np.exp(2.0 * theta[0]))
        rho = float(self.rho_values(theta, m)[0])
        return [("CS", var * rho), ("Residual", var * (1.0 - rho))]


class CSH(CS):
    name = "csh"
    heterogeneous = True


class Toeplitz(_SdCorr):
    """``toep`` / ``toeph``: corr(i, j) = rho_|i-j| (SAS TOEP, TOEPH)."""

    name = "toep"
    corr_label = "TOEP"
    refine_start = True

    def n_rho(self, m: int) -> int:
        return max(m - 1, 0)

    def corr(self, phi: Array, m: int) -> tuple[Array, Array]:
        rho, drho = _cor_link(phi)
        lag = np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
        vals = np.concatenate([[1.0], rho])
        r = vals[lag]
        dr = (
            np.stack([(lag == t + 1) * drho[t] for t in range(m - 1)])
            if m > 1
            else np.zeros((0, m, m))
        )
        return r, dr.astype(float)

    def rho_start(self, corr: Array, m: int) -> Array:
        return _cor_link_inv(np.array([np.mean(np.diag(corr, -t)) for t in range(1, m)]) * 0.5)


class ToeplitzH(Toeplitz):
    name = "toeph"
    heterogeneous = True
    corr_label = "TOEPH"


class AnteDependence(_SdCorr):
    """``ad`` / ``adh``: corr(i, j) = prod(rho_j .. rho_{i-1}) (SAS ANTE(1) = ``adh``)."""

    name = "ad"
    corr_label = "Rho"
    refine_start = True

    def n_rho(self, m: int) -> int:
        return max(m - 1, 0)

    def corr(self, phi: Array, m: int) -> tuple[Array, Array]:
        rho, drho = _cor_link(phi)
        # corr(i, j) = rho_j ... rho_{i-1} for i > j, built diagonal by diagonal
        r = np.eye(m)
        rows = np.arange(m)
        for lag in range(1, m):
            i, j = rows[lag:], rows[: m - lag]
            r[i, j] = r[i - 1, j] * rho[i - 1]
        r = np.tril(r) + np.tril(r, -1).T
        # d corr(i, j) / d phi_t = corr(i, t+1) corr(t, j) drho_t for j <= t < i
        dr = np.zeros((max(m - 1, 0), m, m))
        for t in range(m - 1):
            low = np.outer(r[t + 1 :, t + 1], r[t, : t + 1]) * drho[t]
            dr[t, t + 1 :, : t + 1] = low
            dr[t, : t + 1, t + 1 :] = low.T
        return r, dr

    def rho_start(self, corr: Array, m: int) -> Array:
        return _cor_link_inv(np.diag(corr, -1).copy())


class AnteDependenceH(AnteDependence):
    name = "adh"
    heterogeneous = True
    refine_start = False  # visit variances and lag-1 correlations: already moments


class RandomIntercept(Structure):
    """``ri``: Sigma = sigma2 * I + tau2 * J, tau2 >= 0 (lme4 ``(1 | id)``)."""

    name = "ri"

    def n_params(self, m: int) -> int:
        return 2

    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        s2 = float(np.exp(2.0 * theta[0]))
        lam = float(theta[1])
        sigma = s2 * (np.eye(m) + lam * lam * np.ones((m, m)))
        d = np.stack([2.0 * sigma, s2 * 2.0 * lam * np.ones((m, m))])
        return sigma[None], d[None]

    def start(self, cov: Array) -> Array:
        m = cov.shape[0]
        off = float(np.mean(cov[np.tril_indices(m, -1)])) if m > 1 else 0.0
        total = float(np.mean(np.diag(cov)))
        tau2 = min(max(off, 0.05 * total), 0.9 * total)
        s2 = total - tau2
        return np.array([0.5 * np.log(s2), np.sqrt(tau2 / s2)])

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        s2 = float(np.exp(2.0 * theta[0]))
        return [("Intercept", s2 * float(theta[1]) ** 2), ("Residual", s2)]


class _Spatial(Structure):
    """Spatial structures: ``theta = (log sigma, logit rho)``, correlation ``rho**(d**POWER)``."""

    spatial = True
    #: the correlation between points ``d`` apart is ``rho ** (d ** POWER)``
    POWER = 1.0

    def n_params(self, m: int) -> int:
        return 2

    def start(self, cov: Array) -> Array:
        m = cov.shape[0]
        r = float(np.mean(np.diag(cov, -1)) / np.mean(np.diag(cov))) if m > 1 else 0.3
        r = float(np.clip(r, 0.05, 0.95))
        return np.array([0.5 * np.log(np.mean(np.diag(cov))), np.log(r / (1.0 - r))])

    def start_for_distance(self, theta: Array, distance: float) -> Array:
        """``rho`` per unit distance from the neighbours' correlation ``distance`` apart."""
        if not distance > 0 or distance == 1.0:
            return theta
        rho = float(_expit(theta[1:2])[0]) ** (1.0 / distance**self.POWER)
        rho = min(max(rho, 1e-6), 1.0 - 1e-6)
        return np.array([theta[0], np.log(rho / (1.0 - rho))])


class SpatialExponential(_Spatial):
    """``sp_exp``: Sigma_ij = sigma2 * rho**d_ij, d Euclidean distance (SAS SP(EXP))."""

    name = "sp_exp"

    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        if geometry is None:  # pragma: no cover - guarded by the model builder
            raise ValueError("sp_exp needs coordinates")
        s2 = float(np.exp(2.0 * theta[0]))
        rho = float(_expit(theta[1:2])[0])
        corr = np.exp(geometry * np.log(rho))
        sigma = s2 * corr
        d = np.stack([2.0 * sigma, sigma * geometry * (1.0 - rho)], axis=1)
        return sigma, d

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        rho = float(_expit(theta[1:2])[0])
        return [("SP(EXP)", -1.0 / np.log(rho)), ("Residual", float(np.exp(2.0 * theta[0])))]


class SpatialPower(SpatialExponential):
    """``sp_pow``: Sigma_ij = sigma2 * rho**d_ij, reported as SAS SP(POW) (``rho`` itself).

    The same model as ``sp_exp`` (SAS's SP(EXP) range is ``-1 / log rho``), with
    ``theta = (log sigma, logit rho)``; first and second derivatives are analytic.
    """

    name = "sp_pow"

    def hessian_blocks(self, theta: Array, m: int, geometry: Array | None) -> Array:
        """Analytic second derivatives ``(u, 2, 2, m, m)``."""
        sigma, _ = self.blocks(theta, m, geometry)
        assert geometry is not None  # blocks() has already refused None
        rho = float(_expit(theta[1:2])[0])
        g = geometry * (1.0 - rho)  # d log(rho**d) / d theta_1
        out = np.empty((sigma.shape[0], 2, 2, m, m))
        out[:, 0, 0] = 4.0 * sigma
        out[:, 0, 1] = out[:, 1, 0] = 2.0 * sigma * g
        out[:, 1, 1] = sigma * (g * g - geometry * rho * (1.0 - rho))
        return out

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        rho = float(_expit(theta[1:2])[0])
        return [("SP(POW)", rho), ("Residual", float(np.exp(2.0 * theta[0])))]


class SpatialGaussian(_Spatial):
    """``sp_gau``: Sigma_ij = sigma2 * rho**(d_ij**2), d Euclidean distance (SAS SP(GAU)).

    Same conventions as ``sp_exp``: ``theta = (log sigma, logit rho)``; SAS's
    range is ``1 / sqrt(-log rho)`` so that ``rho**(d**2) = exp(-d**2 / range**2)``.
    First and second derivatives are analytic.
    """

    name = "sp_gau"
    POWER = 2.0

    @staticmethod
    def _parts(theta: Array, geometry: Array | None) -> tuple[Array, Array, float]:
        if geometry is None:  # pragma: no cover - guarded by the model builder
            raise ValueError("sp_gau needs coordinates")
        s2 = float(np.exp(2.0 * theta[0]))
        rho = float(_expit(theta[1:2])[0])
        d2 = geometry * geometry
        return s2 * np.exp(d2 * np.log(rho)), d2, rho

    def blocks(self, theta: Array, m: int, geometry: Array | None) -> tuple[Array, Array]:
        sigma, d2, rho = self._parts(theta, geometry)
        # d log(rho) / d theta_1 = 1 - rho
        d = np.stack([2.0 * sigma, sigma * d2 * (1.0 - rho)], axis=1)
        return sigma, d

    def hessian_blocks(self, theta: Array, m: int, geometry: Array | None) -> Array:
        """Analytic second derivatives ``(u, 2, 2, m, m)``."""
        sigma, d2, rho = self._parts(theta, geometry)
        g = d2 * (1.0 - rho)
        out = np.empty((sigma.shape[0], 2, 2, m, m))
        out[:, 0, 0] = 4.0 * sigma
        out[:, 0, 1] = out[:, 1, 0] = 2.0 * sigma * g
        out[:, 1, 1] = sigma * (g * g - d2 * rho * (1.0 - rho))
        return out

    def sas_params(self, theta: Array, m: int) -> list[tuple[str, float]]:
        rho = float(_expit(theta[1:2])[0])
        return [
            ("SP(GAU)", float(1.0 / np.sqrt(-np.log(rho)))),
            ("Residual", float(np.exp(2.0 * theta[0]))),
        ]


STRUCTURES: dict[str, type[Structure]] = {
    cls.name: cls
    for cls in (
        Unstructured,
        CS,
        CSH,
        AR1,
        AR1H,
        Toeplitz,
        ToeplitzH,
        AnteDependence,
        AnteDependenceH,
        SpatialExponential,
        SpatialPower,
        SpatialGaussian,
        RandomIntercept,
    )
}


def get_structure(name: str) -> Structure:
    """Return the structure called ``name`` (names as in R mmrm, plus ``ri``)."""
    return STRUCTURES[name]()


@dataclass(frozen=True)
class CovarianceModel:
    """A structure replicated over groups and bound to the data's geometry.

    ``unit_group[u]`` is the group of covariance unit ``u``; ``geometry`` holds
    one distance matrix per unit for spatial structures.
    """

    structure: Structure
    m: int
    n_groups: int
    unit_group: NDArray[np.intp]
    geometry: Array | None

    @property
    def k_group(self) -> int:
        return self.structure.n_params(self.m)

    @property
    def n_params(self) -> int:
        return self.k_group * self.n_groups

    def _group_geometry(self, g: int) -> tuple[NDArray[np.intp], Array | None]:
        units = np.flatnonzero(self.unit_group == g)
        geo = None if self.geometry is None else self.geometry[units]
        return units, geo

    def evaluate(self, theta: Array) -> tuple[Array, Array]:
        """Return ``S`` ``(U, m, m)`` and ``dS`` ``(U, K, m, m)``.

        Second derivatives are only ever needed contracted: :meth:`hessian_dot`,
        :meth:`hessian_weighted`.
        """
        m, kg = self.m, self.k_group
        n_units = self.unit_group.size
        s = np.empty((n_units, m, m))
        ds = np.zeros((n_units, self.n_params, m, m))
        for g in range(self.n_groups):
            units, geo = self._group_geometry(g)
            sg, dsg = self.structure.blocks(theta[g * kg : (g + 1) * kg], m, geo)
            s[units] = sg
            ds[units, g * kg : (g + 1) * kg] = dsg
        return s, ds

    def hessian_dot(self, theta: Array, b: Array) -> Array:
        """``sum_uab d2S[u, k, l, a, b] B[u, a, b]`` ``(K, K)`` for ``B`` ``(U, m, m)``."""
        m, kg = self.m, self.k_group
        out = np.zeros((self.n_params, self.n_params))
        for g in range(self.n_groups):
            units, geo = self._group_geometry(g)
            sl = slice(g * kg, (g + 1) * kg)
            out[sl, sl] = self.structure.hessian_dot(theta[sl], m, geo, b[units])
        return out

    def hessian_weighted(self, theta: Array, w: Array) -> Array:
        """``sum_kl W[k, l] d2S[u, k, l]`` ``(U, m, m)`` (groups do not share parameters)."""
        m, kg = self.m, self.k_group
        out = np.empty((self.unit_group.size, m, m))
        for g in range(self.n_groups):
            units, geo = self._group_geometry(g)
            sl = slice(g * kg, (g + 1) * kg)
            out[units] = self.structure.hessian_weighted(theta[sl], m, geo, w[sl, sl])
        return out
