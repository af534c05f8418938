"""Twilio's webhooks: /hooks/twilio/sms (replies), /voice (keypress), /status (delivery statuses).

Every request must carry a valid X-Twilio-Signature for the URL Twilio called (PUBLIC_BASE_URL
behind a proxy) or it gets 403 and changes nothing. Replies and keypresses answer TwiML.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from app.extensions import db, now
from app.input_guards import bounded_int
from incidents import escalation
from incidents.kernel.errors import Forbidden
from incidents.kernel.masking import mask_phone
from notifiers.registry import settings_from

bp = Blueprint("hooks", __name__, url_prefix="/hooks/twilio")
log = logging.getLogger("yingji.hooks")


def _called_url() -> str:
    """Return the URL as Twilio called it: the public base when one is set (a proxy rewrites ours)."""
    base = (settings_from(current_app.config).get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


@bp.before_request
def _check_signature() -> None:
    # Every hook, before its route reads anything: one check, so a new hook cannot forget it.
    token = settings_from(current_app.config).get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature or not RequestValidator(token).validate(
            _called_url(), request.form.to_dict(), signature):
        log.warning("refused an unsigned or wrongly signed webhook to %s", request.path)
        raise Forbidden("bad_signature", "签名无效，请求已拒绝", "missing or invalid X-Twilio-Signature")


def _twiml(response) -> Response:
    return Response(str(response), mimetype="text/xml")


def _first_time(sid_field: str, kind: str) -> bool:
    """Return True the first time Twilio's message or call id is seen; a repeat is audited and changes nothing."""
    sid = request.form.get(sid_field, "").strip()
    if not sid:  # Twilio always sends it: without one there is nothing to tell a replay by
        log.warning("refused a %s webhook without %s", kind, sid_field)
        return False
    if escalation.first_receipt(db(), sid, kind=kind, now=now(), phone=request.form.get("From")):
        return True
    db().commit()  # the audit entry of the refused repeat
    log.warning("refused a repeated %s webhook %s", kind, sid)
    return False


@bp.post("/sms")
def inbound_sms():
    """An SMS reply: it acknowledges the items whose reply codes (签收码) it names, sent to that phone."""
    phone, body = request.form.get("From", ""), request.form.get("Body", "")
    if not _first_time("MessageSid", "sms"):
        return _twiml(MessagingResponse())  # 200 and nothing sent back: a replay learns nothing
    outcome = escalation.acknowledge_by_reply(db(), phone, body, now=now())
    db().commit()
    log.info("SMS reply from %s acknowledged %s", mask_phone(phone) if phone else "-",
             ",".join(outcome.acknowledged) or "nothing")
    reply = MessagingResponse()
    reply.message(outcome.answer)
    return _twiml(reply)


@bp.post("/voice")
def keypress():
    """The keypress gathered on an alert call: 1 acknowledges everything the call was about."""
    ref = request.args.get("ref", type=bounded_int)
    if not _first_time("CallSid", "voice"):
        return _twiml(VoiceResponse())
    outcome = escalation.acknowledge_by_keypress(db(), ref or 0, request.form.get("Digits", ""), now=now(),
                                                 call_sid=request.form.get("CallSid"))
    db().commit()
    answer = VoiceResponse()
    answer.say(outcome.answer, language="zh-CN")
    return _twiml(answer)


@bp.post("/status")
def status():
    """A delivery-status callback for a message (MessageStatus) or a call (CallStatus)."""
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid") or form.get("CallSid") or ""
    state = form.get("MessageStatus") or form.get("SmsStatus") or form.get("CallStatus") or ""
    changed = escalation.apply_status(db(), sid, state, now=now(), error_code=form.get("ErrorCode"),
                                      error_message=form.get("ErrorMessage"), ref=request.args.get("ref", type=bounded_int))
    db().commit()
    return Response(status=204 if changed else 200)
