"""One row per participant: arm, baseline modifiers and covariates, outcome by visit.

The effect-modifier, individual-benefit and imputation analyses all work on this
wide layout. Baseline characteristics (modifiers, covariates) are constant per
participant; the first non-missing value of each is used. Outcomes keep their
missing values (NaN); nothing is filled in.

Examples
--------
>>> from resolve import datasets
>>> from resolve.analysis.plan import load_plan
>>> w = wide_data(datasets.load("resolve"), load_plan())
>>> w.n, w.arms, w.visits[-1], w.outcome("pain", "week 52").isna().sum()
(276, ('sham', 'resolve'), 'week 52', np.int64(28))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from resolve.analysis.plan import Plan
from resolve.analysis.validate import covariate_factors
from resolve.errors import DataValidationError

__all__ = ["WideData", "wide_data"]


@dataclass(frozen=True, eq=False)
class WideData:
    """Participant-level data of one trial under one plan."""

    plan: Plan
    subjects: pd.Index
    arm: npt.NDArray[np.str_]
    arms: tuple[str, ...]
    """Arms present in the data, reference first, then in plan order."""
    baseline: pd.DataFrame
    """Modifier and covariate columns, one row per participant (numbers as float64;
    categorical covariates as pandas Categoricals, levels in model order)."""
    outcomes: dict[str, pd.DataFrame]
    """Outcome name -> participants x visits (every plan visit; absent visits all NaN)."""
    visits: tuple[str, ...]
    """Follow-up visits with at least one observed outcome value."""
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Categorical covariates: column -> levels (reference first)."""

    @property
    def n(self) -> int:
        return len(self.subjects)

    def outcome(self, name: str, visit: str) -> pd.Series:
        return self.outcomes[name][visit]

    def arm_indicators(self) -> npt.NDArray[np.float64]:
        """n x (arms − 1) matrix of 0/1 indicators of the non-reference arms."""
        return np.column_stack([(self.arm == a).astype(float) for a in self.arms[1:]])

    @property
    def contrast_labels(self) -> tuple[str, ...]:
        return tuple(f"{a} - {self.arms[0]}" for a in self.arms[1:])

    def contrasts(self) -> list[tuple[str, npt.NDArray[np.float64]]]:
        """The plan's contrasts among the arms present, as weights on the arm indicators.

        Each non-reference arm minus the reference arm, then the plan's
        ``extra_contrasts`` (:func:`resolve.analysis.primary.contrast_pairs`): the label
        ``"<arm> - <comparator>"`` and a vector ``w`` (length arms − 1) so that the
        contrast is ``w · δ`` for the arm effects δ (arm minus reference).
        """
        from resolve.analysis.primary import contrast_label, contrast_pairs

        out = []
        for a, b in contrast_pairs(self.plan, list(self.arms)):
            vec = np.zeros(len(self.arms) - 1)
            if a != self.arms[0]:
                vec[self.arms.index(a) - 1] += 1.0
            if b != self.arms[0]:
                vec[self.arms.index(b) - 1] -= 1.0
            out.append((contrast_label((a, b)), vec))
        return out

    def covariate_missing(self) -> npt.NDArray[np.bool_]:
        """n-vector: True where any covariate of the plan is missing."""
        miss = np.zeros(self.n, dtype=bool)
        for col in dict.fromkeys(self.plan.analysis.covariates):
            miss |= self.baseline[col].isna().to_numpy()
        return miss

    def covariate_design(
        self, mask: npt.NDArray[np.bool_] | None = None
    ) -> tuple[list[npt.NDArray[np.float64]], list[str], list[tuple[str, str | None]]]:
        """Design columns of the covariates for the participants in ``mask``.

        A numeric covariate is one column; a categorical one is a 0/1 column per
        level present among those participants, except the first present level
        (treatment coding; the reference is the first level in model order that has
        participants).  Returns the columns, their names (``"sex[male]"`` for a
        level) and keys ``(covariate, level or None)``.
        """
        rows = np.ones(self.n, dtype=bool) if mask is None else mask
        values: list[npt.NDArray[np.float64]] = []
        names: list[str] = []
        keys: list[tuple[str, str | None]] = []
        for col in dict.fromkeys(self.plan.analysis.covariates):
            if col in self.factors:
                codes = self.baseline[col].astype(object).to_numpy()[rows]
                present = [lv for lv in self.factors[col] if (codes == lv).any()]
                for lv in present[1:]:
                    values.append((codes == lv).astype(float))
                    names.append(f"{col}[{lv}]")
                    keys.append((col, lv))
            else:
                values.append(self.baseline[col].to_numpy(dtype=float)[rows])
                names.append(col)
                keys.append((col, None))
        return values, names, keys


def wide_data(data: pd.DataFrame, plan: Plan, *, source: str = "data") -> WideData:
    """Validate ``data`` against ``plan`` and reshape it to one row per participant.

    Raises
    ------
    DataValidationError
        From :meth:`Plan.validate_data`, or when the reference arm or a second
        arm is absent from the data.
    """
    t = plan.trial
    df = plan.validate_data(data, source=source)
    base_cols = list(
        dict.fromkeys([m.column for m in plan.modifiers] + list(plan.analysis.covariates))
    )
    grouped = df.groupby(t.subject, sort=False)
    factors = {c: f.levels for c, f in covariate_factors(df, plan, source=source).items()}
    baseline = grouped[base_cols].first()
    for c in base_cols:
        if c in factors:
            baseline[c] = pd.Categorical(baseline[c].astype(object), categories=list(factors[c]))
        else:
            baseline[c] = baseline[c].astype(float)
    subjects = baseline.index
    arm = np.asarray(grouped[t.arm].first().reindex(subjects).astype(str).to_numpy(), dtype=np.str_)
    present = set(arm.tolist())
    if t.reference_arm not in present:
        raise DataValidationError(
            f"{source}: no participant in the reference arm {t.reference_arm!r}"
        )
    arms = (t.reference_arm, *(a for a in t.arms if a != t.reference_arm and a in present))
    if len(arms) < 2:
        raise DataValidationError(f"{source}: only one arm ({t.reference_arm!r}) in the data")
    outcomes: dict[str, pd.DataFrame] = {}
    for o in plan.outcomes:
        wide = df.pivot(index=t.subject, columns=t.visit, values=o.column)
        wide = wide.reindex(index=subjects, columns=list(t.visits)).astype(float)
        wide.columns = pd.Index([str(c) for c in wide.columns])
        outcomes[o.name] = wide
    visits = tuple(
        v
        for v in t.followup_visits
        if any(outcomes[o.name][v].notna().any() for o in plan.outcomes)
    )
    return WideData(plan, subjects, arm, arms, baseline, outcomes, visits, factors)
