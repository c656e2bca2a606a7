"""Process entry points for the concurrency tests (importable under ``spawn``)."""

from __future__ import annotations

from typing import Any


def randomise_one(url: str, participant: str, ready: Any, go: Any, out: Any) -> None:
    """Signal ``ready``, wait for ``go``, randomise, put ``(participant, arm or error)``."""
    from resolve.trial import service

    service.engine_for(url)
    ready.put(participant)
    go.wait()
    try:
        out.put((participant, service.randomise(url, participant, user=f"w-{participant}")))
    except Exception as exc:  # reported to the parent, which fails the test
        out.put((participant, f"ERROR {type(exc).__name__}: {exc}"))
