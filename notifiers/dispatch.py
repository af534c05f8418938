"""Turn fired clocks into notices and hand them to every configured sender."""
from __future__ import annotations

import logging
from typing import Iterable, Sequence

from incidents.response.firing import Fired
from notifiers.base import Notice, NoticeSender

log = logging.getLogger("yingji.notify")


def notice_for(fired: Fired) -> Notice:
    """Return the notice for a clock warning or an overdue clock."""
    p = fired.payload
    return Notice(kind=fired.kind, text=p["text"], incident_id=fired.incident_id, department=p.get("department"),
                  station=p.get("station"), data=p)


class Dispatcher:
    """Deliver each firing to every sender; one sender failing does not stop the others."""

    def __init__(self, senders: Sequence[NoticeSender]) -> None:
        self.senders = list(senders)

    def __call__(self, fired: Iterable[Fired]) -> None:
        for item in fired:
            notice = notice_for(item)
            for sender in self.senders:
                try:
                    sender.send(notice)
                except Exception:  # noqa: BLE001 - a broken channel must not silence the rest
                    log.exception("sender %s failed for firing %s", sender.channel, item.event_id)
