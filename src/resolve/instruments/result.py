"""The result of scoring one respondent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from resolve._results import Result, jsonable

__all__ = ["ScoreResult"]


@dataclass(frozen=True)
class ScoreResult(Result):
    """Scores of one respondent on one instrument.

    Attributes
    ----------
    instrument, version : str
        Instrument id and version.
    respondent : object
        Respondent id, if given.
    scores : dict of str to float or None
        ``total`` and each subscale; ``None`` when the missing-item rule leaves
        the scale unscored.
    n_missing : int
        Number of unanswered scored items.
    missing_items : tuple of int
        Their item numbers.
    prorated : bool
        Whether any scale was prorated for missing items.
    categories : dict of str to str or None
        Cut-off classifications (``None`` when the score is missing).
    rules : dict of str to str
        The missing-item rule applied to each item-based scale, with its source.
    """

    instrument: str
    version: str
    respondent: object
    scores: dict[str, float | None]
    n_missing: int
    missing_items: tuple[int, ...]
    prorated: bool
    categories: dict[str, Any] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float | None:
        """The total score (``None`` when missing)."""
        return self.scores["total"]

    def to_frame(self) -> pd.DataFrame:
        row: dict[str, Any] = {"id": self.respondent, **self.scores}
        row.update(n_missing=self.n_missing, prorated=self.prorated, **self.categories)
        return pd.DataFrame([row])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(
            {
                "instrument": self.instrument,
                "version": self.version,
                "respondent": self.respondent,
                "scores": self.scores,
                "n_missing": self.n_missing,
                "missing_items": list(self.missing_items),
                "prorated": self.prorated,
                "categories": self.categories,
                "rules": self.rules,
            }
        )
        return out

    def summary(self) -> str:
        who = f" respondent {self.respondent}" if self.respondent is not None else ""
        lines = [f"{self.version}{who}"]
        for name, value in self.scores.items():
            shown = "missing" if value is None else f"{value:.4g}"
            lines.append(f"  {name:<14} {shown}")
        for name, label in self.categories.items():
            lines.append(f"  {name:<14} {label if label is not None else 'missing'}")
        extra = " (prorated)" if self.prorated else ""
        lines.append(f"  unanswered items: {self.n_missing}{extra}")
        return "\n".join(lines)
