"""The instrument contract, run over every registered coded instrument.

Range enforcement, type strictness, unknown/duplicate items, reverse-keying
round trip, item-order invariance, the declared missing-item rule, cut-off
band coverage, code-base declaration, scalar/vectorised agreement and the FHIR
round trip. The medication classifier has its own contract at the end.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolve.errors import DataValidationError
from resolve.instruments import (
    PSYCHOACTIVE_MEDICATION,
    Instrument,
    available,
    questionnaire_response,
    score_response,
)

CODED = [i for i in available() if isinstance(i, Instrument)]
IDS = [i.id for i in CODED]


def full(inst: Instrument, code: int | None = None) -> dict[int, int]:
    """A complete response: every item at ``code`` (default: its lowest code)."""
    return {
        i.number: (i.low if code is None else min(max(code, i.low), i.high)) for i in inst.items
    }


def random_responses(inst: Instrument, rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {inst.column(i.number): rng.integers(i.low, i.high + 1, size=n) for i in inst.items}
    )


def test_registry_is_complete_and_unique() -> None:
    ids = [i.id for i in available()]
    assert len(ids) == len(set(ids))
    expected = {
        "nrs",
        "rmdq24",
        "frebaq",
        "tsk17",
        "tsk11",
        "pcs",
        "pseq",
        "pseq2",
        "bbq",
        "gpe",
        "dass21",
        "startback",
        "bpi_interference",
        "psfs",
        "psychoactive_medication",
    }
    assert set(ids) == expected


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_every_code_in_range_is_accepted_and_neighbours_rejected(inst: Instrument) -> None:
    for item in inst.items:
        for code in item.codes:
            inst.score({item.number: code})
        for bad in (item.low - 1, item.high + 1):
            with pytest.raises(DataValidationError) as exc:
                inst.score({item.number: bad}, respondent="P1")
            msg = str(exc.value)
            assert inst.id in msg and inst.column(item.number) in msg
            assert f"value {bad}" in msg and "'P1'" in msg


@pytest.mark.parametrize("inst", CODED, ids=IDS)
@pytest.mark.parametrize("bad", [True, False, 1.5, "2", float("inf"), [1]])
def test_non_integer_codes_are_rejected(inst: Instrument, bad: object) -> None:
    with pytest.raises(DataValidationError, match=r"boolean|not an integer"):
        inst.score({inst.items[0].number: bad})


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_integral_float_is_the_same_code(inst: Instrument) -> None:
    item = inst.items[0]
    assert inst.score({item.number: float(item.high)}) == inst.score({item.number: item.high})


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_unknown_and_duplicate_items_are_rejected(inst: Instrument) -> None:
    with pytest.raises(DataValidationError, match="unknown item"):
        inst.score({f"{inst.id}_{inst.n_items + 99}": inst.items[0].low})
    with pytest.raises(DataValidationError, match="unknown item"):
        inst.score({"other_1": 1})
    first = inst.items[0]
    with pytest.raises(DataValidationError, match="duplicate item"):
        inst.score([(first.number, first.low), (inst.column(first.number), first.low)])
    frame = random_responses(inst, np.random.default_rng(1), 3)
    frame[f"{inst.id}_{inst.n_items + 99}"] = 1
    with pytest.raises(DataValidationError, match="unknown item column"):
        inst.score_frame(frame)


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_reverse_keying_round_trip(inst: Instrument, rng: np.random.Generator) -> None:
    """Scoring reversed items == pre-reversing their codes and scoring unreversed."""
    plain = replace(inst, items=tuple(replace(i, reverse=False) for i in inst.items))
    data = random_responses(inst, rng, 200)
    flipped = data.copy()
    for item in inst.items:
        if item.reverse:
            col = inst.column(item.number)
            flipped[col] = item.low + item.high - data[col]
    pd.testing.assert_frame_equal(inst.score_frame(data), plain.score_frame(flipped))
    for item in inst.items:
        if item.reverse:
            assert item.value(item.low) == item.high and item.value(item.high) == item.low


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_item_order_invariance(inst: Instrument, rng: np.random.Generator) -> None:
    data = random_responses(inst, rng, 100)
    cols = list(data.columns)
    shuffled = data[list(rng.permutation(cols))]
    pd.testing.assert_frame_equal(inst.score_frame(data), inst.score_frame(shuffled))
    response = {i.number: i.high for i in inst.items}
    reordered = dict(reversed(list(response.items())))
    assert inst.score(response) == inst.score(reordered)


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_missing_rule_as_declared(inst: Instrument, rng: np.random.Generator) -> None:
    """Up to max_missing unanswered items: prorated (sum) or mean of answered;
    one more: the scale is missing. Never a partial sum."""
    for scale in inst.scales:
        if scale.from_scales:
            continue
        rule = scale.missing
        response: dict[int, int | None] = {
            i.number: int(rng.integers(i.low, i.high + 1)) for i in inst.items
        }
        values = {n: inst.item(n).value(c) for n, c in response.items() if c is not None}
        k = len(scale.items)
        drop = list(scale.items[: min(rule.max_missing, k - 1)])
        for n in drop:
            response[n] = None
        result = inst.score(response)
        answered = [values[n] for n in scale.items if n not in drop]
        if scale.method == "mean":
            expected = sum(answered) / len(answered)
        else:
            expected = sum(answered) * k / len(answered)
        assert result.scores[scale.name] == pytest.approx(expected * scale.multiplier)
        assert result.n_missing == len(drop)
        assert result.prorated == (bool(drop) and rule.prorate)
        if len(drop) < k:
            response[scale.items[len(drop)]] = None
            too_many = inst.score(response)
            if rule.max_missing + 1 < k or scale.method == "sum":
                assert too_many.scores[scale.name] is None, scale.name
                assert too_many.total is None
                for cls in inst.classifications:
                    if scale.name in cls.scores_used():
                        assert too_many.categories[cls.name] is None


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_empty_response_is_missing_not_zero(inst: Instrument) -> None:
    result = inst.score({})
    assert result.total is None
    assert result.n_missing == sum(i.scored for i in inst.items)
    assert all(v is None for v in result.categories.values())


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_bands_cover_every_attainable_score_exactly_once(inst: Instrument) -> None:
    fractional = any(
        s.method == "mean" or s.missing.prorate or s.multiplier != int(s.multiplier)
        for s in inst.scales
    )
    step = 0.25 if fractional else 1.0  # integer scores only when nothing prorates
    for cls in inst.classifications:
        grids = {s: np.arange(*inst.scale_range(s), step) for s in cls.scores_used()}
        grids = {s: np.append(g, inst.scale_range(s)[1]) for s, g in grids.items()}
        mesh = np.meshgrid(*grids.values(), indexing="ij")
        points = {s: m.ravel() for s, m in zip(grids, mesh, strict=True)}
        hits = np.zeros(mesh[0].size, dtype=int)
        for band in cls.bands:
            ok = np.ones_like(hits, dtype=bool)
            for cond in band.conditions:
                ok &= cond.holds(points[cond.score])
            hits += ok
        if inst.id == "startback":  # the subscale is part of the total: impossible pairs
            feasible = points["psychosocial"] <= points["total"]
            hits = hits[feasible]
        assert np.all(hits == 1), cls.name


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_scale_ranges_are_attained(inst: Instrument) -> None:
    lows = {i.number: min(i.codes, key=i.value) for i in inst.items}
    highs = {i.number: max(i.codes, key=i.value) for i in inst.items}
    lo, hi = inst.score(lows), inst.score(highs)
    for scale in inst.scales:
        assert (lo.scores[scale.name], hi.scores[scale.name]) == inst.scale_range(scale)


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_declared_code_base_shifts_codes(inst: Instrument, rng: np.random.Generator) -> None:
    data = random_responses(inst, rng, 50)
    shifted = data + 1
    pd.testing.assert_frame_equal(
        inst.score_frame(data), inst.score_frame(shifted, code_base=inst.code_base + 1)
    )


@pytest.mark.parametrize("inst", CODED, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_vectorised_equals_one_at_a_time(inst: Instrument, data: st.DataObject) -> None:
    rows = []
    for _ in range(4):
        rows.append(
            {
                inst.column(i.number): data.draw(st.one_of(st.none(), st.integers(i.low, i.high)))
                for i in inst.items
            }
        )
    frame = pd.DataFrame(rows, dtype=object)
    table = inst.score_frame(frame)
    for k, row in enumerate(rows):
        one = inst.score(row)
        for scale in inst.scales:
            got = table[scale.name].iloc[k]
            want = one.scores[scale.name]
            assert (math.isnan(got) and want is None) or got == pytest.approx(want)
        assert table["n_missing"].iloc[k] == one.n_missing
        assert table["prorated"].iloc[k] == one.prorated
        for name, label in one.categories.items():
            got_label = table[name].iloc[k]
            assert (pd.isna(got_label) and label is None) or got_label == label


@pytest.mark.parametrize("inst", CODED, ids=IDS)
def test_fhir_questionnaire_and_response_round_trip(
    inst: Instrument, rng: np.random.Generator
) -> None:
    q = inst.to_fhir()
    assert q["resourceType"] == "Questionnaire" and q["status"] == "active"
    assert [it["linkId"] for it in q["item"]] == list(inst.columns)
    for it, item in zip(q["item"], inst.items, strict=True):
        assert [int(o["valueCoding"]["code"]) for o in it["answerOption"]] == list(item.codes)
        assert it["text"] == item.label  # neutral label, no licensed wording
    response = {i.number: int(rng.integers(i.low, i.high + 1)) for i in inst.items}
    response[inst.items[-1].number] = None  # one unanswered item
    resource = questionnaire_response(inst, response, respondent="P42")
    result = score_response(resource)
    assert result.respondent == "P42"
    assert result == inst.score(response, respondent="P42")


def test_medication_contract() -> None:
    med = PSYCHOACTIVE_MEDICATION
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "psychoactive_medication_1": ["pregabalin", "none", None, "paracetamol"],
            "psychoactive_medication_2": ["N05BA01", None, None, "Oxycodone"],
        }
    )
    out = med.score_frame(frame, id_column="id")
    assert out["psychoactive"].fillna("missing").tolist() == ["yes", "no", "missing", "yes"]
    assert out["total"].iloc[0] == 2 and math.isnan(out["total"].iloc[2])
    assert out["n_missing"].tolist() == [0, 0, 1, 0]
    shuffled = frame[["psychoactive_medication_2", "id", "psychoactive_medication_1"]]
    pd.testing.assert_frame_equal(out, med.score_frame(shuffled, id_column="id"))
    for bad, match in (
        (["oxycodne"], "value 'oxycodne': unknown medication"),
        ([True], "not a medication name"),
        (["pregabalin", "none"], "first slot only"),
    ):
        with pytest.raises(DataValidationError, match=match):
            med.score(bad, respondent="X")
    with pytest.raises(DataValidationError, match="duplicate item"):
        med.score([(1, "pregabalin"), ("psychoactive_medication_1", "diazepam")])
    assert med.to_fhir()["item"][0]["repeats"] is True
