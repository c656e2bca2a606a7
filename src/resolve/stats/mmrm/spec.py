"""The frozen specification of an MMRM: every encoding decision in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from resolve._validation import OneOf

__all__ = ["CONVENTIONS", "COVARIANCES", "DF_METHODS", "METHODS", "MMRMSpec"]

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
#: Where SAS PROC MIXED and R mmrm compute the same method differently (docs/mmrm.md,
#: "Parity"): follow SAS (the default) or R mmrm.
CONVENTIONS: tuple[str, ...] = ("sas", "mmrm")
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
    convention : {"sas", "mmrm"}
        Which reference to follow where SAS and R mmrm differ: the second-order
        term of ``kenward-roger`` (SAS: in SAS's covariance parameters; mmrm: in
        the unconstrained ``theta``) and the intercept's df under
        ``between-within`` and ``empirical`` (SAS: between-subject; mmrm:
        within-subject).
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
    convention: str = "sas"
    levels: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        OneOf("cov", COVARIANCES)(self.cov)
        OneOf("method", METHODS)(self.method)
        OneOf("df", DF_METHODS)(self.df)
        OneOf("convention", CONVENTIONS)(self.convention)
