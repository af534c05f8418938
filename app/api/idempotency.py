"""The `Idempotency-Key` header on every POST of the API: a retry gets the first answer, done once.

The first answer (status and body) is kept 24 hours per caller and key: per user for a token or a
login session, per client address for the public 12315 API. The same key with another request is
refused (422); a purge job (app/jobs/housekeeping) deletes old keys.
"""
from __future__ import annotations

from flask import Response, g, request

from app.api import bp
from app.auth import check_csrf, current_user
from app.extensions import db, now
from app.intake.guard import counter_key
from incidents.records import idempotency

HEADER = "Idempotency-Key"
# Answers a retry should not get again: not signed in, slowed down, or a server error.
NOT_KEPT = {401, 429}


def _scope() -> str:
    user = current_user()
    if user is None:
        return counter_key("idem", request.remote_addr or "unknown")
    if g.get("auth_via") == "session":
        check_csrf()  # a session's POST proves its page first, before any answer is kept or replayed
    return f"user:{user.id}"


@bp.before_request
def _replay_or_reserve():
    """Replay the first answer to a key already answered; reserve a new key before the route runs."""
    raw = request.headers.get(HEADER)
    if request.method != "POST" or raw is None:
        return None
    key = idempotency.check_key(raw.strip())
    scope = _scope()
    found = idempotency.begin(db(), scope=scope, key=key, now=now(),
                              fingerprint_=idempotency.fingerprint("POST", request.full_path, request.get_data()))
    if isinstance(found, idempotency.Answer):
        replay = Response(found.body, status=found.status, content_type=found.content_type)
        replay.headers["Idempotent-Replayed"] = "true"
        return replay
    g.idempotency_row = found
    return None


@bp.after_request
def _keep_the_answer(response):
    """Keep the first answer to a reserved key, or free the key when the answer is not worth keeping."""
    row_id = g.pop("idempotency_row", None)
    if row_id is None:
        return response
    session = db()
    session.rollback()  # the route committed what it did; nothing else of it is written here
    if response.status_code in NOT_KEPT or response.status_code >= 500 or response.direct_passthrough \
            or response.is_streamed:
        idempotency.release(session, row_id)
    else:
        idempotency.finish(session, row_id, status=response.status_code, content_type=response.content_type,
                           body=response.get_data(as_text=True))
    session.commit()
    return response


@bp.teardown_request
def _free_an_unanswered_key(_exc=None):
    """Free a key whose request ended in an exception before an answer (the client may retry)."""
    row_id = g.pop("idempotency_row", None)
    if row_id is not None:
        session = db()
        session.rollback()
        idempotency.release(session, row_id)
        session.commit()
