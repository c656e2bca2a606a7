"""The frozen specification of an MMRM: every encoding decision in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolve._validation import OneOf

__all__ = ["COVARIANCES", "DF_METHODS", "METHODS", "MMRMSpec"]

COVARIANCES: tuple[str, ...] = (
    "us",
    "cs",
    "csh",
    "ar1",
    "ar1h",
    "toep",
    "toeph",
    "ad",
    "adh",
    "sp_exp",
    "sp_pow",
    "sp_gau",
    "ri",
)
METHODS: tuple[str, ...] = ("reml", "ml")
DF_METHODS: tuple[str, ...] = (
    "satterthwaite",
    "kenward-roger",
    "kenward-roger-linear",
    "residual",
    "between-within",
    "empirical",
)


@dataclass(frozen=True)
class MMRMSpec:
    """What to fit, validated once.

    Parameters
    ----------
    formula : str
        R-style formula ``outcome ~ terms`` (formulaic syntax).
    subject, visit : str
        Column names identifying subjects and repeated visits.
    cov : str
        Covariance structure, one of :data:`COVARIANCES`.
    group : str or None
        Column whose levels get separate covariance matrices (SAS ``GROUP=``).
    method : {"reml", "ml"}
        Estimation criterion.
    df : str
        Degrees-of-freedom method, one of :data:`DF_METHODS`.
    weights : str or None
        Column of positive observation weights (SAS ``WEIGHT``).
    coordinates : tuple of str
        Numeric coordinate columns for ``sp_exp``, ``sp_pow`` and ``sp_gau``.
    conf_level : float
        Confidence level for intervals.
    visit_order : tuple of str or None
        Declared order of the visit labels (used for the covariance structure
        and the visit factor); None to take the categories of a pandas
        Categorical visit column, else the natural order of the labels.
    levels : dict
        Filled by :func:`resolve.stats.mmrm.design.build_design`: the level
        order of every categorical variable (first level = reference).
    """

    formula: str
    subject: str
    visit: str
    cov: str = "us"
    group: str | None = None
    method: str = "reml"
    df: str = "satterthwaite"
    weights: str | None = None
    coordinates: tuple[str, ...] = ()
    conf_level: float = 0.95
    visit_order: tuple[str, ...] | None = None
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        OneOf("cov", COVARIANCES)(self.cov)
        OneOf("method", METHODS)(self.method)
        OneOf("df", DF_METHODS)(self.df)
