"""Escalation (SPEC §7): what nobody acknowledges walks its frozen chain until someone does.

The package's parts, lowest first: labels, the frozen chain, notices (board events, delivery rows,
message texts), the lifecycle (start, stop, settle), the walk (the scheduler's cycle), deliveries
(throttled and bundled sending), provider statuses, acknowledgements, and views. Callers use the
names re-exported here.
"""
from incidents.escalation.acknowledgements import (
    AckOutcome,
    acknowledge,
    acknowledge_by_keypress,
    acknowledge_by_reply,
)
from incidents.escalation.deliveries import SEND_LEASE, Outgoing, Result, claim_outgoing, record_results
from incidents.escalation.frozen import chain_for, step_at, step_count, step_of
from incidents.escalation.channels import (
    ALERT,
    BOARD,
    HANDLED,
    SMS,
    TEST,
    VOICE,
)
from incidents.escalation.lifecycle import (
    LIVE_INCIDENT,
    OPEN,
    rechain_incident,
    reroute_complaint_limit,
    settle_assignment,
    settle_clock,
    settle_complaint_limit,
    settle_incident,
    start_for_assignment,
    ClockFiring,
    start_for_clock,
    start_for_clocks,
    start_for_complaint_limit,
    stop,
)
from incidents.escalation.notices import ESCALATOR, summary
from incidents.escalation.provider_status import apply_status
from incidents.escalation.reply_codes import codes_in, first_receipt
from incidents.escalation.views import delivery_dict, history, record_test, running_count
from incidents.escalation.walk import advance

__all__ = [
    "ALERT", "BOARD",
    "ESCALATOR", "HANDLED", "LIVE_INCIDENT", "OPEN", "SEND_LEASE", "SMS", "TEST",
    "VOICE", "AckOutcome", "Outgoing", "Result", "acknowledge", "acknowledge_by_keypress", "acknowledge_by_reply",
    "advance", "apply_status", "chain_for", "claim_outgoing", "codes_in", "delivery_dict", "first_receipt", "history", "record_results",
    "record_test", "rechain_incident", "reroute_complaint_limit", "running_count", "settle_assignment", "settle_clock",
    "settle_complaint_limit", "settle_incident", "start_for_assignment", "start_for_clock", "start_for_clocks", "ClockFiring",
    "start_for_complaint_limit", "step_at", "step_count", "step_of", "stop", "summary",
]
