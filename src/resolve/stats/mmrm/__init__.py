"""MMRM engine: spec, design, covariance, likelihood, fit, df, LS-means, result."""

from resolve.stats.mmrm.api import mmrm
from resolve.stats.mmrm.fit import ConvergenceReport, FitControl
from resolve.stats.mmrm.result import LSMeansResult, MMRMResult
from resolve.stats.mmrm.spec import COVARIANCES, DF_METHODS, MMRMSpec

__all__ = [
    "COVARIANCES",
    "DF_METHODS",
    "ConvergenceReport",
    "FitControl",
    "LSMeansResult",
    "MMRMResult",
    "MMRMSpec",
    "mmrm",
]
