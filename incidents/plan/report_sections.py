"""The `reports` section of the plan file: briefings, 补录, recipients, 越级上报 and official documents."""
from __future__ import annotations

import re
from typing import Any

from incidents.kernel.roles import ROLES
from incidents.plan.checker import Checker
from incidents.plan.model import (
    CLAIM_CONFIRMERS,
    DELIVERY_CHANNELS,
    EMAIL,
    INTERNAL,
    REPORT_KINDS,
    YINGJI,
    DocumentRules,
    Recipient,
    ReportRules,
)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,}$")
# 紧急程度 of GB/T 9704-2012 §7.2.4 (电报 would add 特提 and 平急, which these reports never go as).
URGENCY_MARKS = ("特急", "加急")
# Approving a closing report archives the incident, so only roles that may archive can approve.
CLOSING_APPROVERS = ("leader", "office")
# The kinds that may be signed off (签发): what the bureau sends up, and the station's initial report.
SIGNED_KINDS = REPORT_KINDS


def reports_section(top: dict, c: Checker) -> ReportRules:
    """Check the `reports` section and return its rules (defaults where it is absent)."""
    if "reports" not in top:
        return ReportRules()
    path = ("reports",)
    item = c.mapping(top["reports"], path)
    c.unknown_keys(item, ("classification", "daily_at", "closing_approved_by", "backdate_tolerance",
                          "claims_confirmed_by", "recipients", "skip_level", "documents"), path)
    default = ReportRules()
    classification = c.text(item, "classification", path, required=False) or default.classification
    daily_at = str(item.get("daily_at", default.daily_at))
    if not _HHMM.match(daily_at):
        c.fail(path + ("daily_at",), f"`{daily_at}` is not a time of day such as \"08:00\" (in quotes)")
        daily_at = default.daily_at
    approvers = tuple(c.choice(r, CLOSING_APPROVERS, path + ("closing_approved_by", i))
                      for i, r in enumerate(c.sequence(item.get("closing_approved_by", list(default.closing_approved_by)),
                                                       path + ("closing_approved_by",))))
    tolerance = default.backdate_tolerance
    if "backdate_tolerance" in item:
        tolerance = c.duration(item["backdate_tolerance"], path + ("backdate_tolerance",)) or tolerance
    confirmers = tuple(c.choice(r, CLAIM_CONFIRMERS, path + ("claims_confirmed_by", i))
                       for i, r in enumerate(c.sequence(item.get("claims_confirmed_by", list(CLAIM_CONFIRMERS)),
                                                        path + ("claims_confirmed_by",))))
    recipients = _recipients(item.get("recipients", {}), c, path + ("recipients",))
    skip = _recipients(item.get("skip_level", {}), c, path + ("skip_level",))
    named = {k: {r.code for r in rows} for k, rows in recipients}
    for kind, rows in skip:
        for i, r in enumerate(rows):
            if r.code in named.get(kind, set()):
                c.fail(path + ("skip_level", kind, i, "code"), f"`{r.code}` already receives every `{kind}` report")
    documents = _documents(item.get("documents"), c, path + ("documents",))
    return ReportRules(classification, daily_at, approvers or default.closing_approved_by, tolerance,
                       confirmers or CLAIM_CONFIRMERS, recipients, skip, documents)


def _recipients(raw: Any, c: Checker, path: tuple) -> tuple[tuple[str, tuple[Recipient, ...]], ...]:
    out = []
    for kind, items in c.mapping(raw, path).items():
        if kind not in REPORT_KINDS:
            c.fail(path + (kind,), f"`{kind}` is not a report kind ({', '.join(REPORT_KINDS)})")
            continue
        rows, seen = [], set()
        for i, entry in enumerate(c.sequence(items, path + (kind,))):
            at = path + (kind, i)
            row = _recipient(c.mapping(entry, at), c, at)
            if row.code in seen:
                c.fail(at + ("code",), f"duplicate recipient `{row.code}`")
            seen.add(row.code)
            rows.append(row)
        out.append((kind, tuple(rows)))
    return tuple(out)


def _recipient(entry: dict, c: Checker, at: tuple) -> Recipient:
    c.unknown_keys(entry, ("code", "name", "channel", "required", "peer", "email"), at)
    code = c.code(entry, "code", at)
    channel = c.choice(entry.get("channel"), tuple(DELIVERY_CHANNELS), at + ("channel",))
    required = entry.get("required", True)
    if not isinstance(required, bool):
        c.fail(at + ("required",), "must be true or false")
        required = True
    peer = str(entry["peer"]).strip() if entry.get("peer") is not None else None
    email = str(entry["email"]).strip() if entry.get("email") is not None else None
    if channel == YINGJI and not peer:
        c.fail(at + ("peer",), "a `yingji` recipient names the bureau's `peer` code (as registered with `flask peers add`)")
    if peer is not None and not re.match(r"^[a-z][a-z0-9_-]{0,39}$", peer):
        c.fail(at + ("peer",), f"`{peer}` is not a peer code (lower-case letters, digits, - and _)")
    if channel == EMAIL and not email:
        c.fail(at + ("email",), "an `email` recipient names its `email` address")
    if email is not None and not _EMAIL.match(email):
        c.fail(at + ("email",), f"`{email}` is not an e-mail address")
    if channel == INTERNAL and not required:
        c.fail(at + ("required",), "this bureau itself always receives what is filed here")
    return Recipient(code, c.text(entry, "name", at), channel, required, peer, email)


def _documents(raw: Any, c: Checker, path: tuple) -> DocumentRules:
    if raw is None:
        return DocumentRules()
    item = c.mapping(raw, path)
    c.unknown_keys(item, ("issuer_mark", "abbreviation", "printer", "sign_off", "titles", "urgency"), path)
    sign_off = []
    for kind, roles in c.mapping(item.get("sign_off", {}), path + ("sign_off",)).items():
        if kind not in SIGNED_KINDS:
            c.fail(path + ("sign_off", kind), f"`{kind}` is not a report kind ({', '.join(SIGNED_KINDS)})")
            continue
        sign_off.append((kind, tuple(c.choice(r, tuple(ROLES), path + ("sign_off", kind, i))
                                     for i, r in enumerate(c.sequence(roles, path + ("sign_off", kind))))))
    titles = []
    for kind, pattern in c.mapping(item.get("titles", {}), path + ("titles",)).items():
        if kind not in REPORT_KINDS:
            c.fail(path + ("titles", kind), f"`{kind}` is not a report kind ({', '.join(REPORT_KINDS)})")
            continue
        pattern = str(pattern)
        try:
            pattern.format(title="", n=1)
        except (KeyError, IndexError, ValueError):
            c.fail(path + ("titles", kind), "a title may use only {title} and {n}")
            continue
        titles.append((kind, pattern))
    urgency = []
    for kind, mark in c.mapping(item.get("urgency", {}), path + ("urgency",)).items():
        if kind not in REPORT_KINDS:
            c.fail(path + ("urgency", kind), f"`{kind}` is not a report kind ({', '.join(REPORT_KINDS)})")
            continue
        urgency.append((kind, c.choice(mark, URGENCY_MARKS, path + ("urgency", kind))))
    return DocumentRules(c.text(item, "issuer_mark", path), c.text(item, "abbreviation", path),
                         c.text(item, "printer", path, required=False), tuple(sign_off), tuple(titles),
                         tuple(urgency))
