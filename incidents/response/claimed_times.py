"""Which time judges a report: its claim, its entry, or its recipients' deliveries (补录, plan §三(二)).

Whoever files a report says when it was sent (`submitted_at`); Yingji knows when it was typed in
(`entered_at`). A claim earlier than the entry by more than the plan's tolerance is a backdated
claim (补录): until the office head or the leadership confirms it on named evidence, the entry
time judges the clock, and a rejected claim is judged by the entry time for good. A report the
plan sends to named recipients counts only when every required recipient has it, at the latest
of their (equally judged) delivery times.
"""
from __future__ import annotations

from datetime import datetime

from incidents.kernel.states import ClaimDecision
from incidents.models import Report, ReportRecipient
from incidents.plan import Plan
from incidents.plan.model import INTERNAL


def is_backdated(claimed: datetime, entered: datetime, plan: Plan) -> bool:
    """Tell whether a claimed time lies further before its entry than the plan tolerates."""
    return entered - claimed > plan.reports.backdate_tolerance


def _judged(claimed: datetime, entered: datetime, backdated: bool, review) -> tuple[datetime, str]:
    if not backdated or (review is not None and review.decision == ClaimDecision.CONFIRMED):
        return claimed, "claim"
    return entered, "entry"


def report_time(report: Report) -> tuple[datetime, str]:
    """Return the time that judges a report and whether it is the claim or the entry."""
    return _judged(report.submitted_at, report.entered_at, report.backdated, report.review)


def delivery_review(row: ReportRecipient):
    """Return the judgement of a delivery's claimed time: this bureau's own copy (internal), which it had when the
    report was sent, is judged with the report's own claim unless it was judged by itself."""
    if row.review is None and row.channel == INTERNAL:
        return row.report.review
    return row.review


def delivery_time(row: ReportRecipient) -> datetime | None:
    """Return the time that judges a recipient's delivery, or None while it is not delivered (or was returned)."""
    if row.delivered_at is None or row.returned_at is not None:
        return None
    return _judged(row.delivered_at, row.recorded_at, row.backdated, delivery_review(row))[0]


def counts_at(report: Report, plan: Plan) -> tuple[datetime, str] | None:
    """Return when a report counts for its clock and by what (claim, entry, delivery), or None while it does not."""
    if not plan.reports.recipients_of(report.kind):
        return report_time(report)
    times = [delivery_time(r) for r in report.recipients if r.required]
    if not times or any(t is None for t in times):
        return None
    return max(times), "delivery"


def pending_claim(backdated: bool, review) -> bool:
    """Tell whether a backdated claim still waits for someone to judge it."""
    return backdated and review is None
