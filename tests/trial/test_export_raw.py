"""Trial export: item-level raw data (resolve.trial.exports.raw)."""

from __future__ import annotations

from typing import Any

from resolve.trial.exports import raw_items
from tests.trial.test_export import trial

__all__ = ["trial"]  # the fixture, shared with the export tests


def test_raw_items_one_row_per_recorded_item(trial: dict[str, Any]) -> None:
    r = trial["responses"]
    items = raw_items(r)
    assert list(items.columns) == [
        "participant_id",
        "visit",
        "instrument",
        "item",
        "code",
        "recorded_at",
        "version",
    ]
    assert len(items) == sum(len(d) for d in r["items"])
    one = items[(items["instrument"] == "tsk17") & (items["participant_id"] == "R001")]
    assert one["item"].tolist() == list(range(1, 18))
    assert set(one["code"]) <= {1, 2, 3, 4}
