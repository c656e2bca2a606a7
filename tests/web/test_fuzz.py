"""API fuzzing: schemathesis against ``/api/v1/openapi.json`` on the ASGI app, authenticated.

Every operation of the document is called with generated requests, valid
(positive) and invalid (negative) ones, bounded to :data:`MAX_EXAMPLES` per
operation and mode and derandomised so that CI runs repeat, as the enroller
(who may screen, consent, randomise and record) and as the assessor (refusals,
and answers without arms). Each call carries a fresh bearer token, so fuzzing
``POST /api/v1/auth/logout`` revokes only its own. Checks: no server error (5xx)
and every response conforms to the schema the document declares for its status.

The operations are driven through their Hypothesis strategies inside one test
per role rather than ``schemathesis.pytest.from_fixture`` (whose lazy loading
does not run on pytest 9: it reads ``request.node._nodeid``).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.web.conftest import WebTrial, mint_token

MAX_EXAMPLES = 25
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate),  # no shrinking: bounded time on failure
)


@pytest.fixture(scope="module")
def api_schema(web: WebTrial) -> Any:
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", web.app)


def _fuzz(schema: Any, web: WebTrial, role: str) -> tuple[list[str], int]:
    """(Failures as "METHOD PATH [mode]: message", number of calls made)."""
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal calls
                calls += 1
                token = mint_token(web.store, role)
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                case.validate_response(response, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:  # nothing to make invalid (e.g. no parameters at all)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # failed checks, with the example
                parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                text = " | ".join(" ".join(str(e).split())[:700] for e in parts)
                failures.append(f"{operation.label} [{mode.value}]: {text}")
    return failures, calls


@pytest.mark.parametrize("role", ["enroller", "assessor"])
def test_api_conforms_and_never_fails(api_schema: Any, web: WebTrial, role: str) -> None:
    failures, calls = _fuzz(api_schema, web, role)
    assert calls >= 8 * MAX_EXAMPLES
    assert not failures, "\n\n".join(failures)
