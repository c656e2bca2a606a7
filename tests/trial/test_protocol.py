"""Protocol loading: the bundled RESOLVE protocol and every DataValidationError branch."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from resolve.errors import DataValidationError, ResolveError
from resolve.instruments import available
from resolve.trial.protocol import Protocol, load_protocol

BUNDLED = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()


def load_text(tmp_path: Path, text: str) -> Protocol:
    path = tmp_path / "trial.toml"
    path.write_text(text, encoding="utf-8")
    return load_protocol(path)


def edited(old: str, new: str) -> str:
    assert old in BUNDLED, old
    return BUNDLED.replace(old, new, 1)


@pytest.fixture(scope="module")
def protocol() -> Protocol:
    return load_protocol()


# ----------------------------------------------------------------------------- bundled
def test_bundled_resolve_protocol(protocol: Protocol) -> None:
    assert protocol.name == "RESOLVE" and protocol.version == "1.0"
    assert [(a.name, a.ratio) for a in protocol.arms] == [("sham", 1), ("resolve", 1)]
    assert protocol.strata == ("site",) and protocol.strata_levels == {"site": ("sydney",)}
    r = protocol.randomisation
    assert r.method == "blocks" and r.block_sizes == (2, 4, 6)
    assert r.list_length_per_stratum >= 276
    assert protocol.consent_versions == ("1.0",)
    assert protocol.source == "resolve.toml (bundled)"
    assert protocol.allocation_factors == ("site",)


def test_bundled_visits(protocol: Protocol) -> None:
    names = [v.name for v in protocol.visits]
    assert names == [
        "screening",
        "baseline",
        *(f"session {k}" for k in range(1, 13)),
        "week 12",
        "week 18",
        "week 26",
        "week 52",
    ]
    sessions = [v for v in protocol.visits if v.kind == "session"]
    assert [v.week for v in sessions] == list(range(1, 13))
    assert all(v.window_before_days == v.window_after_days == 3 for v in sessions)
    assert protocol.visit("baseline").week == 0
    assert [protocol.visit(f"week {w}").week for w in (12, 18, 26, 52)] == [12, 18, 26, 52]
    baseline = set(protocol.visit("baseline").instruments)
    assert {"nrs", "rmdq24", "pseq", "pcs", "tsk17", "frebaq", "bbq"} <= baseline
    assert "psychoactive_medication" in baseline
    mediators = {"pseq", "pcs", "tsk17", "frebaq", "bbq"}
    assert mediators <= set(protocol.visit("week 12").instruments)
    for w in (18, 26, 52):
        assert set(protocol.visit(f"week {w}").instruments) == {"nrs", "rmdq24", "gpe"}
    known = {i.id for i in available()}
    assert set(protocol.instruments) <= known


def test_visit_names_match_the_analysis_plan(protocol: Protocol) -> None:
    # The export feeds `resolve analyze`, whose plan names these visits.
    from resolve.analysis.plan import load_plan

    plan = load_plan()
    assert set(plan.trial.visits) <= {v.name for v in protocol.visits}
    assert set(plan.trial.arms) == set(protocol.arm_names)


def test_bundled_eligibility(protocol: Protocol) -> None:
    e = protocol.eligibility
    assert (e.age_min, e.age_max, e.duration_weeks_min, e.pain_min) == (18, 70, 12.0, 3)
    names = [x.name for x in e.exclusions]
    assert {"serious_spinal_pathology", "spinal_surgery", "pregnancy", "radiculopathy"} <= set(
        names
    )
    assert e.exclusion("pregnancy").label == "Pregnancy"
    with pytest.raises(DataValidationError, match="unknown exclusion 'x'; known: serious"):
        e.exclusion("x")


def test_same_protocol_from_file(tmp_path: Path, protocol: Protocol) -> None:
    again = load_text(tmp_path, BUNDLED)
    assert again.source == "trial.toml"
    assert again.arms == protocol.arms and again.visits == protocol.visits
    assert again.randomisation == protocol.randomisation
    assert again.eligibility == protocol.eligibility


def test_unknown_visit_lookup(protocol: Protocol) -> None:
    with pytest.raises(DataValidationError, match="unknown visit 'week 99'"):
        protocol.visit("week 99")


MINIMISATION = """
[trial]
name = "Mini"
version = "2"
consent_versions = ["2.0", "2.1"]

[[arms]]
name = "control"
ratio = 1

[[arms]]
name = "active"
ratio = 2

[factors]
site = ["a", "b"]
sex = ["f", "m"]

[randomisation]
method = "minimisation"
minimisation_factors = ["site", "sex"]
minimisation_weights = [2, 1]
minimisation_p = 0.85
initial_random = 10
imbalance = "variance"

[[visits]]
name = "baseline"
kind = "baseline"
week = 0
instruments = ["nrs"]

[[visits]]
name = "end"
kind = "follow-up"
week = 8.5
window_before_days = 3
window_after_days = 7
instruments = ["nrs", "gpe"]

[eligibility]
"""


def test_minimal_minimisation_protocol(tmp_path: Path) -> None:
    p = load_text(tmp_path, MINIMISATION)
    r = p.randomisation
    assert r.method == "minimisation" and r.minimisation_factors == ("site", "sex")
    assert r.weights == (2.0, 1.0) and r.minimisation_p == 0.85 and r.initial_random == 10
    assert r.imbalance == "variance" and r.block_sizes == () and p.strata == ()
    assert p.strata_levels == {"site": ("a", "b"), "sex": ("f", "m")}
    assert p.allocation_factors == ("site", "sex")
    assert p.visit("end").week == 8.5 and p.visit("baseline").window_before_days == 0
    # eligibility defaults are RESOLVE's
    assert (p.eligibility.age_min, p.eligibility.age_max, p.eligibility.pain_min) == (18, 70, 3)
    assert p.eligibility.exclusions == () and p.consent_versions == ("2.0", "2.1")


def test_equal_weights_by_default(tmp_path: Path) -> None:
    p = load_text(tmp_path, MINIMISATION.replace("minimisation_weights = [2, 1]\n", ""))
    assert p.randomisation.weights == (1.0, 1.0)


# ----------------------------------------------------------------------------- errors
# (edit of the bundled file, the message after "trial.toml: " -- the whole message, or its
# start when it ends with a long listing).
BUNDLED_ERRORS = [
    # trial table
    ('name = "RESOLVE"\n', "", "[trial] missing key 'name'"),
    ('version = "1.0"  ', "version = 1  ", "[trial] 'version': must be a non-empty string; got 1"),
    (
        'consent_versions = ["1.0"]',
        "consent_versions = []",
        "[trial] 'consent_versions': must name at least one version",
    ),
    (
        'consent_versions = ["1.0"]',
        'consent_versions = ["1.0", "1.0"]',
        "[trial] 'consent_versions': lists '1.0' twice",
    ),
    (
        'consent_versions = ["1.0"]',
        'consent_versions = "1.0"',
        "[trial] 'consent_versions': must be a list of non-empty strings; got '1.0'",
    ),
    (
        "[trial]\n",
        "[trial]\nsponsor = 'x'\n",
        "[trial] unknown key 'sponsor' (allowed: name, version, consent_versions)",
    ),
    (
        "[trial]\n",
        "[trial]\nversoin = 'x'\n",
        "[trial] unknown key 'versoin' (did you mean 'version'?)",
    ),
    # arms
    (
        'name = "sham"  ',
        'name = "resolve"  ',
        "[[arms]] #2 'name': 'resolve' also names [[arms]] #1; arm names must be unique",
    ),
    ("ratio = 1\n", "ratio = 0\n", "[[arms]] #1 'ratio': must be an integer >= 1; got 0"),
    ("ratio = 1\n", "ratio = 1.5\n", "[[arms]] #1 'ratio': must be an integer >= 1; got 1.5"),
    ("ratio = 1\n", "ratio = true\n", "[[arms]] #1 'ratio': must be an integer >= 1; got True"),
    (
        "ratio = 1\n",
        "ratio = 1\ncolour = 'red'\n",
        "[[arms]] #1 unknown key 'colour' (allowed: name, ratio)",
    ),
    ("ratio = 1\n", "ration = 1\n", "[[arms]] #1 unknown key 'ration' (did you mean 'ratio'?)"),
    # factors and strata
    ('site = ["sydney"]', "site = []", "[factors] 'site': needs at least one level"),
    ('site = ["sydney"]', 'site = ["a", "a"]', "[factors] 'site': lists 'a' twice"),
    (
        'strata = ["site"]',
        'strata = ["sex"]',
        "[randomisation] 'strata': names factor 'sex', which [factors] does not define "
        "(defined: site)",
    ),
    # randomisation
    (
        'method = "blocks"',
        'method = "urn"',
        "[randomisation] 'method': must be one of blocks, minimisation; got 'urn'",
    ),
    (
        "block_sizes = [2, 4, 6]",
        "block_sizes = [2, 3, 6]",
        "[randomisation] 'block_sizes': 3 not a positive multiple of the sum of arm ratios (2)",
    ),
    (
        "block_sizes = [2, 4, 6]",
        "block_sizes = [0, 2]",
        "[randomisation] 'block_sizes': 0 not a positive multiple of the sum of arm ratios (2)",
    ),
    (
        "block_sizes = [2, 4, 6]",
        "block_sizes = [2, 2]",
        "[randomisation] 'block_sizes': repeats a size ([2, 2])",
    ),
    (
        "block_sizes = [2, 4, 6]",
        'block_sizes = ["2"]',
        "[randomisation] 'block_sizes': must be a list of integers; got ['2']",
    ),
    (
        "block_sizes = [2, 4, 6]",
        "block_sizes = []",
        "[randomisation] method 'blocks' needs 'block_sizes'",
    ),
    (
        "list_length_per_stratum = 400",
        "list_length_per_stratum = 0",
        "[randomisation] method 'blocks' needs 'list_length_per_stratum' >= 1",
    ),
    (
        "list_length_per_stratum = 400",
        "list_length_per_stratum = -1",
        "[randomisation] 'list_length_per_stratum': must be an integer >= 0; got -1",
    ),
    (
        "minimisation_p = 0.8 ",
        "minimisation_p = 0.3 ",
        "[randomisation] 'minimisation_p': must be a number in [0.5, 1]; got 0.3",
    ),
    (
        "minimisation_p = 0.8 ",
        'minimisation_p = "high" ',
        "[randomisation] 'minimisation_p': must be a number in [0.5, 1]; got 'high'",
    ),
    (
        "minimisation_p = 0.8 ",
        "minimisation_p = nan ",
        "[randomisation] 'minimisation_p': must be a number in [0.5, 1]; got nan",
    ),
    (
        "initial_random = 0 ",
        "initial_random = -5 ",
        "[randomisation] 'initial_random': must be an integer >= 0; got -5",
    ),
    (
        'imbalance = "range"',
        'imbalance = "sd"',
        "[randomisation] 'imbalance': must be one of range, variance; got 'sd'",
    ),
    (
        "minimisation_factors = []",
        'minimisation_factors = ["age"]',
        "[randomisation] 'minimisation_factors': names factor 'age', which [factors] does not "
        "define (defined: site)",
    ),
    (
        "minimisation_factors = []",
        "minimisation_factors = []\nweights = [1]",
        "[randomisation] unknown key 'weights' (allowed: method, strata, block_sizes, ",
    ),
    # visits
    (
        'name = "week 26"',
        'name = "week 18"',
        "[[visits]] #17 'name': 'week 18' also names [[visits]] #16; visit names must be unique",
    ),
    (
        '"bbq", "gpe"]',
        '"bbq", "sf36"]',
        "[[visits]] #15 'instruments': unknown instrument 'sf36'; known: nrs, rmdq24, ",
    ),
    (
        '["nrs", "rmdq24", "gpe"]',
        '["nrs", "nrs"]',
        "[[visits]] #16 'instruments': lists 'nrs' twice",
    ),
    (
        "window_after_days = 28",
        "window_after_days = -1",
        "[[visits]] #18 'window_after_days': must be an integer >= 0; got -1",
    ),
    (
        "window_before_days = 14         # project default: wider",
        "window_before_days = 1.5  # ",
        "[[visits]] #18 'window_before_days': must be an integer >= 0; got 1.5",
    ),
    (
        'kind = "session"',
        'kind = "treatment"',
        "[[visits]] #3 'kind': must be one of screening, baseline, session, follow-up; "
        "got 'treatment'",
    ),
    (
        'kind = "baseline"',
        'kind = "follow-up"',
        "[[visits]] exactly one visit must have kind 'baseline'; found 0",
    ),
    (
        "week = 52",
        "week = 5",
        "[[visits]] #18 'week': visits must be in time order; got week 5, before 'week 26' "
        "(week 26)",
    ),
    ("week = 52", 'week = "52"', "[[visits]] #18 'week': must be a finite number; got '52'"),
    ("week = 52", "week = inf", "[[visits]] #18 'week': must be a finite number; got inf"),
    (
        'name = "week 52"',
        'name = "week 52"\nreminder = true',
        "[[visits]] #18 unknown key 'reminder' (allowed: name, week, window_before_days, ",
    ),
    ('name = "week 52"', 'name = ""', "[[visits]] #18 'name': must be a non-empty string; got ''"),
    # eligibility
    (
        "age_min = 18",
        "age_min = 80",
        "[eligibility] 'age_max': must be at least 'age_min' (80); got 70",
    ),
    (
        "age_min = 18",
        "age_min = 18.5",
        "[eligibility] 'age_min': must be an integer >= 0; got 18.5",
    ),
    (
        "pain_min = 3",
        "pain_min = 11",
        "[eligibility] 'pain_min': must be an integer in [0, 10]; got 11",
    ),
    (
        "duration_weeks_min = 12",
        "duration_weeks_min = -1",
        "[eligibility] 'duration_weeks_min': must be a number >= 0; got -1",
    ),
    (
        "pain_min = 3",
        "pain_min = 3\nbmi_max = 40",
        "[eligibility] unknown key 'bmi_max' (allowed: age_min, age_max, duration_weeks_min, ",
    ),
    (
        'name = "pregnancy"',
        'name = "radiculopathy"',
        "[[eligibility.exclusions]] #4 'name': 'radiculopathy' also names "
        "[[eligibility.exclusions]] #3; exclusion names must be unique",
    ),
    (
        'name = "pregnancy"',
        'name = "Pregnant women"',
        "[[eligibility.exclusions]] #4 'name': must be lower-case letters, digits, '_' or '-'; "
        "got 'Pregnant women'",
    ),
    ('label = "Pregnancy"', "", "[[eligibility.exclusions]] #4 missing key 'label'"),
    # top level
    ("[eligibility]\n", "[eligibility]\n[extra]\n", "unknown key 'extra' (allowed: trial, arms, "),
    ("[eligibility]\n", "[eligibilty]\n", "unknown key 'eligibilty' (did you mean 'eligibility'?)"),
]


@pytest.mark.parametrize(("old", "new", "message"), BUNDLED_ERRORS)
def test_every_validation_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, edited(old, new))
    text = str(info.value)
    if message.endswith(" "):  # the start of a long message
        assert text.startswith(f"trial.toml: {message}"), text
    else:
        assert text == f"trial.toml: {message}"
    assert isinstance(info.value, ResolveError) and isinstance(info.value, ValueError)


def test_missing_tables(tmp_path: Path) -> None:
    cut = BUNDLED[: BUNDLED.index("[[visits]]")]
    with pytest.raises(DataValidationError, match=r"missing \[\[visits\]\] entries"):
        load_text(tmp_path, cut)
    with pytest.raises(DataValidationError, match=r"missing table \[randomisation\]"):
        start, end = MINIMISATION.index("[randomisation]"), MINIMISATION.index("[[visits]]")
        load_text(tmp_path, MINIMISATION[:start] + MINIMISATION[end:])
    with pytest.raises(DataValidationError, match=r"missing table \[eligibility\]"):
        load_text(tmp_path, MINIMISATION.replace("[eligibility]", ""))
    with pytest.raises(DataValidationError, match=r"\[trial\] must be a table"):
        load_text(tmp_path, 'trial = "x"\n' + BUNDLED[BUNDLED.index("[[arms]]") :])


def test_one_arm_is_refused(tmp_path: Path) -> None:
    text = MINIMISATION.replace('[[arms]]\nname = "active"\nratio = 2\n', "")
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, text)
    assert str(info.value) == "trial.toml: [[arms]] must list at least two arms; got 1"


def test_block_sizes_follow_unequal_ratios(tmp_path: Path) -> None:
    text = MINIMISATION.replace(
        'method = "minimisation"', 'method = "blocks"\nblock_sizes = [3, 6]'
    )
    text = text.replace("initial_random = 10", "initial_random = 10\nlist_length_per_stratum = 9")
    assert load_text(tmp_path, text).randomisation.block_sizes == (3, 6)
    with pytest.raises(DataValidationError, match="4 not a positive multiple of the sum of arm"):
        load_text(tmp_path, text.replace("[3, 6]", "[3, 4]"))


def test_minimisation_needs_factors_and_matching_weights(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="needs 'minimisation_factors'"):
        load_text(tmp_path, MINIMISATION.replace('["site", "sex"]', "[]").replace("[2, 1]", "[]"))
    with pytest.raises(DataValidationError, match="has 1 values for 2 minimisation_factors"):
        load_text(tmp_path, MINIMISATION.replace("[2, 1]", "[2]"))
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, MINIMISATION.replace("[2, 1]", "[2, 0]"))
    assert str(info.value) == (
        "trial.toml: [randomisation] 'minimisation_weights'[1]: must be a number > 0; got 0"
    )
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, MINIMISATION.replace("[2, 1]", "[2, true]"))
    assert str(info.value) == (
        "trial.toml: [randomisation] 'minimisation_weights': must be a list of numbers > 0; "
        "got [2, True]"
    )


def test_at_most_one_screening_visit(tmp_path: Path) -> None:
    text = edited('name = "baseline"\nkind = "baseline"', 'name = "rescreen"\nkind = "screening"')
    with pytest.raises(DataValidationError, match=r"at most one 'screening'|exactly one visit"):
        load_text(tmp_path, text)
    visits = '[[visits]]\nname = "s{k}"\nkind = "screening"\nweek = 0\n'
    text = MINIMISATION.replace(
        "[[visits]]", visits.format(k=1) + visits.format(k=2) + "[[visits]]", 1
    )
    with pytest.raises(DataValidationError, match="at most one 'screening' visit"):
        load_text(tmp_path, text)


def test_bad_exclusions_table(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, MINIMISATION + 'exclusions = "none"\n')
    assert str(info.value) == (
        "trial.toml: [[eligibility.exclusions]] must be one or more tables; got 'none'"
    )


def test_not_toml_and_unreadable(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match=r"trial\.toml: not valid TOML"):
        load_text(tmp_path, "[trial\nname=")
    with pytest.raises(DataValidationError, match="cannot read protocol file"):
        load_protocol(tmp_path / "absent.toml")


def test_arms_must_be_tables(tmp_path: Path) -> None:
    start, end = MINIMISATION.index("[[arms]]"), MINIMISATION.index("[factors]")
    text = 'arms = ["a", "b"]\n' + MINIMISATION[:start] + MINIMISATION[end:]
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, text)
    assert str(info.value) == "trial.toml: [[arms]] #1 must be a table; got 'a'"
    text = 'arms = "a"\n' + MINIMISATION[:start] + MINIMISATION[end:]
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, text)
    assert str(info.value) == "trial.toml: [[arms]] must be one or more tables; got 'a'"
