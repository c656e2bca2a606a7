"""Protocol loading: the bundled RESOLVE protocol and every DataValidationError branch."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from resolve.errors import DataValidationError, ResolveError
from resolve.instruments import available
from resolve.trial.ids import DEFAULT_ID_PATTERN
from resolve.trial.protocol import (
    MAX_ARMS,
    MAX_FACTORS,
    MAX_LEVELS,
    MAX_LIST_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SEQUENCE_ENTRIES,
    MAX_STRATA,
    MAX_TRIAL_NAME_LENGTH,
    Protocol,
    load_protocol,
)

BUNDLED = resources.files("resolve.trial").joinpath("protocols", "resolve.toml").read_text()
ID_LINE = 'participant_id_pattern = "^[A-Za-z0-9._-]{1,64}$"'


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
        "[trial] unknown key 'sponsor' (allowed: name, version, consent_versions, "
        "participant_id_pattern, target_sample_size, recruitment_start, recruitment_end)",
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


# ----------------------------------------------------------------------------- limits
# Each cap is checked by parse_protocol, before the service writes anything; each is tested
# at the boundary (accepted) and one past it (refused, one line naming file, table, key and
# the numbers).
def message(tmp_path: Path, text: str) -> str:
    with pytest.raises(DataValidationError) as info:
        load_text(tmp_path, text)
    return str(info.value)


def levels(prefix: str, n: int) -> str:
    return "[" + ", ".join(f'"{prefix}{k}"' for k in range(n)) + "]"


def test_limit_constants() -> None:
    assert (MAX_ARMS, MAX_FACTORS, MAX_LEVELS, MAX_STRATA) == (26, 20, 100, 1_000)
    assert (MAX_LIST_LENGTH, MAX_SEQUENCE_ENTRIES) == (10_000, 100_000)
    assert (MAX_NAME_LENGTH, MAX_TRIAL_NAME_LENGTH) == (64, 200)


def test_block_sizes_at_most_the_list_length(tmp_path: Path) -> None:
    short = edited("list_length_per_stratum = 400", "list_length_per_stratum = 30")
    assert load_text(tmp_path, short).randomisation.block_sizes == (2, 4, 6)
    equal = short.replace("block_sizes = [2, 4, 6]", "block_sizes = [2, 30]")
    assert load_text(tmp_path, equal).randomisation.block_sizes == (2, 30)
    assert message(tmp_path, short.replace("[2, 4, 6]", "[2, 32]")) == (
        "trial.toml: [randomisation] 'block_sizes': 32 is larger than list_length_per_stratum (30)"
    )
    assert message(tmp_path, short.replace("[2, 4, 6]", "[2, 40, 60]")) == (
        "trial.toml: [randomisation] 'block_sizes': 40, 60 are larger than "
        "list_length_per_stratum (30)"
    )
    # the RESOLVE sizes need a list of at least 6
    six = edited("list_length_per_stratum = 400", "list_length_per_stratum = 6")
    assert load_text(tmp_path, six).randomisation.list_length_per_stratum == 6
    assert message(tmp_path, six.replace("= 6", "= 5", 1)) == (
        "trial.toml: [randomisation] 'block_sizes': 6 is larger than list_length_per_stratum (5)"
    )


def test_block_sizes_are_not_checked_against_the_list_for_minimisation(tmp_path: Path) -> None:
    # minimisation ignores block_sizes and list_length_per_stratum
    text = MINIMISATION.replace("initial_random = 10", "initial_random = 10\nblock_sizes = [30]")
    assert load_text(tmp_path, text).randomisation.method == "minimisation"


def test_list_length_cap(tmp_path: Path) -> None:
    ok = edited("list_length_per_stratum = 400", "list_length_per_stratum = 10000")
    assert load_text(tmp_path, ok).randomisation.list_length_per_stratum == MAX_LIST_LENGTH
    assert message(tmp_path, ok.replace("= 10000", "= 10001")) == (
        "trial.toml: [randomisation] 'list_length_per_stratum': 10001 is more than the maximum, "
        "10000"
    )
    assert "10000000 is more than" in message(tmp_path, ok.replace("= 10000", "= 10000000"))


def stratified(a: int, b: int, c: int, length: int = 100) -> str:
    text = edited('site = ["sydney"]', f"site = {levels('s', a)}\nsex = {levels('x', b)}\n"
                  f"grade = {levels('g', c)}")  # fmt: skip
    text = text.replace('strata = ["site"]', 'strata = ["site", "sex", "grade"]')
    return text.replace("list_length_per_stratum = 400", f"list_length_per_stratum = {length}")


def test_strata_cap(tmp_path: Path) -> None:
    p = load_text(tmp_path, stratified(10, 10, 10))  # 1000 strata x 100 = 100000 entries
    assert [len(p.strata_levels[f]) for f in p.strata] == [10, 10, 10]
    assert message(tmp_path, stratified(7, 11, 13)) == (
        "trial.toml: [randomisation] 'strata': 1001 strata (site 7 x sex 11 x grade 13 levels); "
        "at most 1000"
    )
    # factors that do not stratify do not count
    text = stratified(7, 11, 13).replace('"site", "sex", "grade"', '"site", "sex"')
    assert load_text(tmp_path, text).strata == ("site", "sex")


def test_sealed_entries_cap(tmp_path: Path) -> None:
    assert load_text(tmp_path, stratified(10, 10, 10, length=100)).strata == (
        "site",
        "sex",
        "grade",
    )
    assert message(tmp_path, stratified(10, 10, 10, length=101)) == (
        "trial.toml: [randomisation] 'list_length_per_stratum': 1000 strata x 101 entries = "
        "101000 sealed entries; at most 100000"
    )
    # 10 strata x 10000 entries = 100000: accepted; 11 x 10000: refused
    assert load_text(tmp_path, stratified(10, 1, 1, length=10_000)).strata_levels["site"][9] == "s9"
    assert "11 strata x 10000 entries = 110000" in message(
        tmp_path, stratified(11, 1, 1, length=10_000)
    )


def test_levels_per_factor_cap(tmp_path: Path) -> None:
    text = edited('site = ["sydney"]', f"site = {levels('s', 100)}")
    text = text.replace("list_length_per_stratum = 400", "list_length_per_stratum = 100")
    assert len(load_text(tmp_path, text).strata_levels["site"]) == MAX_LEVELS
    assert message(tmp_path, text.replace(levels("s", 100), levels("s", 101))) == (
        "trial.toml: [factors] 'site': has 101 levels; at most 100"
    )
    # minimisation factors too
    mini = MINIMISATION.replace('sex = ["f", "m"]', f"sex = {levels('x', 101)}")
    assert "[factors] 'sex': has 101 levels; at most 100" in message(tmp_path, mini)


def test_factor_count_cap(tmp_path: Path) -> None:
    extra = "\n".join(f'f{k} = ["a"]' for k in range(1, 20))
    text = edited('site = ["sydney"]', f'site = ["sydney"]\n{extra}')
    assert len(load_text(tmp_path, text).factors) == MAX_FACTORS
    assert message(tmp_path, text.replace("f1 =", 'f0 = ["a"]\nf1 =')) == (
        "trial.toml: [factors] 'f19': 21 factors defined; at most 20"
    )


def arms(n: int) -> str:
    return "".join(f'[[arms]]\nname = "arm{k}"\n\n' for k in range(n))


def test_arm_count_cap(tmp_path: Path) -> None:
    start, end = BUNDLED.index("[[arms]]"), BUNDLED.index("# Prognostic factors")
    text = BUNDLED[:start] + arms(26) + BUNDLED[end:]
    text = text.replace("block_sizes = [2, 4, 6]", "block_sizes = [26, 52]")
    assert len(load_text(tmp_path, text).arms) == MAX_ARMS
    text = BUNDLED[:start] + arms(27) + BUNDLED[end:]
    text = text.replace("block_sizes = [2, 4, 6]", "block_sizes = [27, 54]")
    assert message(tmp_path, text) == "trial.toml: [[arms]] must list at most 26 arms; got 27"


NAME_LIMITS = [
    # (old, new with {name}, start of the error, limit)
    ('site = ["sydney"]', 'site = ["{name}"]', "[factors] 'site': level ", 64),
    ('site = ["sydney"]\n', '{name} = ["a"]\n', "[factors] 'n", 64),
    ('name = "sham"  ', 'name = "{name}"  ', "[[arms]] #1 'name': ", 64),
    ('name = "week 26"', 'name = "{name}"', "[[visits]] #17 'name': ", 64),
    ('consent_versions = ["1.0"]', 'consent_versions = ["{name}"]',
     "[trial] 'consent_versions'[0]: ", 64),
    ('name = "RESOLVE"', 'name = "{name}"', "[trial] 'name': ", 200),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "where", "limit"), NAME_LIMITS)
def test_name_length_caps(tmp_path: Path, old: str, new: str, where: str, limit: int) -> None:
    def text(name: str) -> str:
        out = edited(old, new.format(name=name))
        if new.startswith("{name} ="):  # the factor is renamed: stratify by the new name
            out = out.replace('strata = ["site"]', f'strata = ["{name}"]')
        return out

    load_text(tmp_path, text("n" * limit))
    got = message(tmp_path, text("n" * (limit + 1)))
    assert got.startswith(f"trial.toml: {where}"), got
    assert f"{limit + 1} characters" in got and f"at most {limit}" in got, got


BAD_NAMES = [
    ('site = ["sydney"]', 'site = ["new castle"]',
     "[factors] 'site': level 'new castle': SPACE (U+0020) is outside the pattern "
     "^[A-Za-z0-9._-]{1,64}$"),
    ('site = ["sydney"]', 'site = ["syd\\u200bney"]',
     "[factors] 'site': level 'syd\\u200bney': contains ZERO WIDTH SPACE (U+200B), a control or "
     "invisible character"),
    ('site = ["sydney"]', 'site = ["ｓｙｄ"]',
     "[factors] 'site': level '\\uff53\\uff59\\uff44': FULLWIDTH LATIN SMALL LETTER S (U+FF53) "
     "is outside the pattern ^[A-Za-z0-9._-]{1,64}$"),
    ('site = ["sydney"]', 'site = ["a=b"]',
     "[factors] 'site': level 'a=b': EQUALS SIGN (U+003D) is outside the pattern "
     "^[A-Za-z0-9._-]{1,64}$"),
    ('site = ["sydney"]\n', '"si te" = ["a"]\n',
     "[factors] 'si te': factor name 'si te': character 3, SPACE (U+0020), does not fit the "
     "pattern [A-Za-z][A-Za-z0-9_-]{0,63}"),
    ('site = ["sydney"]\n', '1site = ["a"]\n',
     "[factors] '1site': factor name '1site': character 1, DIGIT ONE (U+0031), does not fit the "
     "pattern [A-Za-z][A-Za-z0-9_-]{0,63}"),
    ('name = "sham"  ', 'name = "sh\\nam"  ',
     "[[arms]] #1 'name': contains LINE FEED (U+000A), a control or invisible character; got "
     "'sh\\nam'"),
    ('name = "week 26"', 'name = " week 26"',
     "[[visits]] #17 'name': leading whitespace, SPACE (U+0020), is not allowed; got ' week 26'"),
    ('consent_versions = ["1.0"]', 'consent_versions = ["1.0", "2.0\\u202e"]',
     "[trial] 'consent_versions'[1]: contains RIGHT-TO-LEFT OVERRIDE (U+202E), a control or "
     "invisible character; got '2.0\\u202e'"),
    (ID_LINE, 'participant_id_pattern = "^[A-Z"',
     "[trial] 'participant_id_pattern': not a valid regular expression (unterminated character "
     "set at position 1); got '^[A-Z'"),
    (ID_LINE, "participant_id_pattern = 64",
     "[trial] 'participant_id_pattern': must be a string; got 64"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "expected"), BAD_NAMES)
def test_names_and_levels_follow_the_id_rule(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert message(tmp_path, edited(old, new)) == f"trial.toml: {expected}"


def test_safe_factor_names_and_levels_load(tmp_path: Path) -> None:
    text = edited('site = ["sydney"]', 'site = ["sydney", "new-castle", "st.leonards", "perth_2"]')
    text = text.replace('site = ["sydney"', 'age-group = ["18-40", "41-70"]\nsite = ["sydney"')
    p = load_text(tmp_path, text)
    assert p.strata_levels["age-group"] == ("18-40", "41-70")
    assert p.strata_levels["site"][1:] == ("new-castle", "st.leonards", "perth_2")


def test_participant_id_pattern_key(tmp_path: Path) -> None:
    assert load_protocol().participant_id_pattern == DEFAULT_ID_PATTERN
    # the key is optional (MINIMISATION does not set it)
    assert load_text(tmp_path, MINIMISATION).participant_id_pattern == DEFAULT_ID_PATTERN
    assert load_text(tmp_path, edited(ID_LINE, "")).participant_id_pattern == DEFAULT_ID_PATTERN
    text = edited(ID_LINE, "participant_id_pattern = '^RES-[0-9]{4}$'")
    p = load_text(tmp_path, text)
    assert p.participant_id_pattern == "^RES-[0-9]{4}$"
    assert p.check_participant_id("RES-0001") == "RES-0001"
    with pytest.raises(DataValidationError, match="does not match the pattern"):
        p.check_participant_id("P001")
