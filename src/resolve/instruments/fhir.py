"""FHIR R4 ``Questionnaire`` export and ``QuestionnaireResponse`` scoring.

Each instrument exports as a Questionnaire whose items are ``choice`` items
with ``answerOption.valueCoding`` codes equal to the canonical response codes
(as text), ``linkId`` equal to the data column (``tsk17_5``) and neutral labels
as ``text`` unless a site attached its licensed wording. A
QuestionnaireResponse for such a Questionnaire scores back through the same
engine (:func:`score_response`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from resolve.errors import DataValidationError

if TYPE_CHECKING:
    from resolve.instruments.base import Instrument
    from resolve.instruments.medication import MedicationInstrument
    from resolve.instruments.result import ScoreResult

__all__ = [
    "ATC_SYSTEM",
    "URL_BASE",
    "medication_questionnaire",
    "questionnaire",
    "questionnaire_response",
    "score_response",
]

URL_BASE = "urn:resolve:Questionnaire:"
ATC_SYSTEM = "http://www.whocc.no/atc"


def _url(instrument_id: str) -> str:
    return URL_BASE + instrument_id


def _header(inst: Instrument | MedicationInstrument) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "id": inst.id.replace("_", "-"),
        "url": _url(inst.id),
        "version": inst.version,
        "name": re.sub(r"[^A-Za-z0-9_]", "", inst.id.title()),
        "title": inst.title,
        "status": "active",
        "description": inst.source,
        "copyright": inst.licence,
    }


def questionnaire(inst: Instrument) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of a coded instrument.

    Examples
    --------
    >>> from resolve.instruments import get
    >>> q = get("tsk17").to_fhir()
    >>> q["resourceType"], len(q["item"]), q["item"][0]["linkId"]
    ('Questionnaire', 17, 'tsk17_1')
    """
    system = _url(inst.id) + ":codes"
    items = []
    for it in inst.items:
        items.append(
            {
                "linkId": inst.column(it.number),
                "prefix": str(it.number),
                "text": it.text or it.label,
                "type": "choice",
                "required": False,
                "answerOption": [
                    {
                        "valueCoding": {
                            "system": system,
                            "code": str(code),
                            "display": it.anchors.get(code, str(code)),
                        }
                    }
                    for code in it.codes
                ],
            }
        )
    return {**_header(inst), "item": items}


def medication_questionnaire(inst: MedicationInstrument) -> dict[str, Any]:
    """The FHIR R4 Questionnaire of the medication classifier."""
    item = {
        "linkId": inst.id,
        "text": "current medications (generic name or WHO ATC code; 'none' if none)",
        "type": "open-choice",
        "repeats": True,
        "required": False,
    }
    return {**_header(inst), "item": [item]}


def questionnaire_response(
    inst: Instrument, responses: Mapping[int, int | None], *, respondent: str | None = None
) -> dict[str, Any]:
    """A QuestionnaireResponse holding ``responses`` (item number -> code)."""
    system = _url(inst.id) + ":codes"
    items = [
        {
            "linkId": inst.column(n),
            "answer": []
            if code is None
            else [{"valueCoding": {"system": system, "code": str(code)}}],
        }
        for n, code in responses.items()
    ]
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{_url(inst.id)}|{inst.version}",
        "status": "completed",
        "item": [i for i in items if i["answer"]],
    }
    if respondent is not None:
        resource["subject"] = {"reference": f"Patient/{respondent}"}
    return resource


def _walk(items: list[Any]) -> Iterator[dict[str, Any]]:
    for item in items:
        if not isinstance(item, dict) or "linkId" not in item:
            raise DataValidationError("QuestionnaireResponse: an item has no linkId")
        if item.get("answer"):
            yield item
        for answer in item.get("answer", []):
            yield from _walk(answer.get("item", []))
        yield from _walk(item.get("item", []))


def _answer_value(answer: Mapping[str, Any], where: str) -> Any:
    if "valueCoding" in answer:
        code = answer["valueCoding"].get("code")
        if isinstance(code, str) and re.fullmatch(r"[+-]?\d+", code.strip()):
            return int(code)
        return code
    for key in ("valueInteger", "valueString"):
        if key in answer:
            return answer[key]
    raise DataValidationError(f"{where}: unsupported answer type {sorted(answer)}")


def score_response(resource: Mapping[str, Any]) -> ScoreResult:
    """Score a FHIR R4 QuestionnaireResponse of one of our Questionnaires.

    The instrument is identified by the ``questionnaire`` canonical URL; the
    respondent by ``subject.reference`` (``Patient/P001`` -> ``P001``).
    """
    from resolve.instruments.medication import MedicationInstrument
    from resolve.instruments.registry import get

    if resource.get("resourceType") != "QuestionnaireResponse":
        raise DataValidationError(
            f"expected a QuestionnaireResponse; got resourceType {resource.get('resourceType')!r}"
        )
    if resource.get("status") == "entered-in-error":
        raise DataValidationError("QuestionnaireResponse status is 'entered-in-error'")
    canonical = str(resource.get("questionnaire", "")).split("|")[0]
    if not canonical.startswith(URL_BASE):
        raise DataValidationError(
            f"QuestionnaireResponse: questionnaire {canonical!r} is not one of resolve's "
            f"({URL_BASE}<instrument>)"
        )
    inst = get(canonical[len(URL_BASE) :])
    subject = resource.get("subject", {}).get("reference")
    respondent = subject.split("/")[-1] if isinstance(subject, str) else None
    where = f"{inst.id}" + (f", respondent {respondent!r}" if respondent else "")
    if isinstance(inst, MedicationInstrument):
        meds: list[Any] = []
        for item in _walk(list(resource.get("item", []))):
            if item["linkId"] != inst.id:
                raise DataValidationError(f"{where}: unknown item {item['linkId']!r}")
            meds.extend(_answer_value(a, where) for a in item["answer"])
        return inst.score(meds, respondent=respondent)
    pairs: list[tuple[Any, Any]] = []
    for item in _walk(list(resource.get("item", []))):
        answers = item["answer"]
        if len(answers) > 1:
            raise DataValidationError(f"{where}, item {item['linkId']}: more than one answer")
        pairs.append((item["linkId"], _answer_value(answers[0], f"{where}, item {item['linkId']}")))
    return inst.score(pairs, respondent=respondent)
