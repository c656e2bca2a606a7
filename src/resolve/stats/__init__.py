"""Statistical engines of :mod:`resolve` (numpy/scipy only)."""

from resolve.stats.mmrm import FitControl, LSMeansResult, MMRMResult, mmrm

__all__ = ["FitControl", "LSMeansResult", "MMRMResult", "mmrm"]
