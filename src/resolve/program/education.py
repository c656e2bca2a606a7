"""Pain-science education: short modules in plain language, with misconception checks.

Each module is a Markdown file in ``education/`` (written for this project, in our
own words; Explain Pain-style ideas, no copied text) whose TOML front matter gives
its id, title, order, minutes, a one-line summary and 2-4 questions. Every question
is true/false or multiple choice with exactly one correct answer, names the
misconception a wrong answer reveals and explains the correct answer.

:func:`score_quiz` scores one attempt; :func:`remaining_misconceptions` lists what
the latest answers still reveal across attempts and modules.

Examples
--------
>>> [m.id for m in modules()][:3]
['pain-protects', 'movement-safe', 'back-strong']
>>> m = load_module("imaging")
>>> r = score_quiz(m, {"bulge": True, "degeneration": m.questions[1].answer})
>>> r.n_correct, r.misconceptions, r.unanswered
(1, ['Imaging findings explain my pain'], ['more-scans'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from resolve._schema import SchemaError, Table, Text, Unique, between, validate
from resolve.errors import DataValidationError, UnknownNameError
from resolve.program._markdown import bundled_texts, split_front_matter
from resolve.program._records import Record
from resolve.program._task_schema import Id

__all__ = [
    "AnswerResult",
    "EducationModule",
    "Misconception",
    "Question",
    "QuizAttempt",
    "QuizResult",
    "load_module",
    "module_ids",
    "modules",
    "remaining_misconceptions",
    "score_quiz",
]

Answer = bool | str


class Question(Table):
    """One comprehension question; ``answer`` is the single correct answer."""

    id: Id
    kind: Literal["true_false", "multiple_choice"]
    text: Text
    options: Annotated[list[Text], Unique()] = Field(default_factory=list)
    answer: bool | str
    misconception: Text = Field(description="The belief a wrong answer reveals.")
    explanation: Text = Field(description="Why the correct answer is correct.")

    @model_validator(mode="after")
    def _one_correct(self) -> Self:
        if self.kind == "true_false":
            if not isinstance(self.answer, bool):
                raise SchemaError(f"must be true or false; got {self.answer!r}", "answer")
            if self.options:
                raise SchemaError("a true/false question takes no options", "options")
        else:
            if not 3 <= len(self.options) <= 5:
                raise SchemaError(f"must list 3 to 5 options; got {len(self.options)}", "options")
            if not isinstance(self.answer, str) or self.answer not in self.options:
                raise SchemaError(f"must be one of the options; got {self.answer!r}", "answer")
        return self

    def is_correct(self, given: Answer) -> bool:
        """Whether ``given`` is the correct answer; refuses an answer of the wrong kind."""
        if self.kind == "true_false":
            if not isinstance(given, bool):
                raise DataValidationError(
                    f"question {self.id!r}: answer must be true or false; got {given!r}"
                )
        elif not isinstance(given, str) or given not in self.options:
            raise DataValidationError(
                f"question {self.id!r}: answer must be one of its options; got {given!r}"
            )
        return given == self.answer


class EducationModule(Table):
    """A module: metadata, questions and the Markdown ``body``."""

    id: Id
    title: Text
    order: Annotated[int, between(1)]
    minutes: Annotated[int, between(1, 120)]
    summary: Text
    questions: list[Question]
    body: str = ""

    @model_validator(mode="after")
    def _questions(self) -> Self:
        if not 2 <= len(self.questions) <= 4:
            raise SchemaError(f"must have 2 to 4 questions; got {len(self.questions)}", "questions")
        ids = [q.id for q in self.questions]
        for k, i in enumerate(ids):
            if ids.index(i) != k:
                raise SchemaError(f"{i!r} is used twice", "questions", k, "id")
        return self

    def question(self, question_id: str) -> Question:
        """The question called ``question_id``."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise UnknownNameError(
            f"module {self.id!r}: unknown question {question_id!r}; known: "
            + ", ".join(q.id for q in self.questions)
        )


def parse_module(text: str, source: str) -> EducationModule:
    """Parse one module file (front matter + body); errors name ``source`` and the key."""
    meta, body = split_front_matter(text, source)
    return validate(EducationModule, {**meta, "body": body}, source)


@cache
def _bundled() -> dict[str, EducationModule]:
    found = {}
    for stem, text in bundled_texts("education").items():
        m = parse_module(text, f"education/{stem}.md")
        if m.id != stem:
            raise DataValidationError(f"education/{stem}.md: 'id' must be {stem!r}; got {m.id!r}")
        found[m.id] = m
    return dict(sorted(found.items(), key=lambda kv: (kv[1].order, kv[0])))


def module_ids() -> list[str]:
    """Ids of the bundled modules, in teaching order.

    Examples
    --------
    >>> len(module_ids())
    7
    """
    return list(_bundled())


def modules() -> list[EducationModule]:
    """The bundled modules, in teaching order."""
    return list(_bundled().values())


def load_module(module_id: str) -> EducationModule:
    """The bundled module ``module_id``."""
    found = _bundled()
    if module_id not in found:
        raise UnknownNameError(
            f"unknown education module {module_id!r}; bundled: {', '.join(found)}"
        )
    return found[module_id]


class AnswerResult(Record):
    """One question of an attempt: the answer given (None = unanswered) and whether correct."""

    question_id: str
    given: bool | str | None
    correct: bool | None


class QuizResult(Record):
    """One attempt at a module's questions.

    ``score`` is ``n_correct / n_questions`` (an unanswered question is not correct);
    ``misconceptions`` lists the misconception of every wrongly answered question.
    """

    module_id: str
    n_questions: int
    n_answered: int
    n_correct: int
    score: float
    answers: list[AnswerResult]
    misconceptions: list[str]
    unanswered: list[str]


def score_quiz(module: EducationModule, answers: Mapping[str, Answer]) -> QuizResult:
    """Score answers (question id -> ``True``/``False`` or the chosen option text).

    Parameters
    ----------
    module : EducationModule
        The module answered.
    answers : mapping
        Question id -> answer. A question left out is unanswered.

    Returns
    -------
    QuizResult

    Raises
    ------
    DataValidationError
        An unknown question id, or an answer of the wrong kind (text for a
        true/false question, a text that is not one of the options).

    Examples
    --------
    >>> m = load_module("pain-protects")
    >>> score_quiz(m, {q.id: q.answer for q in m.questions}).score
    1.0
    """
    known = {q.id for q in module.questions}
    unknown = [k for k in answers if k not in known]
    if unknown:
        raise DataValidationError(
            f"module {module.id!r}: unknown question {unknown[0]!r}; known: {', '.join(known)}"
        )
    results, wrong, missing = [], [], []
    for q in module.questions:
        if q.id not in answers:
            results.append(AnswerResult(question_id=q.id, given=None, correct=None))
            missing.append(q.id)
            continue
        ok = q.is_correct(answers[q.id])
        results.append(AnswerResult(question_id=q.id, given=answers[q.id], correct=ok))
        if not ok:
            wrong.append(q.misconception)
    n_correct = sum(1 for r in results if r.correct)
    return QuizResult(
        module_id=module.id,
        n_questions=len(module.questions),
        n_answered=len(module.questions) - len(missing),
        n_correct=n_correct,
        score=n_correct / len(module.questions),
        answers=results,
        misconceptions=wrong,
        unanswered=missing,
    )


class QuizAttempt(Record):
    """A scored attempt with the programme week it was made in."""

    week: Annotated[int, between(1, 52)]
    result: QuizResult


class Misconception(Record):
    """A misconception still shown by the latest answer to a question."""

    module_id: str
    question_id: str
    misconception: str
    explanation: str


def remaining_misconceptions(results: Sequence[QuizResult]) -> list[Misconception]:
    """Misconceptions the latest answer to each question still reveals.

    ``results`` are attempts in time order (any modules); for each question the
    latest *answered* attempt counts, so a later correct answer clears an earlier
    wrong one and a later unanswered question does not.

    Examples
    --------
    >>> m = load_module("imaging")
    >>> first = score_quiz(m, {"bulge": True, "more-scans": True})
    >>> later = score_quiz(m, {"bulge": False})
    >>> [x.question_id for x in remaining_misconceptions([first, later])]
    ['more-scans']
    """
    latest: dict[tuple[str, str], bool] = {}
    for r in results:
        for a in r.answers:
            if a.correct is not None:
                latest[(r.module_id, a.question_id)] = a.correct
    out = []
    for (module_id, question_id), correct in latest.items():
        if not correct:
            q = load_module(module_id).question(question_id)
            out.append(
                Misconception(
                    module_id=module_id,
                    question_id=question_id,
                    misconception=q.misconception,
                    explanation=q.explanation,
                )
            )
    return out
