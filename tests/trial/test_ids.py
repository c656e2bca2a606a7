"""Participant ids (and site codes, user names): one rule, every hostile payload refused."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolve.errors import DataValidationError, ResolveError
from resolve.trial.ids import (
    DEFAULT_ID_PATTERN,
    MAX_ID_LENGTH,
    compile_id_pattern,
    id_problem,
    safe_repr,
    validate_participant_id,
)
from resolve.trial.protocol import load_protocol
from tests.trial.test_protocol import ID_LINE, edited, load_text

OUTSIDE = "is outside the pattern ^[A-Za-z0-9._-]{1,64}$"


def refusal(value: object, **kw: str) -> str:
    with pytest.raises(DataValidationError) as info:
        validate_participant_id(value, **kw)
    assert isinstance(info.value, ResolveError) and isinstance(info.value, ValueError)
    return str(info.value)


# ----------------------------------------------------------------------------- accepted
@pytest.mark.parametrize(
    "value", ["P001", "RES-0042", "a", "site_1.b", "0", "-", "A" * MAX_ID_LENGTH]
)
def test_valid_ids_round_trip_unchanged(value: str) -> None:
    assert validate_participant_id(value) == value


def test_constants() -> None:
    assert MAX_ID_LENGTH == 64
    assert DEFAULT_ID_PATTERN == r"^[A-Za-z0-9._-]{1,64}$"


# ----------------------------------------------------------------------------- refused
# (payload, the whole message)
PAYLOADS = [
    ("P\n01", r"participant id 'P\n01': contains LINE FEED (U+000A), a control or invisible "
     "character"),
    ("P\r01", r"participant id 'P\r01': contains CARRIAGE RETURN (U+000D), a control or "
     "invisible character"),
    ("P\t01", r"participant id 'P\t01': contains CHARACTER TABULATION (U+0009), a control or "
     "invisible character"),
    ("P\x0001", r"participant id 'P\x0001': contains NULL (U+0000), a control or invisible "
     "character"),
    ("P\u200b01", r"participant id 'P\u200b01': contains ZERO WIDTH SPACE (U+200B), a control "
     "or invisible character"),
    ("P\u202e01", r"participant id 'P\u202e01': contains RIGHT-TO-LEFT OVERRIDE (U+202E), a "
     "control or invisible character"),
    ("\ufeffP01", r"participant id '\ufeffP01': contains ZERO WIDTH NO-BREAK SPACE (U+FEFF), a "
     "control or invisible character"),
    ("P\ue00001", r"participant id 'P\ue00001': contains a private-use character (U+E000), a "
     "control or invisible character"),
    ("Ｐ００１", r"participant id '\uff30\uff10\uff10\uff11': FULLWIDTH LATIN CAPITAL LETTER P "
     f"(U+FF30) {OUTSIDE}"),
    ("P0\u0399", rf"participant id 'P0\u0399': GREEK CAPITAL LETTER IOTA (U+0399) {OUTSIDE}"),
    ("P 01", f"participant id 'P 01': SPACE (U+0020) {OUTSIDE}"),
    ("P\u00a001", rf"participant id 'P\xa001': NO-BREAK SPACE (U+00A0) {OUTSIDE}"),
    ("P/01", f"participant id 'P/01': SOLIDUS (U+002F) {OUTSIDE}"),
    ("P'01", f"participant id \"P'01\": APOSTROPHE (U+0027) {OUTSIDE}"),
    ("e\u0301", rf"participant id 'e\u0301': LATIN SMALL LETTER E WITH ACUTE (U+00E9) {OUTSIDE}"),
    ("A" * 65, "participant id 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...': too long (65 "
     "characters; at most 64)"),
    ("A" * 100_000, "participant id 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...': too long (100000 "
     "characters; at most 64)"),
    ("", "participant id '': must not be empty"),
    (" P01", "participant id ' P01': leading whitespace, SPACE (U+0020), is not allowed"),
    ("P01 ", "participant id 'P01 ': trailing whitespace, SPACE (U+0020), is not allowed"),
    ("P01\n", r"participant id 'P01\n': trailing whitespace, LINE FEED (U+000A), is not allowed"),
    ("\tP01", r"participant id '\tP01': leading whitespace, CHARACTER TABULATION (U+0009), is "
     "not allowed"),
    ("\u3000P01", r"participant id '\u3000P01': leading whitespace, IDEOGRAPHIC SPACE (U+3000), "
     "is not allowed"),
    (" ", "participant id ' ': leading whitespace, SPACE (U+0020), is not allowed"),
    (42, "participant id must be a string; got 42 (int)"),
    (None, "participant id must be a string; got None (NoneType)"),
    (b"P01", "participant id must be a string; got b'P01' (bytes)"),
    (["P01"], "participant id must be a string; got ['P01'] (list)"),
    (1.5, "participant id must be a string; got 1.5 (float)"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "message"), PAYLOADS)
def test_every_payload_is_refused_with_one_safe_line(value: object, message: str) -> None:
    text = refusal(value)
    assert text == message
    assert text.isascii() and text.isprintable()  # one line, nothing invisible


def test_whitespace_is_refused_not_stripped() -> None:
    for value in (" P01", "P01 ", "P01\n", "\u00a0P01"):
        with pytest.raises(DataValidationError, match="whitespace"):
            validate_participant_id(value)


def test_length_cap_boundary() -> None:
    assert validate_participant_id("x" * 64) == "x" * 64
    assert "too long (65 characters" in refusal("x" * 65)


def test_length_cap_holds_whatever_the_pattern_says() -> None:
    loose = r".{1,1000}"
    assert validate_participant_id("x" * 64, pattern=loose) == "x" * 64
    assert "too long (65 characters; at most 64)" in refusal("x" * 65, pattern=loose)
    assert "too long (100000 characters" in refusal("x" * 100_000, pattern=loose)


def test_invisible_characters_are_refused_whatever_the_pattern_says() -> None:
    anything = r"(?s).+"
    assert validate_participant_id("Dr. Ngā Tūpuna", pattern=anything) == "Dr. Ngā Tūpuna"
    for ch in ("\n", "\r", "\t", "\x00", "\x1b", "\u200b", "\u200d", "\u202e", "\u2066", "\u2028"):
        text = refusal(f"a{ch}b", pattern=anything)
        assert "a control or invisible character" in text, text


# ----------------------------------------------------------------------------- NFC
def test_nfc_composes_then_the_pattern_decides() -> None:
    decomposed = "Rene\u0301e"
    # default rule: composed to é, then refused as outside the pattern
    assert "LATIN SMALL LETTER E WITH ACUTE (U+00E9)" in refusal(decomposed)
    # a pattern allowing é returns the NFC form
    out = validate_participant_id(decomposed, pattern=r"[\w-]+")
    assert out == "Ren\u00e9e" == unicodedata.normalize("NFC", decomposed)
    assert len(out) == 5
    # and the composed form typed directly is the same id
    assert validate_participant_id("Ren\u00e9e", pattern=r"[\w-]+") == out


def test_length_is_counted_after_nfc() -> None:
    # 64 base letters, each followed by a combining acute: 128 code points, 64 after NFC
    value = "e\u0301" * 64
    assert validate_participant_id(value, pattern=r"\w+") == "\u00e9" * 64
    assert "too long (65 characters" in refusal("e\u0301" * 65, pattern=r"\w+")


# ----------------------------------------------------------------------------- other uses
def test_what_names_the_kind_of_identifier() -> None:
    assert validate_participant_id("SYD", what="site code") == "SYD"
    assert refusal("S D", what="site code").startswith("site code 'S D': SPACE (U+0020)")
    assert refusal(7, what="user name") == "user name must be a string; got 7 (int)"


def test_custom_pattern_names_the_offending_character() -> None:
    pattern = r"P[0-9]{3}"
    assert validate_participant_id("P001", pattern=pattern) == "P001"
    assert refusal("P0a1", pattern=pattern) == (
        "participant id 'P0a1': character 3, LATIN SMALL LETTER A (U+0061), does not fit the "
        "pattern P[0-9]{3}"
    )
    assert refusal("P01", pattern=pattern) == (
        "participant id 'P01': does not match the pattern P[0-9]{3} (3 characters)"
    )
    # a full match is required, with or without anchors
    assert "does not match" in refusal("P0012", pattern=pattern)
    assert "does not match" in refusal("xP001", pattern=r"P[0-9]{3}$")
    # a single character class: the class is the alphabet
    assert refusal("ab1", pattern=r"^[a-z]+$") == (
        "participant id 'ab1': DIGIT ONE (U+0031) is outside the pattern ^[a-z]+$"
    )


def test_invalid_pattern() -> None:
    with pytest.raises(DataValidationError) as info:
        validate_participant_id("P001", pattern="^[A-Z")
    assert str(info.value) == (
        "not a valid regular expression (unterminated character set at position 1); got '^[A-Z'"
    )
    with pytest.raises(DataValidationError, match="must be a regular expression"):
        compile_id_pattern(5)  # type: ignore[arg-type]
    assert compile_id_pattern(DEFAULT_ID_PATTERN) is compile_id_pattern(DEFAULT_ID_PATTERN)


def test_id_problem() -> None:
    assert id_problem("P001") is None
    assert id_problem("") == "must not be empty"
    assert id_problem("x" * 70) == "too long (70 characters; at most 64)"
    assert id_problem(3) == "must be a string; got 3 (int)"  # type: ignore[arg-type]


def test_safe_repr() -> None:
    assert safe_repr("P\u200b01") == r"'P\u200b01'"
    assert safe_repr("line\nbreak") == r"'line\nbreak'"
    long = safe_repr("\u200b" * 1000)
    assert len(long) <= 40 and long.endswith("...'") and long.isascii()
    assert safe_repr(b"x" * 100).endswith("...") and len(safe_repr(b"x" * 100)) <= 40


# ----------------------------------------------------------------------------- protocol
def test_pattern_from_a_protocol(tmp_path: Path) -> None:
    assert load_protocol().participant_id_pattern == DEFAULT_ID_PATTERN
    p = load_text(tmp_path, edited(ID_LINE, 'participant_id_pattern = "RES-[0-9]{4}"'))
    assert p.participant_id_pattern == "RES-[0-9]{4}"
    assert p.check_participant_id("RES-0042") == "RES-0042"
    assert validate_participant_id("RES-0042", pattern=p.participant_id_pattern) == "RES-0042"
    with pytest.raises(DataValidationError) as info:
        p.check_participant_id("RES-42")
    assert str(info.value) == (
        "participant id 'RES-42': does not match the pattern RES-[0-9]{4} (6 characters)"
    )
    with pytest.raises(DataValidationError, match="ZERO WIDTH SPACE"):
        p.check_participant_id("RES-\u200b0042")


# ----------------------------------------------------------------------------- properties
@given(st.from_regex(DEFAULT_ID_PATTERN, fullmatch=True))
def test_every_default_id_is_accepted_unchanged(value: str) -> None:
    assert validate_participant_id(value) == value


@given(st.text(max_size=80))
def test_any_text_is_accepted_in_nfc_or_refused_in_one_line(value: str) -> None:
    pattern = r"(?s).+"
    try:
        out = validate_participant_id(value, pattern=pattern)
    except DataValidationError as exc:
        text = str(exc)
        assert text.isascii() and text.isprintable() and len(text) < 300
        return
    assert 1 <= len(out) <= MAX_ID_LENGTH
    assert out == unicodedata.normalize("NFC", value)
    assert not out[0].isspace() and not out[-1].isspace()
    assert all(unicodedata.category(c) not in {"Cc", "Cf", "Co", "Cs", "Cn"} for c in out)
    # idempotent: the stored form is accepted as is
    assert validate_participant_id(out, pattern=pattern) == out


@given(st.text(max_size=80))
def test_accepted_default_ids_round_trip(value: str) -> None:
    try:
        out = validate_participant_id(value)
    except DataValidationError:
        return
    assert out == value and len(out) <= MAX_ID_LENGTH
    assert re.fullmatch(DEFAULT_ID_PATTERN, out)
