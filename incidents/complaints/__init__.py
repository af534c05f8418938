"""12315 complaints and tip-offs (SPEC §8): intake, triage, tracking, working-day limits, retention.

The public files a complaint (投诉) or a tip-off (举报) and gets a tracking number; with it and
the phone number they typed, they see its status and nothing else. The complaint centre triages
(分流) each one to the department its category suggests, or re-routes it; the department decides
on acceptance, mediates and answers (反馈). The statutory limits are plan data counted in Chinese
working days from the injected calendar (incidents/kernel/calendar.py): a limit that reaches into a
year without an official notice is counted on the statutory holidays and says it is an estimate.

Intake is kept lean so that a surge of the public does not queue on shared rows: a submission
inserts its complaint and its limits and nothing else. The audit trail gets one digest entry per
batch of received complaints (`jobs.chain_received`), and the boards hear about new complaints
from the same job, not from each submission. The package re-exports each module's public names;
`surge` (complaint surges, consumer warnings) and `calendar_notices` (the office's holiday notices
and the recount of open limits) are imported as modules.
"""
from __future__ import annotations

from incidents.complaints.access import (  # noqa: F401
    ALL_SEEING,
    can_handle,
    can_see_contact,
    can_triage,
    can_view,
    forbid,
    get_complaint,
    is_centre,
    public_lookup,
    visible_filter,
)
from incidents.complaints.checks import (  # noqa: F401
    CREDIT_CHARS,
    business_key,
    credit_code_check_char,
    credit_code_problem,
    normalise_phone,
)
from incidents.complaints.errors import (  # noqa: F401
    InvalidComplaint,
    RateLimited,
)
from incidents.complaints.handling import (  # noqa: F401
    change_status,
    reveal_contact,
    triage,
)
from incidents.complaints.intake import (  # noqa: F401
    CleanComplaint,
    Receipt,
    content_hash,
    infer_area,
    start_limits,
    submit,
    validate,
)
from incidents.complaints.jobs import (  # noqa: F401
    chain_received,
    erase_expired,
    notify_limits,
)
from incidents.complaints.limits import (  # noqa: F401
    LimitTiming,
    limit_state,
    limit_timing,
)
from incidents.complaints.lists import (  # noqa: F401
    limits_due,
    open_for,
    search,
)
from incidents.complaints.ratelimit import (  # noqa: F401
    purge_rate_buckets,
    rate_hit,
    rate_hits,
)
from incidents.complaints.states import (  # noqa: F401
    ACCEPTED,
    CLOSED,
    COMPLAINT,
    ERASED_TEXT,
    FIELD_NAMES,
    FILED,
    FINAL,
    INTAKE,
    LIMITS,
    MAX_AMOUNT,
    MEDIATING,
    MIN_DESCRIPTION,
    NEED_DEPARTMENT,
    NOT_FILED,
    OPEN_STATUSES,
    RECEIVED,
    REFUSED,
    SOURCES,
    TIPOFF,
    TRANSITIONS,
)
from incidents.complaints.summary import (  # noqa: F401
    last_week,
    weekly_summary,
)
from incidents.complaints.tracking import (  # noqa: F401
    PREFIX,
    new_tracking_no,
    normalise_tracking_no,
)
from incidents.complaints.views import (  # noqa: F401
    announce,
    area_name,
    category_name,
    change_dict,
    limit_view,
    public_view,
    snapshot,
    staff_view,
)
from incidents.kernel.masking import (  # noqa: F401
    id_number_valid,
    mask_id_number,
    mask_name,
    mask_phone,
    redact,
)

__all__ = [
    "ACCEPTED",
    
    "ALL_SEEING",
    "CLOSED",
    "COMPLAINT",
    "CREDIT_CHARS",
    "CleanComplaint",
    "ERASED_TEXT",
    "FIELD_NAMES",
    "FILED",
    "FINAL",
    "INTAKE",
    "InvalidComplaint",
    
    "LIMITS",
    
    "LimitTiming",
    "MAX_AMOUNT",
    "MEDIATING",
    "MIN_DESCRIPTION",
    "NEED_DEPARTMENT",
    "NOT_FILED",
    "OPEN_STATUSES",
    "PREFIX",
    "RECEIVED",
    "REFUSED",
    "RateLimited",
    "Receipt",
    "SOURCES",
    
    "TIPOFF",
    "TRANSITIONS",
    "announce",
    "area_name",
    "business_key",
    "can_handle",
    "can_see_contact",
    "can_triage",
    "can_view",
    "category_name",
    "chain_received",
    "change_dict",
    "change_status",
    "content_hash",
    "credit_code_check_char",
    "credit_code_problem",
    "erase_expired",
    "forbid",
    "get_complaint",
    "id_number_valid",
    "infer_area",
    "is_centre",
    "last_week",
    "limit_state",
    "limit_timing",
    "limit_view",
    "limits_due",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "new_tracking_no",
    "normalise_phone",
    "normalise_tracking_no",
    "notify_limits",
    "open_for",
    "public_lookup",
    "public_view",
    "purge_rate_buckets",
    "rate_hit",
    "rate_hits",
    "redact",
    "reveal_contact",
    "search",
    "snapshot",
    "staff_view",
    "start_limits",
    "submit",
    "triage",
    "validate",
    "visible_filter",
    "weekly_summary",
]
