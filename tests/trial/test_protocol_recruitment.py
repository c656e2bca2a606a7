"""The protocol's recruitment keys: target sample size and planned recruitment period."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest

from resolve.errors import DataValidationError
from resolve.trial.protocol import Protocol, load_protocol

BUNDLED = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()
TARGET = "target_sample_size = 276\n"


def load_text(tmp_path: Path, text: str) -> Protocol:
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return load_protocol(path)


def with_lines(lines: str) -> str:
    assert TARGET in BUNDLED
    return BUNDLED.replace(TARGET, lines, 1)


def test_bundled_protocol_sets_the_published_target_and_no_planned_period() -> None:
    p = load_protocol()
    assert p.target_sample_size == 276
    assert p.recruitment_start is None and p.recruitment_end is None
    # the known dates are in the file as comments, marked as what they are
    assert "# recruitment_start = 2015-12-10" in BUNDLED
    assert "# recruitment_end = 2019-07-25" in BUNDLED


def test_all_three_keys_are_optional(tmp_path: Path) -> None:
    p = load_text(tmp_path, with_lines(""))
    assert (p.target_sample_size, p.recruitment_start, p.recruitment_end) == (None, None, None)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2016-01-04", "2018-12-31"),  # TOML dates
        ('"2016-01-04"', '"2018-12-31"'),  # ISO strings
    ],
)
def test_dates_as_toml_dates_or_iso_strings(tmp_path: Path, start: str, end: str) -> None:
    text = with_lines(
        f"target_sample_size = 120\nrecruitment_start = {start}\nrecruitment_end = {end}\n"
    )
    p = load_text(tmp_path, text)
    assert p.target_sample_size == 120
    assert (p.recruitment_start, p.recruitment_end) == (date(2016, 1, 4), date(2018, 12, 31))


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("target_sample_size = 0", "[trial] 'target_sample_size': must be an integer >= 1; got 0"),
        (
            "target_sample_size = 27.5",
            "[trial] 'target_sample_size': must be an integer >= 1; got 27.5",
        ),
        (
            'target_sample_size = "276"',
            "[trial] 'target_sample_size': must be an integer >= 1; got '276'",
        ),
        (
            "target_sampel_size = 276",
            "[trial] unknown key 'target_sampel_size' (did you mean 'target_sample_size'?)",
        ),
        (
            "recruitment_start = 2016-01-04T09:00:00",
            "[trial] 'recruitment_start': must be a date without a time (YYYY-MM-DD); "
            "got 2016-01-04T09:00:00",
        ),
        (
            'recruitment_start = "04/01/2016"',
            "[trial] 'recruitment_start': must be a date (YYYY-MM-DD, e.g. 2015-12-10); "
            "got '04/01/2016'",
        ),
        (
            'recruitment_end = "2016-02-30"',
            "[trial] 'recruitment_end': must be a date (YYYY-MM-DD, e.g. 2015-12-10); "
            "got '2016-02-30'",
        ),
        (
            "recruitment_end = 20160104",
            "[trial] 'recruitment_end': must be a date (YYYY-MM-DD, e.g. 2015-12-10); got 20160104",
        ),
        (
            "recruitment_start = 2016-01-04\nrecruitment_end = 2016-01-04",
            "[trial] 'recruitment_end': must be after 'recruitment_start' (2016-01-04); "
            "got 2016-01-04",
        ),
        (
            "recruitment_start = 2016-01-04\nrecruitment_end = 2015-06-30",
            "[trial] 'recruitment_end': must be after 'recruitment_start' (2016-01-04); "
            "got 2015-06-30",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(tmp_path: Path, lines: str, message: str) -> None:
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, with_lines(lines + "\n"))
    assert str(info.value) == f"trial.toml: {message}"
