"""Imagery scripts and ratings."""

from __future__ import annotations

import pytest

from resolve.errors import DataValidationError, UnknownNameError
from resolve.program.imagery import ImageryRating, load_script, rate, script_ids, scripts, summarise
from resolve.program.template import load_template


def test_bundled_scripts_cover_the_three_stages() -> None:
    assert set(load_template().imagery.scripts) == set(script_ids())
    assert {s.stage for s in scripts()} == {"imagined", "observed", "mirrored"}
    for s in scripts():
        assert s.body.startswith(f"# {s.title}\n")
        assert "0" in s.body and "10" in s.body  # the rating scales are explained


def test_ratings_are_integers_0_to_10() -> None:
    r = rate("rotation-seated", vividness=0, pain=10, week=4, setting="home")
    assert (r.vividness, r.pain, r.setting) == (0, 10, "home")
    with pytest.raises(
        DataValidationError, match="'pain': must be an integer in \\[0, 10\\]; got -1"
    ):
        rate("rotation-seated", vividness=5, pain=-1, week=4)
    with pytest.raises(DataValidationError, match="'vividness': must be an integer"):
        rate("rotation-seated", vividness=5.5, pain=1, week=4)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError, match="unknown imagery script 'spin'"):
        rate("spin", vividness=5, pain=1, week=4)
    with pytest.raises(UnknownNameError):
        load_script("spin")


def test_summary_means() -> None:
    ratings = [
        ImageryRating(script_id="lift-mirrored", week=5, vividness=v, pain=p)
        for v, p in ((4, 3), (6, 2), (8, 0))
    ]
    s = summarise(ratings)
    assert (s.n, s.mean_vividness, s.mean_pain) == (3, 6.0, pytest.approx(5 / 3))
    assert summarise([]).mean_vividness is None
