"""Strict schemas for the project's TOML files (analysis plan, trial protocol, scenario).

A file format is a tree of pydantic models (one per TOML table) derived from
:class:`Table`: unknown keys are refused, types are strict (a boolean is never a
number, an integer is accepted where a number is expected, a list of strings must be
a TOML array of strings). :func:`validate` checks a parsed TOML document against such
a model and turns the first problem into one :class:`~resolve.errors.DataValidationError`
line naming the file, the table, the key and the value::

    plan.toml: [effect_modification] unknown key 'exploratry_p' (did you mean 'exploratory_p'?)
    plan.toml: [[outcomes]] #2 'range': must be [low, high] with low < high; got [10, 0]
    plan.toml: [trial] missing key 'arms'

Rules a type cannot state are written as validators that raise :class:`SchemaError`
(its ``loc`` continues the key path from where the check runs), so their messages are
located the same way. :func:`reference_markdown` renders a model as the reference
tables of a documentation page, so documentation is generated from the same schema.

Examples
--------
>>> from typing import Annotated
>>> class Settings(Table):
...     level: Annotated[float, between(0, 1)] = 0.5
>>> validate(Settings, {"level": 1}, "my.toml").level
1.0
>>> validate(Settings, {"levle": 0.2}, "my.toml")
Traceback (most recent call last):
...
resolve.errors.DataValidationError: my.toml: unknown key 'levle' (did you mean 'level'?)
>>> validate(Settings, {"level": True}, "my.toml")
Traceback (most recent call last):
...
resolve.errors.DataValidationError: my.toml: 'level': must be a number in [0, 1]; got True
"""

import difflib
import math
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, core_schema

from resolve.errors import DataValidationError

__all__ = [
    "NonEmpty",
    "SchemaError",
    "Table",
    "Text",
    "Unique",
    "between",
    "reference_markdown",
    "show_default",
    "validate",
]

T = TypeVar("T", bound=BaseModel)
Loc = tuple[str | int, ...]


class SchemaError(ValueError):
    """A broken rule; ``loc`` continues the key path from where the check ran.

    Raise it from validators of :class:`Table` models. The message is the
    complete description of the problem (e.g. ``"must be [low, high] with low <
    high; got [10, 0]"``); :func:`validate` puts the file, table and key before it.
    """

    def __init__(self, message: str, *loc: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.loc: Loc = loc


class Table(BaseModel):
    """Base of every TOML table model: unknown keys refused, strict types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ----------------------------------------------------------------------------- value types
@dataclass(frozen=True)
class _Bounds:
    """Annotated metadata: a finite number (or integer) within optional bounds."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self, integer: bool) -> str:
        """``"a number in [0, 1]"``, ``"an integer >= 1"``, ``"a number > 0"``..."""
        kind = "an integer" if integer else "a number"
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        return kind if integer else "a finite number"

    def check(self, value: float, integer: bool, shown: Any = None) -> None:
        """Raise :class:`SchemaError` unless ``value`` is finite and within the bounds."""
        ok = math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.high_open else value <= self.high
        if not ok:
            shown = value if shown is None else shown
            raise SchemaError(f"must be {self.describe(integer)}; got {shown!r}")

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        integer = source is int

        def check(value: Any, inner: core_schema.ValidatorFunctionWrapHandler) -> Any:
            number = inner(value)  # type check first; show the value as written
            self.check(number, integer, value)
            return number

        return core_schema.no_info_wrap_validator_function(check, handler(source))


def between(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Any:
    """Metadata for ``Annotated[float, ...]`` or ``Annotated[int, ...]``: a bounded value.

    Bounds are inclusive unless ``low_open`` / ``high_open``; NaN and infinity are
    always refused, and numbers are returned as ``float``.

    Examples
    --------
    >>> class A(Table):
    ...     p: Annotated[float, between(0, 1, low_open=True)]
    >>> validate(A, {"p": 0}, "a.toml")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: a.toml: 'p': must be a number in (0, 1]; got 0
    """
    return _Bounds(low, high, low_open, high_open)


@dataclass(frozen=True)
class NonEmpty:
    """Annotated metadata for ``str``: not empty nor only blanks."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def check(value: str) -> str:
            if not value.strip():
                raise SchemaError(f"must be a non-empty string; got {value!r}")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


@dataclass(frozen=True)
class Unique:
    """Annotated metadata for a list: no value twice."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def check(value: list[Any]) -> list[Any]:
            dup = [v for k, v in enumerate(value) if v in value[:k]]
            if dup:
                raise SchemaError(f"lists {', '.join(map(repr, dict.fromkeys(dup)))} twice")
            return value

        return core_schema.no_info_after_validator_function(check, handler(source))


#: A non-empty string.
Text = Annotated[str, NonEmpty()]


# ----------------------------------------------------------------------------- validation
def validate(
    model: type[T],
    data: Any,
    source: str,
    *,
    context: Mapping[str, Any] | None = None,
    style: Literal["table", "dotted"] = "table",
) -> T:
    """Validate parsed TOML ``data`` against ``model``; raise one located error line.

    Parameters
    ----------
    model : type of Table
        The schema of the whole document.
    data : Any
        The parsed document (usually :func:`resolve._validation.parse_toml` output).
    source : str
        Named first in an error message (usually the file name).
    context : mapping, optional
        Passed to the validators (pydantic validation context).
    style : {"table", "dotted"}
        How a message locates a key: ``"table"`` names the TOML table and the key
        (``[[outcomes]] #2 'range': ...``); ``"dotted"`` names the full key path
        (``key 'pain.sham.sd[2]' ...``), for files whose documentation addresses
        every parameter that way (simulation scenarios).

    Returns
    -------
    Table
        The validated model.

    Raises
    ------
    DataValidationError
        ``"<source>: <table> <problem>"`` for the first problem: an unknown key
        (with the nearest valid key), a missing key, a value of the wrong type, or a
        broken rule (:class:`SchemaError`). Unknown keys are reported first, as a
        misspelt key also makes the intended one look missing.

    Examples
    --------
    >>> class Trial(Table):
    ...     arms: list[Text]
    >>> class Doc(Table):
    ...     trial: Trial
    >>> validate(Doc, {"trial": {"arms": ["a", "b"]}}, "x.toml").trial.arms
    ['a', 'b']
    >>> validate(Doc, {"trial": {}}, "x.toml")
    Traceback (most recent call last):
    ...
    resolve.errors.DataValidationError: x.toml: [trial] missing key 'arms'
    """
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        errors.sort(key=lambda e: e["type"] != "extra_forbidden")  # stable: keeps order
        raise DataValidationError(_message(model, data, source, errors[0], style)) from None


@dataclass
class _Place:
    """Where a location points: the enclosing table and the key path inside it."""

    header: str  # "[trial]", "[[outcomes]] #2", "" at the top level
    parts: tuple[str, ...]  # dotted path of the enclosing table
    keys: Mapping[str, Any] | None  # key -> annotation of the enclosing table (None: any key)
    value_type: Any  # annotation of values of a map table
    rest: Loc  # key path inside the table: (key, index, ...) or () for the table itself


def _header(parts: Sequence[str], index: int | None, array: bool) -> str:
    if not parts:
        return ""
    dotted = ".".join(parts)
    if array:
        return f"[[{dotted}]]" + (f" #{index + 1}" if index is not None else "")
    return f"[{dotted}]"


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Key (alias or name) -> annotation including field metadata."""
    return {(f.alias or name): _annotation(f) for name, f in model.model_fields.items()}


def _annotation(f: FieldInfo) -> Any:
    if f.metadata:
        return Annotated[(f.annotation, *f.metadata)]  # type: ignore[valid-type]
    return f.annotation


def _strip(ann: Any) -> tuple[Any, tuple[Any, ...]]:
    """Remove ``Annotated`` and ``| None``; return the type and its metadata."""
    meta: tuple[Any, ...] = ()
    while True:
        origin = get_origin(ann)
        if origin is Annotated:
            base, *more = get_args(ann)
            ann, meta = base, (*meta, *more)
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann, meta
            ann = args[0]
        else:
            return ann, meta


def _model(ann: Any) -> type[BaseModel] | None:
    ann, _ = _strip(ann)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _kind(ann: Any) -> tuple[str, Any]:
    """``("table", model)``, ``("array", model)``, ``("map", value)`` or ``("value", None)``."""
    ann, _ = _strip(ann)
    if _model(ann) is not None:
        return "table", ann
    origin, args = get_origin(ann), get_args(ann)
    if origin in (list, tuple) and args and _model(args[0]) is not None:
        return "array", _model(args[0])
    if origin is dict and len(args) == 2:
        return "map", args[1]
    return "value", None


def _place(model: type[BaseModel], loc: Loc) -> _Place:
    parts: list[str] = []
    index: int | None = None
    array = False
    keys: Mapping[str, Any] | None = _fields(model)
    value_type: Any = None
    i = 0
    while i < len(loc):
        key = loc[i]
        if not isinstance(key, str):
            break
        if keys is None:
            ann = value_type
        elif key in keys:
            ann = keys[key]
        else:
            break
        kind, sub = _kind(ann)
        after = loc[i + 1 :]
        if kind == "table" and after:
            parts, index, array = [*parts, key], None, False
            keys, i = _fields(sub), i + 1
        elif kind == "array" and after and isinstance(after[0], int):
            parts, index, array = [*parts, key], after[0], True
            keys, i = _fields(sub), i + 2
        elif kind == "map" and after:
            parts, index, array = [*parts, key], None, False
            keys, value_type, i = None, sub, i + 1
        else:
            break
    return _Place(_header(parts, index, array), tuple(parts), keys, value_type, loc[i:])


def _lookup(data: Any, loc: Loc) -> Any:
    for key in loc:
        found = (isinstance(key, int) and isinstance(data, list) and 0 <= key < len(data)) or (
            isinstance(key, str) and isinstance(data, Mapping) and key in data
        )
        if not found:
            return None
        data = data[key]
    return data


def _suffix(path: Loc) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path)


def _dotted(loc: Loc) -> str:
    """``("pain", "sham", "sd", 2)`` -> ``"pain.sham.sd[2]"``."""
    out = ""
    for k in loc:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else k)
    return out


def _show(value: Any, limit: int = 80) -> str:
    """``repr(value)``, shortened to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _message(model: type[BaseModel], data: Any, source: str, error: Any, style: str) -> str:
    loc: Loc = tuple(error["loc"])
    exc = (error.get("ctx") or {}).get("error")
    text = None if exc is None else exc.message if isinstance(exc, SchemaError) else str(exc)
    if isinstance(exc, SchemaError):
        loc = (*loc, *exc.loc)
    dotted = style == "dotted"
    place = _place(model, loc)
    head = f"{source}: " + (f"{place.header} " if place.header else "")
    if not place.rest:  # the problem is the table itself
        msg = text or f"must be a table; got {_show(_lookup(data, loc))}"
        if dotted:
            return f"{source}: " + (f"key {_dotted(loc)!r} " if loc else "") + msg
        return head + msg
    key = str(place.rest[0])
    ann = place.value_type if place.keys is None else place.keys.get(key)
    kind, _ = _kind(ann) if ann is not None else ("value", None)
    sub = (*place.parts, key)
    key_loc = loc[: len(loc) - len(place.rest) + 1]
    if error["type"] == "extra_forbidden":
        allowed = list(place.keys or ())
        near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.7)
        if dotted:
            hint = f"did you mean {_dotted((*key_loc[:-1], near[0]))!r}?" if near else ""
            hint = hint or f"allowed: {', '.join(allowed)}"
            shown = _show(error["input"])
            return f"{source}: unknown key {_dotted(key_loc)!r} (value {shown}; {hint})"
        hint = f"did you mean {near[0]!r}?" if near else f"allowed: {', '.join(allowed)}"
        return head + f"unknown key {key!r} ({hint})"
    if error["type"] == "missing" and len(place.rest) == 1:
        if dotted:
            return f"{source}: missing key {_dotted(key_loc)!r}"
        if kind == "table":
            return f"{source}: missing table {_header(sub, None, False)}"
        if kind == "array":
            return f"{source}: missing {_header(sub, None, True)} entries"
        return head + f"missing key {key!r}"
    if text is None:  # a value of the wrong type: say what the whole key must be
        if kind in ("table", "array"):
            want = "a table" if kind == "table" else "one or more tables"
        else:
            want = _expected(ann)[0]
        text = f"must be {want}; got {_show(_lookup(data, key_loc))}"
        loc = key_loc
    if dotted:
        return f"{source}: key {_dotted(loc)!r} {text}"
    if kind in ("table", "array") and loc == key_loc:
        return f"{source}: {_header(sub, None, kind == 'array')} {text}"
    return head + f"{key!r}{_suffix(loc[len(key_loc) :])}: {text}"


# ----------------------------------------------------------------------------- descriptions
def _expected(ann: Any) -> tuple[str, str]:
    """What a value of type ``ann`` must be: (singular, plural) phrases."""
    base, meta = _strip(ann)
    for m in meta:
        if isinstance(m, _Bounds):
            one = m.describe(integer=base is int)
            for singular, plural in (
                ("a finite number", "finite numbers"),
                ("a number", "numbers"),
            ):
                if one.startswith(singular):
                    return one, plural + one[len(singular) :]
            return one, "integers" + one[len("an integer") :]
    if any(isinstance(m, NonEmpty) for m in meta):
        return "a non-empty string", "non-empty strings"
    if _model(base) is not None:
        return "a table", "tables"
    simple = {
        str: ("a string", "strings"),
        bool: ("true or false", "true/false values"),
        int: ("an integer", "integers"),
        float: ("a finite number", "numbers"),
    }
    if base in simple:
        return simple[base]
    origin, args = get_origin(base), get_args(base)
    if origin is Literal:
        values = ", ".join(str(a) for a in args)
        return f"one of {values}", f"values from {values}"
    if origin in (list, tuple) and args:
        return f"a list of {_expected(args[0])[1]}", f"lists of {_expected(args[0])[1]}"
    if origin is dict and len(args) == 2:
        return f"a table of {_expected(args[1])[1]}", f"tables of {_expected(args[1])[1]}"
    return "a valid value", "valid values"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def show_default(text: str) -> dict[str, Any]:
    """``json_schema_extra`` of a field whose default is computed, e.g. ``"the name"``."""
    return {"shown_default": text}


def reference_markdown(
    model: type[BaseModel],
    *,
    level: int = 3,
    intro: Mapping[str, str] | None = None,
) -> str:
    """Markdown reference of every table of ``model``: key, type, default, meaning.

    One section per table (``[trial]``, ``[[outcomes]]``...), in field order,
    nested tables after their parent. A field's meaning is its ``description``;
    a computed default is shown with :func:`show_default`. ``intro`` maps a
    section title (``"[trial]"``) to a sentence shown under it.

    Examples
    --------
    >>> from pydantic import Field
    >>> class Trial(Table):
    ...     name: Text = Field(description="Trial name.")
    ...     ratio: Annotated[int, between(1)] = Field(1, description="Allocation ratio.")
    >>> class Doc(Table):
    ...     trial: Trial
    >>> print(reference_markdown(Doc))
    ### `[trial]`
    <BLANKLINE>
    | Key | Type | Default | Meaning |
    |---|---|---|---|
    | `name` | a non-empty string | required | Trial name. |
    | `ratio` | an integer >= 1 | `1` | Allocation ratio. |
    <BLANKLINE>
    """
    out: list[str] = []

    def section(table: type[BaseModel], parts: tuple[str, ...], array: bool) -> None:
        rows, nested = [], []
        for name, f in table.model_fields.items():
            key = f.alias or name
            ann = _annotation(f)
            kind, sub = _kind(ann)
            if kind in ("table", "array"):
                nested.append((sub, (*parts, key), kind == "array"))
                continue
            extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
            if "shown_default" in extra:
                default = str(extra["shown_default"])
            elif f.is_required():
                default = "required"
            else:
                value = f.get_default(call_default_factory=True)
                default = "none" if value is None or value is PydanticUndefined else _toml(value)
                default = f"`{default}`" if default != "none" else default
            meaning = (f.description or "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| `{key}` | {_expected(ann)[0]} | {default} | {meaning} |")
        if parts and rows:
            header = _header(parts, None, array)
            out.append(f"{'#' * level} `{header}`\n")
            if intro and header in intro:
                out.append(intro[header] + "\n")
            out.append("| Key | Type | Default | Meaning |\n|---|---|---|---|")
            out.extend(rows)
            out.append("")
        for sub, sub_parts, sub_array in nested:
            section(sub, sub_parts, sub_array)

    section(model, (), False)
    return "\n".join(out)
