"""Norm comparisons and the published reference values."""

from __future__ import annotations

import pytest

from resolve.program.norms import LITERATURE, compare_lrj, compare_tpd
from resolve.program.template import load_template, parse_template, template_text

N = load_template().norms


def test_default_norms_are_the_published_guidelines() -> None:
    assert (N.lrj.accuracy_min, N.lrj.rt_mean_s, N.lrj.rt_sd_s, N.lrj.rt_upper_s) == (
        0.8,
        1.6,
        0.5,
        2.1,
    )
    assert N.tpd.lumbar_mm == 57.0
    assert "NOI" in N.lrj.source and "Wallwork" in N.lrj.source and "Bray" in N.lrj.source
    sources = " ".join(r.source for r in LITERATURE)
    for name in ("Bray & Moseley 2011", "Bowering", "Wallwork", "NOI", "Boonstra", "Adamczyk"):
        assert name in sources
    assert all(r.url.startswith("http") for r in LITERATURE)


@pytest.mark.parametrize(
    ("accuracy", "rt", "asym", "expected"),
    [
        (0.8, 2.1, 0.1, (True, True, True, True)),
        (0.79, 2.1, 0.1, (False, True, True, False)),
        (0.8, 2.11, -0.1, (True, False, True, False)),
        (0.9, 0.4, 0.0, (True, True, True, True)),  # faster than the band is never abnormal
        (0.9, 1.5, -0.11, (True, True, False, False)),
        (0.9, None, 0.0, (True, None, True, False)),
        (0.9, 1.5, None, (True, True, None, False)),
    ],
)
def test_compare_lrj(
    accuracy: float, rt: float | None, asym: float | None, expected: tuple[object, ...]
) -> None:
    c = compare_lrj(accuracy=accuracy, median_rt_s=rt, asymmetry_accuracy=asym, norms=N.lrj)
    assert (c.accuracy_ok, c.rt_ok, c.symmetric_ok, c.within_norm) == expected


def test_norms_come_from_the_template() -> None:
    custom = parse_template(template_text().replace("rt_mean_s = 1.6", "rt_mean_s = 2.0"), "t.toml")
    c = compare_lrj(accuracy=0.9, median_rt_s=2.3, asymmetry_accuracy=0.0, norms=custom.norms.lrj)
    assert c.rt_upper_s == 2.5 and c.rt_ok
    t = compare_tpd(50.0, norms=N.tpd)
    assert (t.difference_mm, t.above_reference) == (-7.0, False)
