"""Walk the escalation chains: fire due steps, send what is due through the senders, keep the answers.

The rows and the rules live in incidents.escalation; this module only moves messages between
the rows and the providers, several at once so that a thousand escalations coming due in the
same minute go out within seconds.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Callable

from sqlalchemy.orm import sessionmaker

from incidents import escalation
from incidents.escalation import Outgoing, Result
from incidents.plan import DeliveryRules
from notifiers.base import SMS, VOICE, Message, SendResult, Sender

log = logging.getLogger("yingji.escalation")

SenderFactory = Callable[[str], Sender]  # kind (sms | voice) -> a new sender


class _Done:
    """An answer already there, shaped like a future's."""

    def __init__(self, value: Result) -> None:
        self.value = value

    def result(self) -> Result:
        return self.value


class Walker:
    """One cycle at a time: advance due steps, send due deliveries, record what the providers said."""

    def __init__(self, sessions: sessionmaker, senders: SenderFactory, *, rules: Callable[[], DeliveryRules],
                 clock: Callable[[], datetime], workers: int = 8, batch: int = 500) -> None:
        self.sessions = sessions
        self.make_sender = senders
        self.rules = rules
        self.clock = clock
        self.batch = batch
        self.workers = workers
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="yingji-send") if workers > 1 else None

    def cycle(self) -> int:
        """Run one cycle; return how many messages went to the providers."""
        escalation.advance(self.sessions, now=self.clock, batch=self.batch)
        rules = self.rules()
        # Claim batch after batch while the earlier ones are being sent; keep the answers after.
        handed: list[tuple[list[Outgoing], list]] = []
        while True:
            outgoing = escalation.claim_outgoing(self.sessions, now=self.clock(), rules=rules, batch=self.batch)
            if outgoing:
                if self._pool is not None and len(outgoing) > 1:
                    handed.append((outgoing, [self._pool.submit(self._send, o) for o in outgoing]))
                else:
                    handed.append((outgoing, [_Done(self._send(o)) for o in outgoing]))
            if len(outgoing) < self.batch:
                break
        for outgoing, answers in handed:
            escalation.record_results(self.sessions, zip(outgoing, [a.result() for a in answers]),
                                      now=self.clock(), rules=rules)
        return sum(len(o) for o, _ in handed)

    def _sender(self, kind: str) -> Sender:
        # One sender per thread and kind: the provider clients keep an HTTP session each.
        cache = self._local.__dict__.setdefault("senders", {})
        if kind not in cache:
            cache[kind] = self.make_sender(kind)
        return cache[kind]

    def _send(self, out: Outgoing) -> Result:
        kind = SMS if out.channel == "sms" else VOICE
        try:
            answer: SendResult = self._sender(kind).send(
                Message(to=out.phone, text=out.text, kind=kind, reference=str(out.delivery_id)))
        except Exception as exc:  # noqa: BLE001 - a broken sender is a transient failure, retried
            log.exception("sending delivery %s failed", out.delivery_id)
            return Result(ok=False, error_code="error", error_message=f"{type(exc).__name__}: {exc}")
        return Result(ok=answer.ok, status=answer.status if answer.ok else None, provider=answer.provider,
                      provider_id=answer.provider_id, error_code=answer.error_code,
                      error_message=answer.error_message, permanent=answer.permanent)

    def close(self) -> None:
        """Stop the sending threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
