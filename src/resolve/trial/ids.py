"""One rule for identifiers typed by people: participant ids, site codes, user names.

An identifier is checked once, where it enters the system, and stored in the form
returned here, so that ``"P001"`` typed twice is one participant and no look-alike
(``"P\\u200b001"``, a full-width ``"Ｐ００１"``, ``"P001\\n"``) becomes a second one.
:func:`validate_participant_id`:

1. refuses anything that is not a string;
2. normalises the string to Unicode NFC (``"e\\u0301"`` becomes ``"é"``), the form in
   which it is compared and stored;
3. refuses it when empty, longer than :data:`MAX_ID_LENGTH` (64: the width of the
   database column, whatever the pattern says), when it starts or ends with
   whitespace (never stripped silently), or when it holds a control or invisible
   character (line breaks, tabs, zero-width and bidirectional formatting characters),
   whatever the pattern says;
4. requires a full match of the pattern: by default :data:`DEFAULT_ID_PATTERN`
   (1-64 ASCII letters, digits, ``.``, ``_`` or ``-``); a trial protocol can set
   its own (``[trial] participant_id_pattern``).

Every refusal is one :class:`~resolve.errors.DataValidationError` line that shows the
value escaped (:func:`safe_repr`) and names the broken rule and the first offending
character by its Unicode name.

Examples
--------
>>> validate_participant_id("P001")
'P001'
>>> validate_participant_id("P\\u200b01")
Traceback (most recent call last):
...
resolve.errors.DataValidationError: participant id 'P\\u200b01': contains ZERO WIDTH SPACE (U+200B), a control or invisible character
>>> validate_participant_id("SYD", what="site code")
'SYD'
"""  # noqa: E501

from __future__ import annotations

import functools
import re
import unicodedata

from resolve.errors import DataValidationError

__all__ = [
    "DEFAULT_ID_PATTERN",
    "MAX_ID_LENGTH",
    "compile_id_pattern",
    "id_problem",
    "safe_repr",
    "validate_participant_id",
]

#: Longest identifier accepted, in characters after NFC normalisation. The database
#: columns holding participant ids and site codes are 64 characters wide, so the cap
#: holds whatever a protocol's pattern allows.
MAX_ID_LENGTH = 64

#: Default identifier rule: 1-64 ASCII letters, digits, ``.``, ``_`` or ``-``.
DEFAULT_ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

# Longest value shown in an error message (escaped, quotes included).
_SHOWN = 40

# Unicode categories never allowed, whatever the pattern: control (Cc), format (Cf:
# zero-width and bidirectional characters, BOM), surrogate (Cs), private use (Co),
# unassigned (Cn), line and paragraph separators (Zl, Zp).
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})

# unicodedata.name() knows no name for control characters; these are their aliases.
_CONTROL_NAMES = {
    "\x00": "NULL",
    "\x07": "BELL",
    "\x08": "BACKSPACE",
    "\t": "CHARACTER TABULATION",
    "\n": "LINE FEED",
    "\x0b": "LINE TABULATION",
    "\x0c": "FORM FEED",
    "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE",
    "\x7f": "DELETE",
    "\x85": "NEXT LINE",
}

# What a character without a name is, by category.
_UNNAMED = {
    "Cc": "a control character",
    "Co": "a private-use character",
    "Cs": "a surrogate",
    "Cn": "an unassigned code point",
}

# A pattern that is one character class with a quantifier ("^[A-Z0-9]{1,64}$",
# "[a-z]+"): the class is then the set of allowed characters, which names exactly the
# first character outside it.
_SIMPLE = re.compile(
    r"(?:\^|\\A)?(\[\^?\]?(?:\\.|[^\]\\])*\])(?:[+*]|\{\d*(?:,\d*)?\})(?:\$|\\Z|\\z)?"
)

# Stand-ins tried in place of one character to find which character breaks a pattern
# that is not a single character class.
_PROBES = ("0", "a", "A", "_", "-", ".")

# Values much longer than the cap are refused before normalisation (NFC composes at most
# a few code points into one, so such a value cannot come back under the cap).
_PRECHECK = 16 * MAX_ID_LENGTH


def safe_repr(value: object, limit: int = _SHOWN) -> str:
    """An ASCII-only, escaped ``repr`` of ``value``, shortened to about ``limit`` characters.

    Control, invisible and non-ASCII characters are shown as escapes, so a message
    cannot hide a line break, a zero-width or a right-to-left character, nor pass a
    look-alike for an ASCII letter.

    Parameters
    ----------
    value : object
        Any value; strings are shown quoted.
    limit : int
        Longest result; a longer one is cut and ends with ``...`` inside the quotes.

    Returns
    -------
    str
        The escaped representation.

    Examples
    --------
    >>> print(safe_repr("P\\u200b01"))
    'P\\u200b01'
    >>> print(safe_repr("Ｐ００１"))
    '\\uff30\\uff10\\uff10\\uff11'
    >>> print(safe_repr("A" * 100))
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...'
    """
    if not isinstance(value, str):
        text = ascii(value)
        return text if len(text) <= limit else text[: limit - 3] + "..."
    head = value[:limit]
    text = ascii(head)
    if len(head) == len(value) and len(text) <= limit:
        return text
    k = len(head)
    while k > 0 and len(ascii(value[:k])) > limit - 3:
        k -= 1
    text = ascii(value[:k])
    return text[:-1] + "..." + text[-1]


def _char(ch: str) -> str:
    """``"ZERO WIDTH SPACE (U+200B)"``: a character by its Unicode name and code point."""
    name = unicodedata.name(ch, None) or _CONTROL_NAMES.get(ch)
    if name is None:
        name = _UNNAMED.get(unicodedata.category(ch), "an unnamed character")
    return f"{name} (U+{ord(ch):04X})"


def compile_id_pattern(pattern: str = DEFAULT_ID_PATTERN) -> re.Pattern[str]:
    """Compile an identifier pattern, or explain why it is not one.

    The pattern is always applied with :meth:`re.Pattern.fullmatch`, so it need not
    be anchored (``^``/``$`` are allowed and harmless), and the cap of
    :data:`MAX_ID_LENGTH` characters and the refusal of control and invisible
    characters hold whatever it allows. A protocol calls this when it is loaded, so
    that a broken pattern is reported before anything is written.

    Parameters
    ----------
    pattern : str
        A Python regular expression.

    Returns
    -------
    re.Pattern
        The compiled pattern (cached).

    Raises
    ------
    DataValidationError
        ``pattern`` is not a string or not a valid regular expression (the message
        gives the reason and position).

    Examples
    --------
    >>> compile_id_pattern(r"P[0-9]{3}").fullmatch("P001") is not None
    True
    >>> compile_id_pattern(r"^[A-Z")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: not a valid regular expression (unterminated character set at position 1); got '^[A-Z'
    """  # noqa: E501
    if not isinstance(pattern, str):
        raise DataValidationError(
            f"must be a regular expression (a string); got {safe_repr(pattern, 80)}"
        )
    return _compile(pattern)


@functools.lru_cache(maxsize=64)
def _compile(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        where = "" if exc.pos is None else f" at position {exc.pos}"
        raise DataValidationError(
            f"not a valid regular expression ({exc.msg}{where}); got {safe_repr(pattern, 80)}"
        ) from None


def _mismatch(value: str, pattern: str, compiled: re.Pattern[str]) -> str:
    """Why ``value`` does not fully match ``pattern``, naming the offending character."""
    simple = _SIMPLE.fullmatch(pattern)
    if simple is not None:
        allowed = re.compile(simple.group(1))
        for ch in value:
            if not allowed.fullmatch(ch):
                return f"{_char(ch)} is outside the pattern {pattern}"
    else:
        for i, ch in enumerate(value):
            for probe in _PROBES:
                if probe != ch and compiled.fullmatch(value[:i] + probe + value[i + 1 :]):
                    return f"character {i + 1}, {_char(ch)}, does not fit the pattern {pattern}"
    return f"does not match the pattern {pattern} ({len(value)} characters)"


def validate_participant_id(
    value: object, *, pattern: str = DEFAULT_ID_PATTERN, what: str = "participant id"
) -> str:
    """Check an identifier and return it in the form to compare and store (NFC).

    Parameters
    ----------
    value : object
        The identifier as typed (from a form, the command line, a file).
    pattern : str
        Regular expression the whole (NFC) identifier must match
        (:meth:`re.Pattern.fullmatch`); a protocol's
        ``Protocol.participant_id_pattern``. Default :data:`DEFAULT_ID_PATTERN`.
    what : str
        What the value is, for the message: ``"participant id"``, ``"site code"``,
        ``"user name"``...

    Returns
    -------
    str
        The identifier, NFC-normalised. An accepted identifier that was already in
        NFC is returned unchanged; it is never stripped or case-folded.

    Raises
    ------
    DataValidationError
        One line ``"<what> <escaped value>: <rule>"`` when ``value`` is not a
        string, is empty, is longer than :data:`MAX_ID_LENGTH` characters, starts
        or ends with whitespace, contains a control or invisible character, or does
        not match ``pattern`` (the first character outside it is named); also when
        ``pattern`` is not a valid regular expression.

    Examples
    --------
    >>> validate_participant_id("RES-0042")
    'RES-0042'
    >>> validate_participant_id(" P01")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: participant id ' P01': leading whitespace, SPACE (U+0020), is not allowed
    >>> validate_participant_id("Ｐ００１")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: participant id '\\uff30\\uff10\\uff10\\uff11': FULLWIDTH LATIN CAPITAL LETTER P (U+FF30) is outside the pattern ^[A-Za-z0-9._-]{1,64}$
    >>> validate_participant_id("Ren\\u0065\\u0301e", pattern=r"\\w+", what="user name")
    'Renée'
    """  # noqa: E501
    compiled = compile_id_pattern(pattern)
    if not isinstance(value, str):
        raise DataValidationError(
            f"{what} must be a string; got {safe_repr(value)} ({type(value).__name__})"
        )
    text, problem = _check(value, pattern, compiled)
    if problem is not None:
        raise DataValidationError(f"{what} {safe_repr(value)}: {problem}")
    return text


def id_problem(value: str, pattern: str = DEFAULT_ID_PATTERN) -> str | None:
    """The rule of :func:`validate_participant_id` that ``value`` breaks, or None.

    For callers that word their own message around the rule (the protocol reader
    checks factor levels and names this way).

    Parameters
    ----------
    value : str
        The text to check.
    pattern : str
        As for :func:`validate_participant_id`.

    Returns
    -------
    str or None
        ``"too long (70 characters; at most 64)"``, ``"must not be empty"``... or
        None when ``value`` is accepted.

    Examples
    --------
    >>> id_problem("site-1") is None
    True
    >>> id_problem("new castle")
    'SPACE (U+0020) is outside the pattern ^[A-Za-z0-9._-]{1,64}$'
    """
    compiled = compile_id_pattern(pattern)
    if not isinstance(value, str):
        return f"must be a string; got {safe_repr(value)} ({type(value).__name__})"
    return _check(value, pattern, compiled)[1]


def _check(value: str, pattern: str, compiled: re.Pattern[str]) -> tuple[str, str | None]:
    """The NFC form of ``value`` and the rule it breaks (None when accepted)."""
    if len(value) > _PRECHECK:
        return value, f"too long ({len(value)} characters; at most {MAX_ID_LENGTH})"
    text = unicodedata.normalize("NFC", value)
    if not text:
        return text, "must not be empty"
    if len(text) > MAX_ID_LENGTH:
        return text, f"too long ({len(text)} characters; at most {MAX_ID_LENGTH})"
    for side, ch in (("leading", text[0]), ("trailing", text[-1])):
        if ch.isspace():
            return text, f"{side} whitespace, {_char(ch)}, is not allowed"
    for ch in text:
        if unicodedata.category(ch) in _INVISIBLE:
            return text, f"contains {_char(ch)}, a control or invisible character"
    if compiled.fullmatch(text) is None:
        return text, _mismatch(text, pattern, compiled)
    return text, None
