"""Board events whose room is busy wait for their number instead of their writer waiting; numbers stay gapless."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from app.jobs.board_numbers import number_waiting
from app.scheduler import build
from incidents.models import BoardEvent, BoardRoom
from incidents.records import board_events
from incidents.records.board_events import OVERVIEW


@pytest.fixture
def pushed(wiring):
    """What the app hands to the boards after each commit."""
    got: list[dict] = []
    wiring.emit = got.extend
    return got


@pytest.fixture
def rooms_busy(monkeypatch):
    """Every writer finds every room held by another (what contention does), on either database."""
    real = board_events._lock_rooms
    state = {"busy": True}
    monkeypatch.setattr(board_events, "_lock_rooms", lambda session, rooms: {} if state["busy"] else real(session, rooms))

    def release() -> None:
        state["busy"] = False

    return release


def publish(wiring, clock, n: int, rooms=(OVERVIEW,)) -> None:
    with wiring.sessions() as session:
        board_events.publish(session, rooms=set(rooms), event_name="notice", payload={"n": n}, at=clock.now())
        session.commit()


def events(wiring, room: str) -> list[BoardEvent]:
    with wiring.sessions() as session:
        return list(session.scalars(select(BoardEvent).where(BoardEvent.room == room).order_by(BoardEvent.id)))


def test_events_of_a_busy_room_wait_and_the_rooms_next_writer_numbers_them_first(app, wiring, clock, pushed,
                                                                                  rooms_busy):
    publish(wiring, clock, 1)
    publish(wiring, clock, 2, rooms=(OVERVIEW, "dept:food_coord"))
    assert pushed == []  # nothing numbered: nothing pushed yet
    assert [e.seq for e in events(wiring, OVERVIEW)] == [None, None]
    with wiring.sessions() as session:
        assert board_events.missed(session, OVERVIEW, 0) == []  # a reconnecting board sees only numbered ones
        assert board_events.waiting(session) == 3
    rooms_busy()
    publish(wiring, clock, 3)
    assert [(m["room"], m["seq"], m["data"]["n"]) for m in pushed] == [(OVERVIEW, 1, 1), (OVERVIEW, 2, 2),
                                                                       (OVERVIEW, 3, 3)]
    with wiring.sessions() as session:
        assert [m["data"]["n"] for m in board_events.missed(session, OVERVIEW, 0)] == [1, 2, 3]
        assert board_events.last_seqs(session, [OVERVIEW, "dept:food_coord"]) == {OVERVIEW: 3, "dept:food_coord": 0}
    # The department's room had no writer since: the scheduler's job numbers and pushes it.
    pushed.clear()
    assert number_waiting(wiring) == 1
    assert [(m["room"], m["seq"], m["data"]["n"]) for m in pushed] == [("dept:food_coord", 1, 2)]
    with wiring.sessions() as session:
        assert board_events.waiting(session) == 0
    assert number_waiting(wiring) == 0


def test_the_numbering_job_is_scheduled_every_half_second_where_writers_can_meet(app, db_url):
    job = build(app, blocking=False).get_job("yingji-board-numbers")
    if db_url.startswith("sqlite"):
        assert job is None  # one writer at a time: nothing ever waits
    else:
        assert job is not None and job.trigger.interval <= timedelta(seconds=0.5)


def test_a_writer_does_not_wait_for_a_room_another_holds(app, wiring, db_url, clock, pushed):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    publish(wiring, clock, 1)  # the room exists
    with wiring.engine.connect() as holder:
        holder.execute(text("SELECT * FROM board_rooms WHERE room = :r FOR UPDATE"), {"r": OVERVIEW})
        done = threading.Event()

        def write():
            with wiring.sessions() as session:
                session.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail, not hang
                board_events.publish(session, rooms={OVERVIEW}, event_name="notice", payload={"n": 2}, at=clock.now())
                session.commit()
            done.set()

        t = threading.Thread(target=write)
        t.start()
        t.join(timeout=30)
        assert done.is_set()
        holder.rollback()
    assert [e.seq for e in events(wiring, OVERVIEW)] == [1, None]
    assert number_waiting(wiring) == 1
    assert [e.seq for e in events(wiring, OVERVIEW)] == [1, 2]
    assert [m["seq"] for m in pushed] == [1, 2]


def test_many_writers_and_two_numberers_keep_every_room_gapless_on_postgresql(app, wiring, db_url, clock, pushed):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: nobody ever finds a room busy")
    errors: list[Exception] = []
    stop = threading.Event()

    def writer(k: int) -> None:
        try:
            for i in range(15):
                publish(wiring, clock, k * 100 + i, rooms=(OVERVIEW, f"dept:d{k % 3}"))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def numberer() -> None:
        try:
            while not stop.is_set():
                number_waiting(wiring, batch=5)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    numberers = [threading.Thread(target=numberer) for _ in range(2)]
    for t in numberers + writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    stop.set()
    for t in numberers:
        t.join(timeout=60)
    assert not errors, errors
    number_waiting(wiring)
    with wiring.sessions() as session:
        assert board_events.waiting(session) == 0
        for room in [OVERVIEW, "dept:d0", "dept:d1", "dept:d2"]:
            seqs = list(session.scalars(select(BoardEvent.seq).where(BoardEvent.room == room).order_by(BoardEvent.seq)))
            assert seqs == list(range(1, len(seqs) + 1)), room
            assert session.get(BoardRoom, room).last_seq == len(seqs)
        assert session.scalar(select(func.count()).select_from(BoardEvent).where(BoardEvent.room == OVERVIEW)) == 120
    # Every event was pushed once per room, numbered.
    assert len({(m["room"], m["key"]) for m in pushed}) == len(pushed) == 240
