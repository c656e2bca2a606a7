"""Process entry points of the concurrency tests (importable under ``spawn`` and ``forkserver``).

Imported at module level, :mod:`resolve.ops` is loaded once by a forkserver
(``set_forkserver_preload``) instead of once per process.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from resolve import ops
from resolve.store import uow
from resolve.store.uow import Store


def _count_retries() -> Counter[str]:
    """Count the transient failures the store retries in this process, by SQLSTATE or kind."""
    seen: Counter[str] = Counter()
    classify = uow.classify

    def counting(exc: DBAPIError) -> str:
        kind = classify(exc)
        if kind == "retry":
            text = str(exc.orig).lower()
            state = getattr(exc.orig, "sqlstate", None)
            if state is None and ("too many clients" in text or "connection slots" in text):
                state = "53300"  # psycopg gives no SQLSTATE for a refused connection
            seen[state or ("sqlite busy" if "locked" in text else "other")] += 1
        return kind

    uow.classify = counting  # type: ignore[assignment]
    return seen


def randomise_one(
    url: str,
    key_file: Path,
    participant: str,
    user: str,
    deadline: float,
    ready: Any,
    go: Any,
    out: Any,
) -> None:
    """Signal ``ready``, wait for ``go``, randomise as ``user`` (store deadline ``deadline`` s).

    Puts ``(participant, arm or "ERROR ...", {retried failure: count})`` on ``out``.
    The client is built before ``ready`` but opens no connection until ``go``:
    every process connects at the same moment, as simultaneous CLI calls would.
    """
    retries = _count_retries()
    client = ops.Client(Store(url, deadline=deadline), user=user, key_file=key_file)
    ready.put(participant)
    go.wait()
    try:
        result = client.run(ops.randomise, participant)
    except Exception as exc:  # reported to the parent, which fails the test
        result = f"ERROR {type(exc).__name__}: {exc}"
    finally:
        client.store.engine.dispose()  # free the connection slot at once, as at exit
    out.put((participant, result, dict(retries)))
