"""Education modules: content rules, one correct answer per question, scoring, misconceptions."""

from __future__ import annotations

import re

import pytest

from resolve.errors import DataValidationError, UnknownNameError
from resolve.program.education import (
    load_module,
    module_ids,
    modules,
    parse_module,
    remaining_misconceptions,
    score_quiz,
)
from resolve.program.template import load_template


def test_seven_modules_in_teaching_order_match_the_template() -> None:
    ids = module_ids()
    assert len(ids) == 7
    assert [m.order for m in modules()] == sorted(m.order for m in modules())
    assert load_template().education.modules == ids
    for key in (
        "pain-protects",
        "movement-safe",
        "back-strong",
        "sensitivity",
        "imaging",
        "flare-plan",
    ):
        assert key in ids


@pytest.mark.parametrize("module_id", module_ids())
def test_each_question_has_exactly_one_correct_answer(module_id: str) -> None:
    m = load_module(module_id)
    assert 2 <= len(m.questions) <= 4
    for q in m.questions:
        if q.kind == "true_false":
            assert isinstance(q.answer, bool) and q.options == []
            candidates: list[bool | str] = [True, False]
        else:
            assert len(q.options) == len(set(q.options)) >= 3
            candidates = list(q.options)
        assert sum(q.is_correct(c) for c in candidates) == 1
        assert q.misconception.strip() and q.explanation.strip()


@pytest.mark.parametrize("module_id", module_ids())
def test_module_body_is_short_plain_markdown(module_id: str) -> None:
    m = load_module(module_id)
    assert m.body.startswith(f"# {m.title}\n")
    words = len(re.findall(r"\w+", m.body))
    assert 150 <= words <= 500, words


def test_score_quiz_hand_worked() -> None:
    m = load_module("movement-safe")
    answers: dict[str, bool | str] = {"rest-best": True, "hurt-harm": True}
    r = score_quiz(m, answers)
    assert (r.n_questions, r.n_answered, r.n_correct) == (3, 2, 1)
    assert r.score == pytest.approx(1 / 3)
    assert r.misconceptions == ["Rest is the best treatment for back pain"]
    assert r.unanswered == ["bending"]
    assert [a.correct for a in r.answers] == [False, None, True]


def test_score_quiz_refuses_bad_answers() -> None:
    m = load_module("imaging")
    with pytest.raises(DataValidationError, match="unknown question 'nope'"):
        score_quiz(m, {"nope": True})
    with pytest.raises(DataValidationError, match="question 'bulge': answer must be true or false"):
        score_quiz(m, {"bulge": "false"})
    with pytest.raises(DataValidationError, match="question 'degeneration': answer must be one of"):
        score_quiz(m, {"degeneration": "maybe"})
    with pytest.raises(UnknownNameError, match="unknown education module 'scans'"):
        load_module("scans")


def test_remaining_misconceptions_use_the_latest_answer() -> None:
    imaging, flare = load_module("imaging"), load_module("flare-plan")
    first = score_quiz(imaging, {"bulge": True, "degeneration": imaging.questions[1].answer})
    other = score_quiz(flare, {"flare-damage": True})
    crumbling = "My spine is crumbling and will get steadily worse"
    later = score_quiz(imaging, {"bulge": False, "degeneration": crumbling})
    left = remaining_misconceptions([first, other, later])
    assert [(x.module_id, x.question_id) for x in left] == [
        ("imaging", "degeneration"),
        ("flare-plan", "flare-damage"),
    ]
    assert [x.misconception for x in left] == [
        "Degeneration means a crumbling spine",
        "A flare means new damage",
    ]
    assert remaining_misconceptions([first, score_quiz(imaging, {})])[0].question_id == "bulge"


BAD_MODULES = [
    ("answer = false", 'answer = "false"', "'answer': must be true or false"),
    (
        'answer = "A protective output',
        'answer = "An output',
        "'answer': must be one of the options",
    ),
    ('id = "context"', 'id = "damage-meter"', "'damage-meter' is used twice"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_MODULES)
def test_bad_module_front_matter_is_refused(old: str, new: str, message: str) -> None:
    from resolve.program._markdown import bundled_texts

    text = bundled_texts("education")["pain-protects"]
    assert old in text
    with pytest.raises(DataValidationError, match=re.escape(message)):
        parse_module(text.replace(old, new, 1), "x.md")


def test_front_matter_fences_are_required() -> None:
    with pytest.raises(DataValidationError, match=r"x\.md: must start with a '\+\+\+' line"):
        parse_module("# no front matter\n", "x.md")
    with pytest.raises(DataValidationError, match="no closing"):
        parse_module('+++\nid = "a"\n', "x.md")
