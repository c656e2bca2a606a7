"""The programme template: loading, validation errors, describe(), protocol fit, docs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from resolve.errors import DataValidationError, UnknownNameError
from resolve.program import check_protocol, describe, load_template, parse_template, template_text
from resolve.program.template import MEASURES, TASKS, template_reference
from resolve.trial.protocol import load_protocol, parse_protocol

BUNDLED = template_text()


def test_default_template_loads_and_is_marked_a_reconstruction() -> None:
    t = load_template()
    assert t.programme.status == "reconstruction"
    assert "RECONSTRUCTION" in BUNDLED and "not the trial manual" in BUNDLED.lower()
    assert t.source == "default_template.toml (bundled)"
    assert (t.programme.active_arm, t.programme.sham_arm, t.programme.weeks) == (
        "resolve",
        "sham",
        12,
    )
    assert [len(t.levels(task)) for task in TASKS] == [4, 5, 4]


def test_every_week_of_both_arms_has_exactly_one_plan() -> None:
    t = load_template()
    for arm in ("resolve", "sham"):
        for week in range(1, 13):
            assert week in t.plan(arm, week).weeks
    with pytest.raises(DataValidationError, match="week 13 is not a programme week"):
        t.plan("resolve", 13)
    with pytest.raises(UnknownNameError, match="unknown arm 'control'"):
        t.plan("control", 1)


def test_sham_schedule_has_no_education_and_no_active_components() -> None:
    t = load_template()
    for week in range(1, 13):
        plan = t.plan("sham", week)
        assert "education" not in plan.components and not plan.education
        assert all(t.component(c).role in ("sham", "both") for c in plan.components)
        assert plan.home == []
        assert {"sham_laser", "sham_shortwave", "sham_brain_stimulation"} <= set(plan.components)


def test_active_schedule_follows_the_reconstructed_order() -> None:
    t = load_template()
    first = {
        c: min(w for w in range(1, 13) if c in t.plan("resolve", w).components)
        for c in ("education", "tactile", "lrj", "imagery", "movement_precision", "graded_loading")
    }
    assert first["education"] == first["tactile"] == first["lrj"] == 1
    assert first["lrj"] < first["imagery"] < first["movement_precision"] < first["graded_loading"]
    assert "twopoint" in t.plan("resolve", 1).components
    assert "twopoint" in t.plan("resolve", 12).components


def test_every_component_has_a_fidelity_checklist() -> None:
    t = load_template()
    assert all(c.fidelity for c in t.components)
    used = {c for p in [*t.active, *t.sham] for c in p.components}
    assert used == {c.id for c in t.components}


def test_start_level() -> None:
    t = load_template()
    assert t.start_level("lrj", 1) == 1
    assert t.start_level("graphaesthesia", 2) == 1
    custom = BUNDLED.replace(
        "graphaesthesia = { level = 1, blocks = 1 }", "graphaesthesia = { level = 3, blocks = 1 }"
    )
    assert parse_template(custom, "c.toml").start_level("graphaesthesia", 9) == 3


def test_describe_mentions_every_week_component_rule_and_level() -> None:
    t = load_template()
    text = describe(t)
    assert "RECONSTRUCTION" in text
    for week in range(1, 13):
        assert f"Week {week} (" in text or "Weeks 2-12 (" in text
    active = text[text.index("Active arm") : text.index("Sham arm")]
    sham = text[text.index("Sham arm") : text.index("Levels")]
    for week in range(1, 13):
        assert f"Week {week} (" in active
    for c in t.components:
        assert c.label in (active if c.role == "active" else sham if c.role == "sham" else text)
    assert "Pain-science education" not in sham
    for r in t.rules:
        assert r.id in text and r.text in text
    for task in TASKS:
        for lv in t.levels(task):
            assert lv.label in text
    assert "2.1 s" in text and "57 mm" in text


# -- validation errors name the file, the table and the key ---------------------------------
BAD = [
    (
        "[adherence]",
        "[adherance]",
        r"^t\.toml: unknown key 'adherance' \(did you mean 'adherence'\?\)",
    ),
    (
        "clinic_minutes = 60",
        "clinic_minuts = 60",
        r"^t\.toml: \[\[active\]\] #1 unknown key 'clinic_minuts'",
    ),
    (
        'components = ["framing", "sham_laser"',
        'components = ["framing", "education"',
        r"^t\.toml: \[\[sham\]\] #1 'components': 'education' is for the active arm only",
    ),
    (
        "tactile = { level = 1, blocks = 2 }",
        "tactile = { level = 9, blocks = 2 }",
        r"^t\.toml: \[\[active\]\] #1 'tactile' level: must be at most 5",
    ),
    (
        "weeks = [2, 3, 4,",
        "weeks = [3, 4,",
        r"^t\.toml: \[\[sham\]\] no plan for week 2",
    ),
    (
        "weeks = [2, 3, 4,",
        "weeks = [1, 3, 4,",
        r"^t\.toml: \[\[sham\]\] #2 'weeks': week 1 is also",
    ),
    (
        'measure = "median_rt_s"',
        'measure = "median_rt"',
        r"^t\.toml: \[\[rules\]\] #2 'when' #2 'measure': unknown lrj measure 'median_rt'",
    ),
    (
        'norm = "lrj.rt_upper_s"',
        'norm = "lrj.rt_upper"',
        r"'norm': unknown norm 'lrj.rt_upper'",
    ),
    (
        'education = ["imaging", "flare-plan"]',
        'education = ["imaging", "flare"]',
        r"^t\.toml: \[\[active\]\] #3 'education': unknown id 'flare'",
    ),
    (
        'education = ["imaging", "flare-plan"]',
        "",
        r"^t\.toml: \[\[active\]\] #3 component 'education' is planned; give its 'education' key",
    ),
    (
        "spacing_cm = 6.0",
        "spacing_cm = true",
        r"^t\.toml: \[\[tactile\.levels\]\] #2 'spacing_cm': "
        r"must be a number in \[0\.5, 20\]; got True",
    ),
    (
        'level = 2\nlabel = "2 x 3',
        'level = 3\nlabel = "2 x 3',
        r"\[\[tactile\.levels\]\] #2 'level': must be 2",
    ),
    (
        "trials = 32",
        "trials = 30",
        r"\[\[lrj\.levels\]\] #2 'trials': must be a multiple of 4; got 30",
    ),
    (
        "adherent_min_sessions = 8",
        "adherent_min_sessions = 13",
        r"\[adherence\] 'adherent_min_sessions': "
        r"must be at most \[programme\] weeks \(12\); got 13",
    ),
    (
        'sham_arm = "sham"',
        'sham_arm = "resolve"',
        r"\[programme\] 'sham_arm': must differ",
    ),
    (
        'scripts = ["rotation-seated"',
        'scripts = ["rotation-sitting"',
        r"\[imagery\] 'scripts': unknown id 'rotation-sitting'; bundled:",
    ),
    (
        'status = "reconstruction"',
        'status = "draft"',
        r"\[programme\] 'status': must be one of reconstruction, manual, custom; got 'draft'",
    ),
    (
        "discard_reversals = 2",
        "discard_reversals = 8",
        r"\[twopoint\] 'discard_reversals': must be < reversals",
    ),
    (
        'id = "hip-hinge"',
        'id = "pelvic-tilt"',
        r"\[\[drills\]\] #2 'id': 'pelvic-tilt' is used twice",
    ),
    (
        "days_per_week = 7, bouts_per_day = 2",
        "days_per_week = 8, bouts_per_day = 2",
        r"'days_per_week': must be an integer in \[1, 7\]; got 8",
    ),
    (
        '{ task = "tactile", minutes_per_day = 10, days_per_week = 5 },\n]',
        '{ task = "sham_laser", minutes_per_day = 10, days_per_week = 5 },\n]',
        r"\[\[active\]\] #1 'home' #3 'task': 'sham_laser' is not a component of the active arm",
    ),
    (
        'when = [{ measure = "accuracy", op = "<", value = 0.60 }]',
        'when = [{ measure = "accuracy", op = "<" }]',
        r"\[\[rules\]\] #1 'when' #1: give exactly one",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_bad_template_names_file_table_and_key(old: str, new: str, message: str) -> None:
    assert old in BUNDLED, old
    with pytest.raises(DataValidationError, match=message):
        parse_template(BUNDLED.replace(old, new, 1), "t.toml")


def test_misspelt_or_missing_keys_are_refused_by_name() -> None:
    doc = tomllib.loads(BUNDLED)
    for table in ("programme", "tactile", "twopoint", "loading", "adherence", "imagery"):
        assert table in doc
        text = BUNDLED.replace(f"\n[{table}]\n", f"\n[{table}x]\n", 1)
        assert text != BUNDLED
        with pytest.raises(DataValidationError, match=f"unknown key '{table}x'"):
            parse_template(text, "t.toml")
    for key in doc["programme"]:
        text = BUNDLED.replace(f"\n{key} = ", f"\n{key}_typo = ", 1)
        with pytest.raises(DataValidationError, match=f"unknown key '{key}_typo'"):
            parse_template(text, "t.toml")
    with pytest.raises(DataValidationError, match=r"^t\.toml: \[programme\] missing key 'weeks'"):
        parse_template(BUNDLED.replace("weeks = 12 ", "", 1), "t.toml")
    with pytest.raises(DataValidationError, match=r"^t\.toml: missing table \[norms\]"):
        start = BUNDLED.index("[norms.lrj]")
        end = BUNDLED.index("# ----", start)
        parse_template(BUNDLED[:start] + BUNDLED[end:], "t.toml")


def test_load_template_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BUNDLED.replace('version = "0.1"', 'version = "site-2"'), encoding="utf-8")
    t = load_template(path)
    assert t.source == "mine.toml" and t.programme.version == "site-2"
    with pytest.raises(DataValidationError, match=r"missing\.toml: cannot read template file"):
        load_template(tmp_path / "missing.toml")
    path.write_text("[programme\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match=r"^mine\.toml: not valid TOML"):
        load_template(path)


def test_template_fits_the_bundled_protocol() -> None:
    protocol = load_protocol()
    check_protocol(load_template(), protocol)
    assert load_template(protocol=protocol).programme.active_arm in protocol.arm_names


def test_template_arm_not_in_protocol_is_refused() -> None:
    text = BUNDLED.replace('active_arm = "resolve"', 'active_arm = "gsr"')
    with pytest.raises(
        DataValidationError,
        match=r"^t\.toml: \[programme\] 'active_arm': 'gsr' is not an arm of protocol "
        r"resolve\.toml \(bundled\) \(arms: sham, resolve\)",
    ):
        parse_template(text, "t.toml", protocol=load_protocol())


def test_template_weeks_must_match_protocol_sessions() -> None:
    protocol_text = (
        Path(__file__).parents[2] / "src/resolve/trial/protocols/resolve.toml"
    ).read_text(encoding="utf-8")
    start = protocol_text.index('[[visits]]\nname = "session 12"')
    end = protocol_text.index("[[visits]]", start + 5)
    shorter = parse_protocol(protocol_text[:start] + protocol_text[end:], "p.toml")
    with pytest.raises(DataValidationError, match=r"'weeks': 12, but protocol p\.toml has 11"):
        check_protocol(load_template(), shorter)


def test_rule_measures_are_the_tasks_measures() -> None:
    t = load_template()
    for r in t.rules:
        assert all(c.measure in MEASURES[r.task] for c in r.when)


def test_docs_reference_is_generated_from_the_schema() -> None:
    page = (Path(__file__).parents[2] / "docs" / "programme.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN template_reference() -->\n", "<!-- END template_reference() -->"
    assert begin in page and end in page
    generated = page[page.index(begin) + len(begin) : page.index(end)].strip()
    assert generated == template_reference().strip(), (
        "docs/programme.md is stale: paste resolve.program.template.template_reference() "
        "between its BEGIN/END markers"
    )
    doc = tomllib.loads(BUNDLED)

    def walk(table: dict[str, object], header: str) -> None:
        for key, value in table.items():
            if header in ("active.", "sham.") and key in TASKS:
                assert "### `[active.lrj]`" in generated, key  # one section for the doses
            elif isinstance(value, dict) and f"| `{key}` |" not in generated:
                if any(
                    not isinstance(v, dict | list)
                    or (isinstance(v, list) and v and not isinstance(v[0], dict))
                    for v in value.values()
                ):
                    assert f"### `[{header}{key}]`" in generated, key
                walk(value, f"{header}{key}.")  # type: ignore[arg-type]
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                if header in ("active.", "sham."):
                    continue  # inline home targets, documented once
                if f"### `[[{header}{key}]]`" not in generated:
                    assert f"| `{key}` |" in generated, key
                    continue
                for item in value:
                    walk(item, f"{header}{key}.")
            else:
                assert f"| `{key}` |" in generated, f"{header}{key}"

    walk(doc, "")
    assert "docs/programme-images.md" in page or "programme-images.md" in page
    assert "reconstruction" in page.lower()
