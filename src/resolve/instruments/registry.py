"""The registry of instruments, by id."""

from __future__ import annotations

from typing import TypeAlias

from resolve.errors import DataValidationError, UnknownNameError
from resolve.instruments.base import Instrument
from resolve.instruments.catalog import CODED
from resolve.instruments.medication import PSYCHOACTIVE_MEDICATION, MedicationInstrument

__all__ = ["AnyInstrument", "available", "get", "register"]

AnyInstrument: TypeAlias = Instrument | MedicationInstrument

_REGISTRY: dict[str, AnyInstrument] = {i.id: i for i in (*CODED, PSYCHOACTIVE_MEDICATION)}


def get(instrument: str | AnyInstrument) -> AnyInstrument:
    """Return the instrument with id ``instrument`` (or the instrument itself).

    Examples
    --------
    >>> get("pcs").version
    'PCS (13 items)'
    """
    if isinstance(instrument, Instrument | MedicationInstrument):
        return instrument
    try:
        return _REGISTRY[instrument]
    except (KeyError, TypeError):
        raise UnknownNameError(
            f"unknown instrument {instrument!r}; known: {', '.join(sorted(_REGISTRY))}"
        ) from None


def available() -> tuple[AnyInstrument, ...]:
    """Every registered instrument, in registration order."""
    return tuple(_REGISTRY.values())


def register(instrument: AnyInstrument, *, replace: bool = False) -> None:
    """Register a site's own instrument definition."""
    if instrument.id in _REGISTRY and not replace:
        raise DataValidationError(f"instrument {instrument.id!r} is already registered")
    _REGISTRY[instrument.id] = instrument
