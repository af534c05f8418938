"""Hostile input against the whole API, generated from its OpenAPI document: nothing answers 5xx.

Schemathesis builds requests for every documented operation (huge ids, years like 0001 and 9999,
odd strings, wrong types, nested objects) and sends them as the office; each answer must be a
4xx with a message or a success, on SQLite and on PostgreSQL.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from schemathesis import openapi

from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user

EXAMPLES = 30  # per operation and database


def test_no_request_gets_a_server_error(app, wiring):
    with wiring.sessions() as s:
        _, token = create_user(s, wiring.plan, name="办公室", role="office", unit="office", now=wiring.clock.now(),
                               actor=SystemActor(name="tests"))
        s.commit()
    schema = openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50

    for operation in operations:
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def call(case):
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, (case.method, case.formatted_path, case.query, str(case.body)[:300],
                                                 response.text[:500])
            if response.status_code >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
                assert response.json()["error"]["message"], response.text[:300]

        call()
