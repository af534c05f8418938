"""Two reports signed off at once, the first documents of their year: numbers 1 and 2, not a server error.

Found by bench/province_chain.py: a city office passing reports on in parallel got HTTP 500 (duplicate
key of document_counters) when two of its first documents of the year were numbered at the same moment.
On PostgreSQL only: SQLite serialises writers at BEGIN IMMEDIATE, so the second waits before it reads.
"""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from incidents.response import documents

BOUND = 30.0  # seconds: a limit on waiting for the other transaction


def test_the_first_two_numbers_of_a_year_taken_at_once_are_1_and_2(wiring, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the writer's lock at BEGIN: the second transaction waits before it reads")
    first, second = wiring.sessions(), wiring.sessions()
    try:
        assert documents._next_number(first, "中市监", 2031) == 1  # its counter row made, not yet committed
        pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
        got: dict = {}

        def number() -> None:
            try:
                got["n"] = documents._next_number(second, "中市监", 2031)
                second.commit()
            except Exception as exc:  # noqa: BLE001 - the assertion below shows it
                got["error"] = exc

        worker = threading.Thread(target=number)
        worker.start()
        # Commit the first only once the second is waiting for it on a lock (the race, not a sequence).
        end = time.monotonic() + BOUND
        with wiring.engine.connect() as watch:
            while watch.execute(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                                {"p": pid}).scalar() != "Lock":
                assert time.monotonic() < end and worker.is_alive(), got
                time.sleep(0.01)
        first.commit()
        worker.join(BOUND)
        assert got == {"n": 2}
    finally:
        first.close()
        second.close()
