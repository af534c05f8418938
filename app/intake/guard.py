"""Protection of the public intake: keyed counters, and the submission itself."""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Callable, Mapping

from flask import current_app, request
from sqlalchemy.exc import IntegrityError

from app.extensions import db, now, yingji
from app.calendar import calendar_for
from incidents import complaints
from incidents.complaints import InvalidComplaint, RateLimited
from incidents.complaints.verification import Verified

log = logging.getLogger("yingji.intake")

# The whole request body of a complaint: the longest text allowed is a few KB of UTF-8.
MAX_BODY = 64 * 1024


def counter_key(scope: str, value: str) -> str:
    """Return a rate counter's key: the scope and an HMAC of the address or phone, never the value itself."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    digest = hmac.new(secret, f"{scope}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()[:40]
    return f"{scope}:{digest}"


def too_big() -> bool:
    """Tell whether the request body is larger than a complaint can be."""
    return (request.content_length or 0) > MAX_BODY


def too_long(values: Mapping[str, str]) -> dict[str, str]:
    """Return the fields of an oversized submission that are longer than the form takes, each said in Chinese."""
    try:
        complaints.validate(yingji().plan, values, now=now())
    except InvalidComplaint as exc:
        found = {k: v for k, v in exc.errors.items() if "过长" in v or "最多" in v}
        if found:
            return found
    return {"description": "内容过长，请精简"}


def submit(data: Mapping[str, Any], *, source: str,
           verify: Callable[[str], Verified | None] | None = None) -> complaints.Receipt:
    """Check, rate-limit, verify and store a submission; raise InvalidComplaint or RateLimited (429).

    `verify` takes the checked phone and answers how it was verified (SMS code, captcha) or None; it
    raises InvalidComplaint when a code or captcha given is wrong, and then nothing is stored.
    """
    wiring = yingji()
    plan, moment, session = wiring.plan, now(), db()
    rules = plan.complaints
    # The peer, or the client our own proxies name (ProxyFix in create_app); never a header alone.
    address = request.remote_addr or "unknown"
    ip_key = counter_key("submit-ip", address)
    try:
        clean = complaints.validate(plan, data, now=moment)
    except InvalidComplaint:
        # Refused submissions count apart (generously): a script cannot probe for free, and a family
        # behind one address does not use up its submissions on its own typos.
        wait = complaints.rate_hit(session, counter_key("submit-refused-ip", address), rules.refused_per_ip,
                                   now=moment)
        session.commit()
        if wait:
            raise RateLimited(wait, "您所在网络") from None
        raise
    wait_ip, wait_phone = complaints.rate_hits(
        session, [(ip_key, rules.submit_per_ip), (counter_key("submit-phone", clean.phone), rules.submit_per_phone)],
        now=moment)
    if wait_ip or wait_phone:
        session.commit()  # the counts stay: repeating the request does not reset them
        raise RateLimited(wait_ip or wait_phone, "您所在网络" if wait_ip else "该手机号码")
    verified = None
    if verify is not None:
        try:
            verified = verify(clean.phone)
        except InvalidComplaint:
            session.commit()  # a wrong try counts, and an answered captcha stays used
            raise
    for attempt in (1, 2):
        complaint = complaints.submit(session, plan, calendar_for(session, plan), clean, now=moment, source=source,
                                      verified=verified)
        try:
            session.commit()
            return complaint
        except IntegrityError:
            # Only a tracking number drawn twice can clash (1 in 10⁹ a day): draw again, once.
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def check_status_rate() -> None:
    """Count a status lookup against the client's address; raise RateLimited over the plan's limit."""
    wiring = yingji()
    session = db()
    wait = complaints.rate_hit(session, counter_key("status-ip", request.remote_addr or "unknown"),
                               wiring.plan.complaints.status_per_ip, now=now())
    session.commit()
    if wait:
        raise RateLimited(wait, "查询")


class PhoneMaskFilter(logging.Filter):
    """Mask mobile and ID numbers in log lines (a status lookup's query string carries the phone)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message and arguments; never drop it."""
        if record.args:
            record.args = tuple(complaints.redact(a) if isinstance(a, str) else a for a in record.args) \
                if isinstance(record.args, tuple) else record.args
        if isinstance(record.msg, str):
            record.msg = complaints.redact(record.msg)
        return True


def mask_logs() -> None:
    """Install the masking filter on the loggers that print request lines and ours."""
    for name in ("werkzeug", "gunicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, PhoneMaskFilter) for f in logger.filters):
            logger.addFilter(PhoneMaskFilter())
    # A logger's filter sees only its own records, not its children's: mask every record of ours
    # (yingji.*) where it is made, whichever module logged it.
    made = logging.getLogRecordFactory()
    if not getattr(made, "masks_yingji", False):
        def masked(*args, **kwargs) -> logging.LogRecord:
            record = made(*args, **kwargs)
            if record.name == "yingji" or record.name.startswith("yingji."):
                _MASK.filter(record)
            return record

        masked.masks_yingji = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(masked)


_MASK = PhoneMaskFilter()
