"""Property-based tests of the whole REST API from its OpenAPI schema (schemathesis), in process, on a seeded home.

For every operation, as an admin and as a subscriber (bearer tokens), schema-valid and schema-invalid requests
are generated; every answer must be no server error (5xx), carry a documented status code and content type,
and match the documented response schema (the error shape included). Bounded and derandomised, so the run is
the same each time; ``FAIRTEL_SCHEMATHESIS_EXAMPLES`` raises the number of examples for a deeper run.

Left out: schemathesis' ``positive_data_acceptance`` check, which expects every schema-valid request to be
accepted. Some rejections are about meaning, not shape, and a schema cannot say them: an offer that is not in
the catalog, a cursor this API did not give out, a subscriber login without a number. They are 4xx answers
with the error shape, which the checks that do run verify.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fairtel_seed import PASSWORD, seed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from fairtel.api import ApiOptions, create_app

EXAMPLES = int(os.environ.get("FAIRTEL_SCHEMATHESIS_EXAMPLES", "10"))
EXCLUDED_CHECKS = [openapi_checks.positive_data_acceptance]


class EchoAssistant:
    """Stands in for the trained care assistant (tested in tests/care), so that /chat answers 200 here."""

    def reply(self, message: str, *, msisdn: str, language: str | None) -> dict[str, Any]:
        return {"text": f"received {len(message)} characters", "intent": "echo", "language": language or "en"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[FastAPI, TestClient]]:
    """A fresh home per role: what one role's generated requests change (users, keys, caps) stays there."""
    seeded = seed(tmp_path / "home")
    app = create_app(seeded.settings, options=ApiOptions(rate_per_second=0), assistant=EchoAssistant())
    with TestClient(app) as client:
        yield app, client
    seeded.engine.dispose()


def run_schema(app: FastAPI, token: str) -> tuple[int, int, collections.Counter[int], dict[str, str]]:
    """(operations, examples, statuses seen, failures by operation and mode)."""
    # logging out would end the token the run uses
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app).exclude(path="/api/v1/auth/logout")
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = {"Authorization": f"Bearer {token}"}
    statuses: collections.Counter[int] = collections.Counter()
    failures: dict[str, str] = {}
    examples = 0
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for op in operations:

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Any) -> None:
                nonlocal examples
                examples += 1
                response = case.call_and_validate(headers=headers, excluded_checks=EXCLUDED_CHECKS)
                statuses[response.status_code] += 1

            try:
                check()
            except Unsatisfiable:  # e.g. no invalid request exists for an operation without parameters
                continue
            except BaseException as exc:  # a FailureGroup is a BaseExceptionGroup: keep going, report all
                failures[f"{mode.value} {op.label}"] = str(exc)[:2000]
    return len(operations), examples, statuses, failures


def _summary(role: str, operations: int, examples: int, statuses: collections.Counter[int], failures: dict[str, str]) -> str:
    codes = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
    return f"schemathesis as {role}: {operations} operations, {examples} examples, {len(failures)} failing; statuses {codes}"


@pytest.mark.parametrize(("role", "user"), [("admin", "admin1"), ("subscriber", "alice")])
def test_api_conforms_to_its_schema_with_no_server_error(api: tuple[FastAPI, TestClient], role: str, user: str) -> None:
    app, client = api
    login = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert login.status_code == 200, login.text
    operations, examples, statuses, failures = run_schema(app, login.json()["access_token"])
    summary = _summary(role, operations, examples, statuses, failures)
    print(summary)
    assert not failures, summary + "\n\n" + "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
    assert operations >= 40, "the schema lists every endpoint"
    assert examples >= operations * EXAMPLES, summary
    assert not any(code >= 500 for code in statuses), summary
    # the token worked: the role reached data, and generated requests were not all refused at the door
    assert sum(n for code, n in statuses.items() if 200 <= code < 300) >= 20, summary
    assert statuses[401] < examples // 4, summary
