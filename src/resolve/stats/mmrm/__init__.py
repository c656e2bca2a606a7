"""MMRM engine: spec, design, covariance, likelihood, fit, df, LS-means, result."""

# Importing empirical and kenward_roger registers their df methods with mmrm.df.
from resolve.stats.mmrm import empirical as _empirical  # noqa: F401
from resolve.stats.mmrm import kenward_roger as _kenward_roger  # noqa: F401
from resolve.stats.mmrm.api import mmrm
from resolve.stats.mmrm.batch import BatchResult, mmrm_batch
from resolve.stats.mmrm.fit import ConvergenceReport, FitControl
from resolve.stats.mmrm.result import LSMeansResult, MMRMResult
from resolve.stats.mmrm.spec import COVARIANCES, DF_METHODS, MMRMSpec

__all__ = [
    "COVARIANCES",
    "DF_METHODS",
    "BatchResult",
    "ConvergenceReport",
    "FitControl",
    "LSMeansResult",
    "MMRMResult",
    "MMRMSpec",
    "mmrm",
    "mmrm_batch",
]
