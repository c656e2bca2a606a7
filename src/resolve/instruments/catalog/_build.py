"""Small helpers shared by the catalog definitions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from resolve.instruments.base import Band, Condition, Item

__all__ = ["bands_between", "items"]


def items(
    numbers: Iterable[int],
    low: int,
    high: int,
    *,
    prefix: str,
    reverse: Iterable[int] = (),
    distractors: Iterable[int] = (),
    labels: Mapping[int, str] | None = None,
    anchors: Mapping[int, str] | None = None,
) -> tuple[Item, ...]:
    """Items with shared codes; labels default to ``"<prefix> item <n>"``."""
    rev, dis, lab = set(reverse), set(distractors), dict(labels or {})
    return tuple(
        Item(
            number=n,
            label=lab.get(n, f"{prefix} item {n}"),
            low=low,
            high=high,
            reverse=n in rev,
            scored=n not in dis,
            anchors=dict(anchors or {}),
        )
        for n in numbers
    )


def bands_between(score: str, labels: Iterable[str], starts: Iterable[float]) -> tuple[Band, ...]:
    """Contiguous bands ``[start_k, start_k+1)`` on one score; the last is open-ended.

    ``starts`` gives the inclusive lower bound of every band after the first,
    so integer ranges such as 0-9, 10-13, 14-20 are written ``(10, 14)`` and
    prorated (non-integer) scores still fall in exactly one band.
    """
    names = list(labels)
    cuts = list(starts)
    if len(cuts) != len(names) - 1:
        raise ValueError("need one start per band after the first")
    out = []
    for k, name in enumerate(names):
        conds = []
        if k > 0:
            conds.append(Condition(score, ">=", cuts[k - 1]))
        if k < len(cuts):
            conds.append(Condition(score, "<", cuts[k]))
        out.append(Band(name, tuple(conds)))
    return tuple(out)
