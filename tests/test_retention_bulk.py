"""Retention of the bulk that grows with the years (issue 17): the board's push log and superseded briefing files.

The record stays: a purged board event was only how a board caught up (the board that asks for it is told
to reload), and a superseded briefing keeps its row, its SHA-256 and the audit trail of who was given it;
only its bytes go. Scheduled briefings, closing reports and the newest version of each briefing stay whole.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from app.jobs import retention
from incidents.models import BoardEvent, BoardRoom, Briefing
from tests.test_api_errors import assert_error
from tests.test_reports_api import ok, scenario
from tests.test_push import register  # noqa: F401 - the push tests' helpers
from tests.test_push import board, server  # noqa: F401 - fixtures

DAY = timedelta(days=1)


def _age(wiring, model, ids, by: timedelta, column: str) -> None:
    """Move rows' times back, as if they were written `by` earlier."""
    with wiring.sessions() as s:
        for row in s.scalars(select(model).where(model.id.in_(ids) if ids is not None else True)):
            setattr(row, column, getattr(row, column) - by)
        s.commit()


def test_old_board_events_go_and_a_board_that_missed_them_is_told_to_reload(board, users, wiring, app):
    food = board(users["food"])
    food.connect()
    for title in ("第一起", "第二起", "第三起"):
        register(users["office"], title=title)
    assert [food.next()["seq"] for _ in range(3)] == [1, 2, 3]
    food.disconnect()
    with wiring.sessions() as s:
        rows = list(s.scalars(select(BoardEvent).where(BoardEvent.room == "dept:food_coord").order_by(BoardEvent.seq)))
    _age(wiring, BoardEvent, [r.id for r in rows[:2]], 8 * DAY, "created_at")
    register(users["office"], title="第四起")

    counts = retention.purge(wiring, app.config)

    assert counts["board_events"] >= 2  # the food room's first two, and the other rooms' copies of them
    with wiring.sessions() as s:
        kept = list(s.scalars(select(BoardEvent.seq).where(BoardEvent.room == "dept:food_coord")
                              .order_by(BoardEvent.seq)))
        last = s.scalar(select(BoardRoom.last_seq).where(BoardRoom.room == "dept:food_coord"))
    assert kept == [3, 4] and last == 4  # the numbering goes on; only the old copies went
    food.reconnect()
    # Caught up from 3: nothing was purged after it, so it simply gets 4.
    assert [m["seq"] for m in food.resume({"dept:food_coord": 3})] == [4]
    # Asleep since 1: events 2 is gone, so the board is told to draw itself afresh (and still gets what is kept).
    answer = food.resume({"dept:food_coord": 1})
    assert answer["reload"] is True and [m["seq"] for m in answer["messages"]] == [3, 4]
    # Every event of the room purged: a board that saw none of them reloads too.
    _age(wiring, BoardEvent, None, 30 * DAY, "created_at")
    retention.purge(wiring, app.config)
    assert food.resume({"dept:food_coord": 2}) == {"reload": True, "messages": []}
    assert food.resume({"dept:food_coord": 4}) == []  # a board that had seen everything has nothing to fetch


def test_superseded_briefing_files_go_after_180_days_and_the_record_and_the_newest_stay(users, clock, wiring, app):
    iid = scenario(users, clock)
    versions = []
    for n in range(3):
        r = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
        versions.append((int(r.headers["X-Briefing-Id"]), hashlib.sha256(r.data).hexdigest()))
        ok(users["office"].post(f"/api/v1/incidents/{iid}/reports", json={"kind": "progress", "body": f"第{n}次续报"}),
           201)
    sheet = ok(users["leader"].get("/api/v1/accountability.pdf"))
    ids = [v[0] for v in versions] + [int(sheet.headers["X-Briefing-Id"])]
    # A version superseded less than 180 days ago is kept whole.
    _age(wiring, Briefing, ids, 179 * DAY, "finished_at")
    assert retention.purge(wiring, app.config)["briefing_pdfs"] == 0
    _age(wiring, Briefing, ids, 2 * DAY, "finished_at")

    assert retention.purge(wiring, app.config)["briefing_pdfs"] == 2

    with wiring.sessions() as s:
        status = dict(s.execute(select(Briefing.id, Briefing.status).where(Briefing.id.in_(ids))).all())
    (old1, sha1), (old2, _sha2), (newest, _) = versions
    assert status == {old1: "pruned", old2: "pruned", newest: "ready", ids[3]: "ready"}  # the only sheet stays
    # The file is gone, with a 410 in Chinese that says why; its record and hash still answer who read what.
    assert_error(users["leader"].get(f"/api/v1/briefings/{old1}.pdf"), 410, "briefing_pruned")
    assert "已按保存规则清除" in users["leader"].get(f"/api/v1/briefings/{old1}.pdf").get_json()["error"]["message"]
    found = ok(users["leader"].get(f"/api/v1/briefings?sha256={sha1}")).get_json()["briefings"]
    assert [(b["id"], b["status"], b["sha256"]) for b in found] == [(old1, "pruned", sha1)]
    meta = ok(users["leader"].get(f"/api/v1/briefings/{old1}")).get_json()["briefing"]
    assert meta["status_name"] == "文件已按保存规则清除（保留指纹）" and meta["size"] > 0
    assert ok(users["leader"].get(f"/api/v1/briefings/{newest}.pdf")).headers["X-Briefing-SHA256"] == versions[2][1]
    # Asking for the briefing again makes a new version as usual.
    again = ok(users["leader"].get(f"/api/v1/incidents/{iid}/briefing.pdf"))
    assert int(again.headers["X-Briefing-Id"]) not in (old1, old2)
    assert retention.purge(wiring, app.config)["briefing_pdfs"] == 0  # `newest` is superseded, but only just now
