"""The whole audit trail and its verification, for the audit administrator (审计管理员) only."""
from __future__ import annotations

import json

from flask import current_app, jsonify, request
from sqlalchemy import select

from app import audit_heads
from app.api import bp, parse
from app.auth import api_login_required, current_user
from app.extensions import db, yingji
from incidents.kernel.errors import InvalidInput
from incidents.models import AuditEntry
from incidents.people import permissions
from incidents.records import audit
from incidents.records.snapshots import iso

PAGE = 200


@bp.get("/audit")
@api_login_required
def audit_entries():
    """Return audit entries after a sequence number, oldest first, a page at a time (audit administrator).

    The chain in its own order: an entry still waiting to be sealed (under a second) comes with the
    page after it is sealed; /audit/verify counts the waiting ones.
    """
    permissions.require(current_user(), "read_audit")
    after = parse.arg_id(request.args, "after", "起始序号") or 0
    raw = (request.args.get("limit") or "").strip()
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 3 and 1 <= int(raw) <= PAGE):
        raise InvalidInput("bad_limit", f"每页条数须为1至{PAGE}", f"limit must be 1..{PAGE}", field="limit")
    limit = int(raw) if raw else PAGE
    rows = list(db().scalars(select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(limit)))
    return jsonify({"entries": [{"seq": r.seq, "at": iso(r.at), "actor": r.actor, "action": r.action,
                                 "entity": r.entity, "entity_id": r.entity_id, "data": json.loads(r.data),
                                 "hash": r.hash} for r in rows],
                    "next_after": rows[-1].seq if len(rows) == limit else None})


@bp.get("/audit/verify")
@api_login_required
def audit_verify():
    """Recompute the chain with the key and compare it with the exported heads (audit administrator)."""
    permissions.require(current_user(), "read_audit")
    wiring = yingji()
    exported = audit_heads.read(current_app.config["AUDIT_HEAD_FILE"], wiring.audit_keys)
    result = audit.verify(db(), wiring.audit_keys, exported.heads)
    problems = list(exported.problems + result.problems)
    return jsonify({"intact": not problems, "entries": result.entries, "exported_heads": len(exported.heads),
                    "waiting": result.pending, "problems": problems})
