"""Performance norms: the published reference values and the comparisons that use them.

The thresholds a programme uses (accuracy >= 80%, reaction time within 1.6 +/- 0.5 s,
left = right, the healthy lumbar two-point threshold) are configurable in the
template's ``[norms]`` tables; :func:`compare_lrj` and :func:`compare_tpd` compare a
result with them. :data:`LITERATURE` lists the published values they come from, with
sources, for reports and the documentation (docs/programme.md#norms).

Examples
--------
>>> from resolve.program.template import load_template
>>> n = load_template().norms
>>> c = compare_lrj(accuracy=0.85, median_rt_s=1.9, asymmetry_accuracy=0.05, norms=n.lrj)
>>> c.accuracy_ok, c.rt_ok, c.symmetric_ok, c.within_norm
(True, True, True, True)
>>> compare_tpd(64.0, norms=n.tpd).difference_mm
7.0
"""

from __future__ import annotations

from resolve.program._records import Record
from resolve.program._template_schema import LrjNorms, TpdNorms

__all__ = [
    "LITERATURE",
    "LrjNormComparison",
    "Reference",
    "TpdComparison",
    "compare_lrj",
    "compare_tpd",
]


class Reference(Record):
    """One published reference value (specs B6)."""

    measure: str
    values: str
    source: str
    url: str


#: Published values behind the default norms (specs/intervention-and-operations.md B6).
LITERATURE: tuple[Reference, ...] = (
    Reference(
        measure="LRJ trunk accuracy",
        values="Controls 87%; unilateral LBP 67%; bilateral LBP 53%; RT did not differ; hand "
        "LRJ about 83% in all groups",
        source="Bray & Moseley 2011, Br J Sports Med 45:168",
        url="https://bjsm.bmj.com/content/45/3/168",
    ),
    Reference(
        measure="LRJ trunk online (n = 1008)",
        values="Current or past LBP 76% vs more than 84% in others",
        source="Bowering et al. 2014, Clin J Pain",
        url="http://journals.lww.com/clinicalpain/Citation/2014/12000/",
    ),
    Reference(
        measure="LRJ neck norms (n = 1361)",
        values="RT 1.621 +/- 0.501 s; median accuracy 92.5%; RT rises with age, female sex, "
        "left-handedness and image rotation",
        source="Wallwork et al. 2013",
        url="https://digital.library.adelaide.edu.au/dspace/handle/2440/78356",
    ),
    Reference(
        measure="LRJ guideline thresholds",
        values=">= 80% accuracy; backs and necks 1.6 +/- 0.5 s; hands and feet 2.0 +/- 0.5 s; "
        "left = right; stable for >= 1 week (guidelines, not diagnostic cut-offs)",
        source="NOI group, Recognise / graded motor imagery guidance",
        url="https://www.noigroup.com/gmi-stage-1/",
    ),
    Reference(
        measure="LRJ practice effect",
        values="Re-test RT -8 to -20%, accuracy +3% after 3 weeks in healthy people: test with "
        "images not used in training",
        source="Boonstra et al. 2012",
        url="https://discovery.researcher.life/",
    ),
    Reference(
        measure="Lumbar two-point discrimination",
        values="About 57 mm in healthy lumbar tests; larger in LBP subgroups with an expanded "
        "back image; TPD alone did not separate chronic LBP from controls in one study",
        source="Adamczyk et al. 2017; BMC Musculoskelet Disord 2021",
        url="https://bmcmusculoskeletdisord.biomedcentral.com/articles/10.1186/s12891-021-04269-7",
    ),
    Reference(
        measure="Movement control tests",
        values="Only movement control tests discriminated chronic LBP from controls (OR 1.92)",
        source="BMC Musculoskelet Disord 2021",
        url="https://bmcmusculoskeletdisord.biomedcentral.com/articles/10.1186/s12891-021-04269-7",
    ),
)


class LrjNormComparison(Record):
    """A left/right judgement result against the template's norms.

    A check whose value is missing (no correct answer, hence no RT; one side never
    shown) is None, and then ``within_norm`` is False: a missing value never passes.
    """

    accuracy: float
    accuracy_min: float
    accuracy_ok: bool
    median_rt_s: float | None
    rt_upper_s: float
    rt_ok: bool | None
    asymmetry_accuracy: float | None
    asymmetry_max: float
    symmetric_ok: bool | None
    within_norm: bool


def compare_lrj(
    *,
    accuracy: float,
    median_rt_s: float | None,
    asymmetry_accuracy: float | None,
    norms: LrjNorms,
) -> LrjNormComparison:
    """Compare accuracy, median RT and |left - right| accuracy with the LRJ norms.

    Accuracy is normal at or above ``accuracy_min``; RT at or below ``rt_mean_s +
    rt_sd_s`` (faster is never abnormal); left = right when ``|accuracy left -
    accuracy right| <= asymmetry_max``.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> n = load_template().norms.lrj
    >>> compare_lrj(accuracy=0.8, median_rt_s=2.2, asymmetry_accuracy=0.0, norms=n).rt_ok
    False
    """
    rt_ok = None if median_rt_s is None else median_rt_s <= norms.rt_upper_s
    sym_ok = None if asymmetry_accuracy is None else abs(asymmetry_accuracy) <= norms.asymmetry_max
    acc_ok = accuracy >= norms.accuracy_min
    return LrjNormComparison(
        accuracy=accuracy,
        accuracy_min=norms.accuracy_min,
        accuracy_ok=acc_ok,
        median_rt_s=median_rt_s,
        rt_upper_s=norms.rt_upper_s,
        rt_ok=rt_ok,
        asymmetry_accuracy=asymmetry_accuracy,
        asymmetry_max=norms.asymmetry_max,
        symmetric_ok=sym_ok,
        within_norm=bool(acc_ok and rt_ok and sym_ok),
    )


class TpdComparison(Record):
    """A two-point threshold against the healthy lumbar reference."""

    threshold_mm: float
    reference_mm: float
    difference_mm: float
    above_reference: bool


def compare_tpd(threshold_mm: float, *, norms: TpdNorms) -> TpdComparison:
    """Compare a lumbar two-point threshold with the healthy reference.

    ``above_reference`` (a larger threshold = poorer acuity) is descriptive only: TPD
    alone does not separate people with chronic back pain from others.

    Examples
    --------
    >>> from resolve.program.template import load_template
    >>> compare_tpd(50.0, norms=load_template().norms.tpd).above_reference
    False
    """
    return TpdComparison(
        threshold_mm=threshold_mm,
        reference_mm=norms.lumbar_mm,
        difference_mm=threshold_mm - norms.lumbar_mm,
        above_reference=threshold_mm > norms.lumbar_mm,
    )
