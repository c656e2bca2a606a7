"""A small run of the load benchmark (``benchmarks/bench_web_load.py``) on SQLite and PostgreSQL.

10 concurrent clients x 2 participants each against a live server on loopback:
no request may fail, every randomisation answered 200 has exactly one
allocation (no duplicate, none missing, no gap in the allocation positions) and
the audit trail verifies. No timing is asserted (the benchmark reports those).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.db_fixtures import db_url  # noqa: F401 - the fixture
from tests.web import _browser as b

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_web_load.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_web_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_web_load", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_ten_clients_randomise_without_errors_or_duplicates(
    db_url: str,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    from resolve.web.app import create_app

    bench = _bench()
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    key_file = keys / "load.key"
    users = bench.make_trial(db_url, key_file, 10)
    server = b.LiveServer(create_app(db_url, key_file=key_file, secure_cookies=False)).start()
    try:
        results = asyncio.run(bench.run_load(server.url, users, 2))
    finally:
        server.stop()
    results.checks = bench.check_store(db_url, key_file, results)
    assert results.errors == []
    assert len(results.randomised) == 20
    assert results.checks["allocations"] == 20
    assert {k: results.checks[k] for k in bench.PROBLEMS} == dict.fromkeys(bench.PROBLEMS) | {
        "duplicate allocations": [],
        "missing allocations": [],
        "allocations without a 200": [],
        "position gaps or repeats": {},
    }
    assert results.ok
