"""Every state machine's states, one `StrEnum` each: the values are what the rows store.

A member is a `str`, so rows, JSON and templates see the plain value; code that names a state
names a member, so a typo is an AttributeError at import, not a silent mismatch. The Chinese
name of each state is in `incidents.kernel.labels`.
"""
from __future__ import annotations

from enum import StrEnum


class IncidentStatus(StrEnum):
    """An incident from registration to archive; a holiday watch watches, then archives itself."""

    REGISTERED = "registered"  # 已登记
    ACTIVE = "active"  # 应急响应中
    ENDED = "ended"  # 应急状态结束, closing report pending
    ARCHIVED = "archived"  # 已归档 (a holiday watch: closed after the holiday)
    WATCHING = "watching"  # a holiday watch (节日市场预警) before and during its holiday: tasks, no response
    WITHDRAWN = "withdrawn"  # 已作废: a test registration; kept, off every board and count
    CLOSED = "closed"  # 已关闭: never activated (不启动, 不属实, 重复); off the boards, on the sheet as what it is


class IncidentKind(StrEnum):
    """An emergency event, or the plan's holiday market watch."""

    EVENT = "event"
    HOLIDAY_WATCH = "holiday_watch"


class WithdrawKind(StrEnum):
    """Why a registration was withdrawn (test) or closed without a response (the other three)."""

    DUPLICATE = "duplicate"  # 重复登记: merged into its original
    TEST = "test"  # 测试登记: out of every count
    FALSE_REPORT = "false_report"  # 不属实: the office found the report false
    NOT_ACTIVATED = "not_activated"  # 不启动: the leadership decided not to activate a response


class ClaimDecision(StrEnum):
    """A backdated claim (补录) as the office head or the leadership judged it."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class DeclineStatus(StrEnum):
    """A decline (否定报备) of a task that carries a measure waits for the command's approval."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    NOT_REQUIRED = "not_required"  # a task without a measure: the decline stands as filed


class ClockStatus(StrEnum):
    """A reporting clock (deadline row): running, then met, late, overdue or cancelled."""

    PENDING = "pending"
    MET = "met"
    LATE = "late"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


class ReportKind(StrEnum):
    """What a filed report is: the plan's four reports, or a measure done."""

    INITIAL = "initial"
    BUREAU = "bureau"
    PROGRESS = "progress"
    CLOSING = "closing"  # the written report to the government and the city bureau after the end
    MEASURE = "measure"
    SUMMARY = "summary"  # the command's handling summary to the leadership, before the end (no clock)


class AssignmentStatus(StrEnum):
    """A department's task: pushed to its board, acknowledged, under way, done or declined."""

    PUSHED = "pushed"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DECLINED = "declined"
    DECLINE_REQUESTED = "decline_requested"  # 否定报备待批: the measure stays with the department until approved
    CANCELLED = "cancelled"  # 已撤销: the clock it served no longer applies (a downgrade, a closing)


class ClosingStatus(StrEnum):
    """The closing report's review: submitted, returned for changes, approved (which archives)."""

    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class BriefingStatus(StrEnum):
    """A PDF being rendered off the request thread."""

    PENDING = "pending"
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"
    # A version superseded long ago whose bytes the retention purge dropped: its record and SHA-256 stay.
    PRUNED = "pruned"


class EscalationStatus(StrEnum):
    """A chain walking until someone acknowledges, the item is settled, or its steps run out."""

    RUNNING = "running"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    STOPPED = "stopped"
    EXHAUSTED = "exhausted"


class DeliveryStatus(StrEnum):
    """One message to one person: ours until `sending`, then the provider's word."""

    PENDING = "pending"  # waits to be sent
    HELD = "held"  # waits for a throttle window
    SENDING = "sending"  # in the provider's hands right now
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    BUNDLED = "bundled"  # went out inside another delivery's message
    SKIPPED = "skipped"  # nobody (or no phone) to go to
    CANCELLED = "cancelled"  # the item was settled first
    UNKNOWN = "unknown"  # being sent when the process died; never sent again


class ComplaintKind(StrEnum):
    """A consumer complaint (投诉) or a tip-off (举报)."""

    COMPLAINT = "complaint"
    TIPOFF = "tipoff"


class ComplaintStatus(StrEnum):
    """A 12315 submission from receipt to its final answer."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    MEDIATING = "mediating"
    CLOSED = "closed"
    FILED = "filed"
    NOT_FILED = "not_filed"


class SurgeStatus(StrEnum):
    """A surge of complaints about one business, category or area."""

    OPEN = "open"
    ENDED = "ended"


class WarningStatus(StrEnum):
    """A consumer warning: drafted, submitted to the leadership, published or withdrawn."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"
