"""Statistical engines of :mod:`resolve` (numpy/scipy only)."""

from resolve.stats.mmrm import (
    BatchResult,
    FitControl,
    LSMeansResult,
    MMRMResult,
    mmrm,
    mmrm_batch,
)

__all__ = ["BatchResult", "FitControl", "LSMeansResult", "MMRMResult", "mmrm", "mmrm_batch"]
