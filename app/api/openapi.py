"""The OpenAPI 3.1 document of the API, at /api/v1/openapi.json."""
from __future__ import annotations

from flask import jsonify

from app.api import bp

TIME = {"type": "string", "format": "date-time", "description": "ISO 8601 with a UTC offset"}
LEVEL = {"type": "string", "enum": ["I", "II", "III", "IV"]}
ERROR = {"$ref": "#/components/schemas/Error"}


def _json_body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _ok(schema: dict, code: str = "200", description: str = "OK") -> dict:
    errors = {str(c): {"description": d, "content": {"application/json": {"schema": ERROR}}}
              for c, d in ((400, "invalid input"), (401, "no valid token"), (403, "role or unit not allowed"),
                           (404, "not found"), (409, "not allowed in the incident's state"))}
    return {code: {"description": description, "content": {"application/json": {"schema": schema}}}, **errors}


def _obj(props: dict, required: list[str] | None = None) -> dict:
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


INCIDENT_REF = {"$ref": "#/components/schemas/Incident"}
ASSIGNMENT_REF = {"$ref": "#/components/schemas/Assignment"}
SHIFT_REF = {"$ref": "#/components/schemas/Shift"}
AID = [{"name": "assignment_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
CODE = [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}]
ID = [{"name": "incident_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
TEXT = {"type": "string"}
DATE = {"type": "string", "format": "date", "description": "a day, e.g. 2026-11-20"}
BID = [{"name": "briefing_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
BRIEFING_REF = {"$ref": "#/components/schemas/Briefing"}
BRIEFING_KINDS = ["incident", "daily", "closing", "accountability", "complaints_weekly"]
PDF_RESPONSES = {
    "200": {"description": "the PDF; headers X-Briefing-Id and X-Briefing-SHA256 name the stored version",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {"schema": _obj({"briefing": BRIEFING_REF})}}},
    "202": {"description": "being generated: poll the Location (the briefing's status)",
            "content": {"application/json": {"schema": _obj({"briefing": BRIEFING_REF})}}},
    **{k: v for k, v in _ok({}).items() if k != "200"},
    "500": {"description": "the briefing could not be generated", "content": {"application/json": {"schema": ERROR}}},
}
CLOSING_ANSWER = _obj({"closing_report": {"oneOf": [{"$ref": "#/components/schemas/ClosingReport"}, {"type": "null"}]},
                       "approvers": {"type": "array", "items": TEXT}, "incident": INCIDENT_REF})

SCHEMAS = {
    "Error": _obj({"error": _obj({"code": TEXT, "message": {"type": "string", "description": "Chinese"},
                                   "message_en": TEXT, "field": TEXT}, ["code", "message", "message_en"])},
                  ["error"]),
    "Deadline": _obj({
        "id": {"type": "integer"},
        "kind": {"type": "string", "description": "initial_report, bureau_report, progress_report, "
                                                  "closing_report, or a response-measure clock of the plan"},
        "cycle": {"type": "integer"}, "name": TEXT, "department": {"type": ["string", "null"]},
        "station": {"type": ["string", "null"]}, "starts_at": TIME, "due_at": TIME,
        "status": {"type": "string", "enum": ["pending", "met", "late", "overdue", "cancelled"]},
        "outcome": {"type": "string", "enum": ["met", "late", "missed", "running"]},
        "satisfied_at": {**TIME, "type": ["string", "null"]}, "late_seconds": {"type": ["integer", "null"]},
        "cancel_reason": {"type": ["string", "null"]}, "seconds_left": {"type": "integer"},
    }, ["id", "kind", "due_at", "status", "satisfied_at", "late_seconds"]),
    "Report": _obj({"id": {"type": "integer"}, "kind": TEXT, "measure": {"type": ["string", "null"]},
                    "body": TEXT, "submitted_at": TIME, "entered_at": TIME}),
    "Incident": _obj({
        "id": {"type": "integer"}, "number": TEXT, "title": TEXT, "category": TEXT,
        "level": {"type": ["string", "null"], "enum": ["I", "II", "III", "IV", None]},
        "kind": {"type": "string", "enum": ["event", "holiday_watch"],
                 "description": "holiday_watch: a holiday market warning with tasks, never a response, no clocks"},
        "status": {"type": "string", "enum": ["registered", "active", "ended", "archived", "watching", "withdrawn"]},
        "lead_department": TEXT, "station": {"type": ["string", "null"]}, "discovered_at": TIME,
        "location": TEXT, "source": TEXT, "nature": TEXT, "scope": TEXT, "trend": TEXT,
        "measures_taken": TEXT, "casualties": TEXT,
        "deadlines": {"type": "array", "items": {"$ref": "#/components/schemas/Deadline"}},
        "assignments": {"type": "array", "items": ASSIGNMENT_REF},
        "reports": {"type": "array", "items": {"$ref": "#/components/schemas/Report"}},
        "level_changes": {"type": "array", "items": _obj({"from": {"type": ["string", "null"]},
                                                          "to": {"type": ["string", "null"]},
                                                          "reason": TEXT, "at": TIME})},
    }, ["id", "level", "status", "lead_department", "deadlines"]),
    "Assignment": _obj({
        "id": {"type": "integer"}, "incident_id": {"type": "integer"}, "department": TEXT, "task": TEXT,
        "clock": {"type": ["string", "null"]}, "due_at": {**TIME, "type": ["string", "null"]},
        "status": {"type": "string", "enum": ["pushed", "acknowledged", "in_progress", "done", "declined"]},
        "acknowledged_at": {**TIME, "type": ["string", "null"]}, "done_note": {"type": ["string", "null"]},
        "decline_reason": {"type": ["string", "null"]},
    }, ["id", "department", "task", "due_at", "status"]),
    "Shift": _obj({"id": {"type": "integer"}, "department": TEXT, "starts_at": TIME, "ends_at": TIME,
                   "officer_id": {"type": ["integer", "null"]}, "officer_name": {"type": ["string", "null"]},
                   "phone": {"type": ["string", "null"]}, "substitute_for": {"type": ["integer", "null"]}}),
    "Briefing": _obj({
        "id": {"type": "integer"}, "kind": {"type": "string", "enum": BRIEFING_KINDS},
        "title": TEXT, "incident_id": {"type": ["integer", "null"]}, "params": {"type": "object"},
        "status": {"type": "string", "enum": ["pending", "running", "ready", "failed"]}, "status_name": TEXT,
        "reference": {"type": "string", "description": "printed on every page, e.g. 简报编号 B000012"},
        "requested_at": TIME, "generated_at": {**TIME, "type": ["string", "null"]},
        "sha256": {"type": ["string", "null"], "description": "SHA-256 of the stored PDF bytes"},
        "size": {"type": ["integer", "null"]}, "pages": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]},
        "pdf_url": TEXT, "status_url": TEXT,
    }, ["id", "kind", "status", "sha256", "pdf_url"]),
    "ClosingReport": _obj({
        "id": {"type": "integer"}, "status": {"type": "string", "enum": ["submitted", "returned", "approved"]},
        "version": {"type": "integer"}, "cause": TEXT, "handling": TEXT, "aftermath": TEXT, "lessons": TEXT,
        "improvements": TEXT, "investigators": TEXT, "submitted_at": TIME, "decided_at": {**TIME, "type": ["string", "null"]},
        "decision_note": {"type": ["string", "null"]},
    }, ["id", "status", "version", "cause"]),
    "Escalation": _obj({
        "id": {"type": "integer"}, "incident_id": {"type": "integer"},
        "code": {"type": "string", "description": "the item's code, A<assignment id> or D<deadline id>"},
        "trigger": {"type": "string", "enum": ["unacknowledged", "warning", "overdue"]}, "trigger_name": TEXT,
        "assignment_id": {"type": ["integer", "null"]}, "deadline_id": {"type": ["integer", "null"]},
        "department": {"type": ["string", "null"]}, "station": {"type": ["string", "null"]},
        "status": {"type": "string", "enum": ["running", "acknowledged", "resolved", "stopped", "exhausted"]},
        "status_name": TEXT, "started_at": TIME, "next_at": {**TIME, "type": ["string", "null"]},
        "stopped_at": {**TIME, "type": ["string", "null"]}, "stop_reason": {"type": ["string", "null"]},
        "ack_by": {"type": ["string", "null"]},
        "ack_channel": {"type": ["string", "null"], "enum": ["board", "sms", "voice", None]},
        "level": {"type": "string", "description": "the level whose chain was frozen on, or `ungraded`"},
    }, ["id", "incident_id", "code", "trigger", "status", "started_at"]),
    "Delivery": _obj({
        "id": {"type": "integer"}, "at": TIME, "created_at": TIME, "step": {"type": ["integer", "null"]},
        "purpose": {"type": "string", "enum": ["alert", "handled", "test"]},
        "channel": {"type": "string", "enum": ["board", "sms", "voice"]}, "channel_name": TEXT,
        "audience": {"type": ["string", "null"], "enum": ["duty_officer", "department_head", "leadership", None]},
        "to_name": TEXT, "phone_masked": {"type": ["string", "null"], "description": "e.g. +86138****5678"},
        "status": {"type": "string", "enum": ["pending", "held", "sending", "queued", "sent", "delivered",
                                              "undelivered", "failed", "bundled", "skipped", "cancelled",
                                              "unknown"]},
        "status_name": TEXT, "provider": {"type": ["string", "null"]},
        "provider_status": {"type": ["string", "null"]}, "attempts": {"type": "integer"},
        "bundle_id": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}, "content": TEXT,
    }, ["id", "channel", "status", "to_name"]),
    "NewIncident": _obj({
        "title": TEXT, "category": {"type": "string", "description": "a category code of the plan"},
        "discovered_at": TIME, "location": TEXT, "station": {"type": "string", "description": "station code"},
        "source": TEXT, "nature": TEXT, "scope": TEXT, "trend": TEXT, "measures_taken": TEXT,
        "casualties": TEXT, "level": LEVEL, "level_reason": TEXT,
    }, ["title", "category", "discovered_at", "location", "source", "nature"]),
}

PATHS = {
    "/plan": {"get": {"summary": "The plan in force", "responses": _ok(_obj({
        "version": TEXT, "levels": {"type": "array"}, "clocks": {"type": "array"},
        "departments": {"type": "array", "items": _obj({"code": TEXT, "name": TEXT})},
        "categories": {"type": "array", "items": _obj({"code": TEXT, "name": TEXT, "lead_department": TEXT})},
    }, ["version", "levels", "departments", "categories"]))}},
    "/plan/suggest": {"get": {"summary": "Suggested level and lead department for a category",
                              "parameters": [{"name": "category", "in": "query", "required": True,
                                              "schema": TEXT}],
                              "responses": _ok(_obj({"level": LEVEL, "lead_department": TEXT}))}},
    "/incidents": {
        "post": {"summary": "Register an event", "requestBody": _json_body({"$ref": "#/components/schemas/NewIncident"}),
                 "responses": _ok(INCIDENT_REF, "201", "registered")},
        "get": {"summary": "List incidents", "parameters": [
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            {"name": "level", "in": "query", "schema": LEVEL}],
            "responses": _ok(_obj({"incidents": {"type": "array", "items": INCIDENT_REF}}))},
    },
    "/incidents/{incident_id}": {"get": {"summary": "One incident", "parameters": ID, "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/level": {"post": {
        "summary": "Grade or re-grade with a reason", "parameters": ID,
        "requestBody": _json_body(_obj({"level": LEVEL, "reason": TEXT}, ["level", "reason"])),
        "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/activate": {"post": {"summary": "Activate the response", "parameters": ID,
                                                   "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/reports": {"post": {
        "summary": "File a report", "parameters": ID,
        "requestBody": _json_body(_obj({"kind": {"type": "string", "enum": ["initial", "bureau", "progress", "closing"]},
                                        "submitted_at": {**TIME, "description": "may be in the past, never the future"},
                                        "body": TEXT}, ["kind", "body"])),
        "responses": _ok(_obj({"report": {"$ref": "#/components/schemas/Report"}, "incident": INCIDENT_REF}),
                         "201", "filed")}},
    "/incidents/{incident_id}/measures": {"post": {
        "summary": "Report a response measure done", "parameters": ID,
        "requestBody": _json_body(_obj({"measure": {"type": "string", "description": "a measure clock kind"},
                                        "submitted_at": TIME, "body": TEXT}, ["measure", "body"])),
        "responses": _ok(_obj({"report": {"$ref": "#/components/schemas/Report"}, "incident": INCIDENT_REF}),
                         "201", "filed")}},
    "/incidents/{incident_id}/end": {"post": {
        "summary": "Declare the emergency over", "parameters": ID,
        "requestBody": _json_body(_obj({"ended_at": TIME, "reason": TEXT}, ["reason"])),
        "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/archive": {"post": {"summary": "Archive after the closing report",
                                                  "parameters": ID, "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/audit": {"get": {"summary": "The incident's audit trail", "parameters": ID,
                                               "responses": _ok(_obj({"entries": {"type": "array"}}))}},
    "/accountability": {"get": {
        "summary": "Clocks met, late and missed, per incident and per department",
        "parameters": [{"name": "from", "in": "query", "schema": TIME}, {"name": "to", "in": "query", "schema": TIME},
                       {"name": "department", "in": "query", "schema": TEXT},
                       {"name": "incident", "in": "query", "schema": {"type": "integer"}}],
        "responses": _ok(_obj({"totals": {"type": "object"}, "by_department": {"type": "array"},
                               "by_incident": {"type": "array"}}))}},
    "/incidents/{incident_id}/assignments": {"post": {
        "summary": "Assign a task to a department (pushed to its board)", "parameters": ID,
        "requestBody": _json_body(_obj({"department": TEXT, "task": TEXT, "due_at": TIME,
                                        "clock": {"type": "string", "description": "a measure clock it satisfies"}},
                                       ["department", "task"])),
        "responses": _ok(ASSIGNMENT_REF, "201", "assigned")}},
    "/assignments": {"get": {
        "summary": "A department's assignments", "parameters": [
            {"name": "department", "in": "query", "schema": TEXT},
            {"name": "open", "in": "query", "schema": {"type": "string", "enum": ["0", "1"]}}],
        "responses": _ok(_obj({"assignments": {"type": "array", "items": ASSIGNMENT_REF}}))}},
    "/assignments/{assignment_id}/ack": {"post": {"summary": "Acknowledge (签收)", "parameters": AID,
                                                  "responses": _ok(ASSIGNMENT_REF)}},
    "/assignments/{assignment_id}/progress": {"post": {
        "summary": "Report progress", "parameters": AID,
        "requestBody": _json_body(_obj({"note": TEXT}, ["note"])), "responses": _ok(ASSIGNMENT_REF)}},
    "/assignments/{assignment_id}/done": {"post": {
        "summary": "Mark done", "parameters": AID,
        "requestBody": _json_body(_obj({"note": TEXT}, ["note"])), "responses": _ok(ASSIGNMENT_REF)}},
    "/assignments/{assignment_id}/decline": {"post": {
        "summary": "Decline with a reason (否定报备)", "parameters": AID,
        "requestBody": _json_body(_obj({"reason": TEXT}, ["reason"])), "responses": _ok(ASSIGNMENT_REF)}},
    "/assignments/{assignment_id}": {"get": {"summary": "One assignment", "parameters": AID,
                                             "responses": _ok(ASSIGNMENT_REF)}},
    "/incidents/{incident_id}/escalations": {"get": {
        "summary": "Every escalation of an incident with every delivery (phones masked), oldest first",
        "parameters": ID,
        "responses": _ok(_obj({"escalations": {"type": "array", "items": {"allOf": [
            {"$ref": "#/components/schemas/Escalation"},
            _obj({"item": TEXT, "deliveries": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/Delivery"}}})]}}}))}},
    "/escalations/{escalation_id}/ack": {"post": {
        "summary": "Acknowledge a running escalation on the board (签收提醒): no more SMS or calls for it",
        "parameters": [{"name": "escalation_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": _ok({"$ref": "#/components/schemas/Escalation"})}},
    "/departments": {"get": {"summary": "Departments with who is on duty now",
                             "responses": _ok(_obj({"departments": {"type": "array"}}))}},
    "/departments/{code}/on-duty": {"get": {
        "summary": "Who is on duty now", "parameters": CODE + [{"name": "at", "in": "query", "schema": TIME}],
        "responses": _ok(_obj({"department": TEXT, "on_duty": {"type": "array", "items": SHIFT_REF},
                               "covered": {"type": "boolean"}}))}},
    "/departments/{code}/shifts": {
        "get": {"summary": "A department's roster", "parameters": CODE + [
            {"name": "from", "in": "query", "schema": TIME}, {"name": "to", "in": "query", "schema": TIME}],
            "responses": _ok(_obj({"shifts": {"type": "array", "items": SHIFT_REF}}))},
        "post": {"summary": "Add a shift", "parameters": CODE,
                 "requestBody": _json_body(_obj({"starts_at": TIME, "ends_at": TIME, "officer_id": {"type": "integer"},
                                                 "officer_name": TEXT, "phone": TEXT, "note": TEXT},
                                                ["starts_at", "ends_at"])),
                 "responses": _ok(SHIFT_REF, "201", "added")}},
    "/shifts/{shift_id}/handover": {"post": {
        "summary": "Hand the rest of a shift to a named substitute (同岗替代)",
        "parameters": [{"name": "shift_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "requestBody": _json_body(_obj({"substitute_id": {"type": "integer"}, "substitute_name": TEXT, "phone": TEXT,
                                        "reason": TEXT, "at": TIME}, ["reason"])),
        "responses": _ok(SHIFT_REF, "201", "handed over")}},
    "/shifts/swap": {"post": {
        "summary": "Swap the officers of two shifts",
        "requestBody": _json_body(_obj({"first": {"type": "integer"}, "second": {"type": "integer"}, "reason": TEXT},
                                       ["first", "second"])),
        "responses": _ok(_obj({"swapped": {"type": "array"}}))}},
    "/duty/alerts": {"get": {"summary": "Uncovered hours and shifts without officer or phone",
                             "responses": _ok(_obj({"alerts": {"type": "array"}}))}},
    # --- PDF briefings and the closing report (app/api/reports.py) ---
    **{path: {"get": {"summary": summary, "parameters": params, "responses": PDF_RESPONSES,
                      "description": "Waits up to REPORTS_WAIT seconds for the stored PDF; `Prefer: respond-async` "
                                     "answers 202 at once, `Accept: application/json` the briefing's metadata."}}
       for path, summary, params in (
           ("/incidents/{incident_id}/briefing.pdf", "Incident briefing (事件简报)", ID),
           ("/incidents/{incident_id}/closing-report.pdf", "Closing report (应急处置总结报告) with the full record", ID),
           ("/reports/daily.pdf", "Daily situation report (每日汇总)",
            [{"name": "date", "in": "query", "schema": DATE, "description": "default today, Beijing time"}]),
           ("/reports/complaints-weekly.pdf", "Weekly complaints summary for leadership (每周投诉举报情况汇总)",
            [{"name": "week", "in": "query", "schema": DATE,
              "description": "any day of the week (Monday to Sunday, Beijing time); default the last full week"}]),
           ("/accountability.pdf", "Accountability sheet (迟报漏报情况表) of a period",
            [{"name": "from", "in": "query", "schema": DATE}, {"name": "to", "in": "query", "schema": DATE},
             {"name": "department", "in": "query", "schema": TEXT}]))},
    "/briefings": {"get": {
        "summary": "Stored briefings the caller may read; sha256= finds the version a PDF file is",
        "parameters": [{"name": "sha256", "in": "query", "schema": TEXT},
                       {"name": "incident", "in": "query", "schema": {"type": "integer"}},
                       {"name": "kind", "in": "query", "schema": {"type": "string", "enum": BRIEFING_KINDS}}],
        "responses": _ok(_obj({"briefings": {"type": "array", "items": BRIEFING_REF}}))}},
    "/briefings/{briefing_id}": {"get": {"summary": "A stored briefing's status and hash", "parameters": BID,
                                         "responses": _ok(_obj({"briefing": BRIEFING_REF}))}},
    "/briefings/{briefing_id}.pdf": {"get": {"summary": "The stored PDF of one briefing version", "parameters": BID,
                                             "responses": PDF_RESPONSES}},
    "/incidents/{incident_id}/closing-report": {
        "get": {"summary": "The closing report (null before one is submitted) and who approves it", "parameters": ID,
                "responses": _ok(CLOSING_ANSWER)},
        "post": {"summary": "Submit the closing report; files the `closing` report for its clock", "parameters": ID,
                 "requestBody": _json_body(_obj({"cause": TEXT, "handling": TEXT, "aftermath": TEXT, "lessons": TEXT,
                                                 "improvements": TEXT, "investigators": TEXT, "submitted_at": TIME},
                                                ["cause"])),
                 "responses": _ok(CLOSING_ANSWER, "201", "submitted")}},
    "/incidents/{incident_id}/closing-report/approve": {"post": {
        "summary": "Approve the closing report (the role the plan names); archives the incident", "parameters": ID,
        "requestBody": _json_body(_obj({"note": TEXT}), required=False), "responses": _ok(CLOSING_ANSWER)}},
    "/incidents/{incident_id}/closing-report/return": {"post": {
        "summary": "Return the closing report for revision", "parameters": ID,
        "requestBody": _json_body(_obj({"reason": TEXT}, ["reason"])), "responses": _ok(CLOSING_ANSWER)}},
    "/openapi.json": {"get": {"summary": "This document", "security": [],
                              "responses": {"200": {"description": "OpenAPI document"}}}},
}


def document() -> dict:
    """Return the OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Yingji 应急指挥 API", "version": "1",
                 "description": "Incident registry and reporting clocks of a market-supervision bureau. "
                                "Errors carry `message` (Chinese) and `message_en`."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": SCHEMAS},
        "paths": PATHS,
    }


@bp.get("/openapi.json")
def openapi_json():
    """Serve the OpenAPI document."""
    return jsonify(document())


# --- 12315 complaints, surges and consumer warnings (issue 6) -----------------------------------------
_NO = [{"name": "tracking_no", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "e.g. TS20261120-7K3M9QX (投诉) or JB20261120-… (举报)"}]
_YEAR = [{"name": "year", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{4}$"}}]
_HOLIDAY = {"type": "string", "enum": ["new_year", "spring_festival", "qingming", "labour_day", "dragon_boat",
                                       "mid_autumn", "national_day"],
            "description": "or the Chinese name (元旦、春节、清明、劳动节、端午、中秋、国庆)"}
_BREAK_IN = _obj({"holiday": _HOLIDAY, "holidays": {"type": "array", "items": _HOLIDAY}, "from": DATE, "to": DATE,
                  "workdays": {"type": "array", "items": DATE, "description": "make-up working days (Sat or Sun)"}},
                 ["from", "to"])
_NOTICE = _obj({"id": {"type": "integer"}, "year": {"type": "integer"}, "title": TEXT,
                "document_no": {"type": ["string", "null"]}, "breaks": {"type": "array"}, "sha256": TEXT,
                "reason": {"type": ["string", "null"]}, "replaces": {"type": ["integer", "null"]},
                "entered_by_id": {"type": ["integer", "null"]}, "entered_at": TIME,
                "description": {"type": "string", "description": "the notice in Chinese"}})
_CALENDAR_YEAR = _obj({"year": {"type": "integer"}, "certain": {"type": "boolean"}, "source": TEXT,
                       "description": {"type": ["string", "null"]}, "statutory": {"type": "array"},
                       "breaks": {"type": "array", "items": _obj({
                           "holidays": {"type": "array"}, "name": TEXT, "first_day": DATE, "last_day": DATE,
                           "days": {"type": "integer"}, "workdays": {"type": "array"}, "certain": {"type": "boolean"}})},
                       "entered": {"type": "array", "items": _NOTICE}})
_LIMIT_CHANGE = _obj({"limit_id": {"type": "integer"}, "due_on_before": DATE, "due_on": DATE,
                      "days_moved": {"type": "integer"}, "estimated_before": {"type": "boolean"},
                      "estimated": {"type": "boolean"}, "summary": TEXT, "cause": TEXT})
_WID = [{"name": "warning_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
_COMPLAINT_REF = {"$ref": "#/components/schemas/Complaint"}
_WARNING_REF = {"$ref": "#/components/schemas/ConsumerWarning"}
_LIMITED = {"429": {"description": "too many requests from this address or phone (Retry-After)",
                    "content": {"application/json": {"schema": ERROR}}}}

SCHEMAS.update({
    "NewComplaint": _obj({
        "kind": {"type": "string", "enum": ["complaint", "tipoff"], "default": "complaint"},
        "name": {"type": "string", "description": "required for a complaint; a tip-off may be anonymous"},
        "phone": {"type": "string", "description": "mainland mobile, 11 digits (+86, spaces, dashes allowed)"},
        "address": TEXT, "business_name": TEXT, "business_address": TEXT,
        "credit_code": {"type": "string", "description": "统一社会信用代码, 18 characters, check digit per GB 32100-2015"},
        "category": {"type": "string", "description": "a complaint category code of the plan (complaints.categories)"},
        "purchased_at": {"type": "string", "description": "a day (2026-11-19) or an ISO 8601 time"},
        "amount": {"type": ["string", "number"], "description": "yuan, up to 2 decimals"},
        "order_no": TEXT, "description": TEXT,
        "demand": {"type": "string", "description": "a demand code of the plan; required for a complaint"},
        "area": {"type": "string", "description": "station code of the business's area; guessed from the address"},
    }, ["phone", "business_name", "business_address", "category", "description"]),
    "ComplaintStatus": _obj({
        "tracking_no": TEXT, "kind": TEXT, "status": {"type": "string", "enum": list(
            ("received", "accepted", "refused", "mediating", "closed", "filed", "not_filed"))},
        "status_name": TEXT, "phone": {"type": "string", "description": "masked: 138****5678"},
        "steps": {"type": "array", "items": _obj({"at": TIME, "text": TEXT})},
        "reason": {"type": ["string", "null"]}, "answer": {"type": ["string", "null"]}, "finished": {"type": "boolean"},
    }, ["tracking_no", "status", "phone"]),
    "ComplaintLimit": _obj({
        "kind": TEXT, "name": TEXT, "department": TEXT, "working_days": {"type": "integer"}, "due_on": DATE,
        "due_at": TIME, "warn_at": TIME, "status": {"type": "string", "enum": ["pending", "met", "late", "cancelled"]},
        "state": {"type": "string", "enum": ["running", "warn", "overdue", "met", "late", "cancelled"]},
        "working_days_left": {"type": "integer"}, "estimated": {"type": "boolean"},
        "estimate_note": {"type": ["string", "null"]},
    }),
    "Complaint": _obj({
        "tracking_no": TEXT, "kind": TEXT, "status": TEXT, "category": TEXT, "business_name": TEXT,
        "department": {"type": ["string", "null"]}, "suggested_department": TEXT,
        "name": {"type": "string", "description": "masked"}, "phone": {"type": "string", "description": "masked"},
        "description": {"type": "string", "description": "phone and ID numbers in it masked"},
        "next": {"type": "array", "items": TEXT},
        "limits": {"type": "array", "items": {"$ref": "#/components/schemas/ComplaintLimit"}},
    }),
    "ConsumerWarning": _obj({"id": {"type": "integer"}, "surge_id": {"type": ["integer", "null"]}, "title": TEXT,
                             "body": TEXT, "status": {"type": "string", "enum": ["draft", "submitted", "published",
                                                                                 "withdrawn"]},
                             "published_at": {**TIME, "type": ["string", "null"]}}),
})

PATHS.update({
    "/complaints": {
        "post": {"summary": "File a complaint or tip-off (public, no token)", "security": [],
                 "requestBody": _json_body({"$ref": "#/components/schemas/NewComplaint"}),
                 "responses": {**_ok(_obj({"tracking_no": TEXT, "status": TEXT, "phone": TEXT}), "201", "received"),
                               **_LIMITED}},
        "get": {"summary": "Complaints the caller may see (phones masked)", "parameters": [
            {"name": "status", "in": "query", "schema": TEXT, "description": "a status, open or untriaged"},
            {"name": "kind", "in": "query", "schema": TEXT}, {"name": "category", "in": "query", "schema": TEXT},
            {"name": "department", "in": "query", "schema": TEXT}, {"name": "q", "in": "query", "schema": TEXT},
            {"name": "before", "in": "query", "schema": {"type": "integer"}}],
            "responses": _ok(_obj({"complaints": {"type": "array", "items": _COMPLAINT_REF}}))},
    },
    "/complaints/{tracking_no}": {"get": {
        "summary": "A complaint's status for whoever has its number and phone (public; 404 for a wrong phone)",
        "security": [], "parameters": _NO + [{"name": "phone", "in": "query", "required": True, "schema": TEXT}],
        "responses": {**_ok({"$ref": "#/components/schemas/ComplaintStatus"}), **_LIMITED}}},
    "/complaints/{tracking_no}/detail": {"get": {"summary": "A complaint as staff see it", "parameters": _NO,
                                                 "responses": _ok(_COMPLAINT_REF)}},
    "/complaints/{tracking_no}/triage": {"post": {
        "summary": "Route to a department (分流; a note when re-routing)", "parameters": _NO,
        "requestBody": _json_body(_obj({"department": TEXT, "note": TEXT}, ["department"])),
        "responses": _ok(_COMPLAINT_REF)}},
    "/complaints/{tracking_no}/status": {"post": {
        "summary": "Accept, refuse (reason), mediate, close (answer); file a tip-off or not (reason)",
        "parameters": _NO,
        "requestBody": _json_body(_obj({"to": {"type": "string", "enum": [
            "accepted", "refused", "mediating", "closed", "filed", "not_filed"]}, "reason": TEXT, "answer": TEXT},
            ["to"])),
        "responses": _ok(_COMPLAINT_REF)}},
    "/complaints/{tracking_no}/contact": {"post": {
        "summary": "The complainant's full phone and address, for the centre and the handling department (audited)",
        "parameters": _NO, "responses": _ok(_obj({"name": TEXT, "phone": TEXT, "address": TEXT}))}},
    "/complaints/summary": {"get": {
        "summary": "Weekly complaint summary for leadership (last full week by default)",
        "parameters": [{"name": "from", "in": "query", "schema": DATE}, {"name": "to", "in": "query", "schema": DATE}],
        "responses": _ok(_obj({"received": {"type": "object"}, "by_category": {"type": "array"},
                               "top_businesses": {"type": "array"}, "limits": {"type": "array"}}))}},
    "/complaint-limits": {"get": {
        "summary": "Complaint time limits about to run out or run out (working days)",
        "parameters": [{"name": "department", "in": "query", "schema": TEXT}],
        "responses": _ok(_obj({"limits": {"type": "array", "items": {"$ref": "#/components/schemas/ComplaintLimit"}}}))}},
    "/surges": {"get": {"summary": "Open complaint surges and the latest ended ones",
                        "responses": _ok(_obj({"surges": {"type": "array"}}))}},
    "/consumer-warnings": {
        "get": {"summary": "Consumer warnings of every status (staff)",
                "parameters": [{"name": "status", "in": "query", "schema": TEXT}],
                "responses": _ok(_obj({"warnings": {"type": "array", "items": _WARNING_REF}}))},
        "post": {"summary": "Draft a consumer warning", "requestBody": _json_body(_obj({"title": TEXT, "body": TEXT},
                                                                                       ["title", "body"])),
                 "responses": _ok(_WARNING_REF, "201", "drafted")}},
    "/consumer-warnings/published": {"get": {"summary": "Published consumer warnings (public)", "security": [],
                                             "responses": _ok(_obj({"warnings": {"type": "array",
                                                                                 "items": _WARNING_REF}}))}},
    "/consumer-warnings/{warning_id}": {"post": {
        "summary": "Edit a draft", "parameters": _WID,
        "requestBody": _json_body(_obj({"title": TEXT, "body": TEXT}, ["title", "body"])),
        "responses": _ok(_WARNING_REF)}},
    "/consumer-warnings/{warning_id}/{action}": {"post": {
        "summary": "submit (for approval), approve (publish), return (with a note), withdraw",
        "parameters": _WID + [{"name": "action", "in": "path", "required": True,
                               "schema": {"type": "string", "enum": ["submit", "approve", "return", "withdraw"]}}],
        "requestBody": _json_body(_obj({"note": TEXT}), required=False), "responses": _ok(_WARNING_REF)}},
    "/duty/cover": {"get": {
        "summary": "Who is on duty now in these departments, and for an empty one who the level's escalation chain "
                   "reaches instead (shown before a task goes out or a response is activated)",
        "parameters": [{"name": "departments", "in": "query", "required": True, "schema": TEXT,
                        "description": "department or station codes, comma-separated"},
                       {"name": "level", "in": "query", "schema": LEVEL}],
        "responses": _ok(_obj({"cover": {"type": "array", "items": _obj({
            "department": TEXT, "name": TEXT, "on_duty": {"type": "array"}, "instead": {"type": "array"},
            "instead_role": TEXT, "note": {"type": ["string", "null"]}})}, "at": TIME}))}},
    "/incidents/{incident_id}/corrections": {"post": {
        "summary": "Correct registration fields with a reason (office; the registering station until graded). "
                   "Recorded outcomes of clocks never change; a running clock still ahead follows a corrected "
                   "discovered_at",
        "parameters": ID,
        "requestBody": _json_body(_obj({"changes": _obj({f: TEXT for f in (
            "title", "category", "station", "location", "source", "nature", "scope", "trend", "measures_taken",
            "casualties")} | {"discovered_at": TIME}), "reason": TEXT}, ["reason"])),
        "responses": _ok(INCIDENT_REF)}},
    "/incidents/{incident_id}/withdraw": {"post": {
        "summary": "Withdraw (作废) a duplicate, test or false registration (office, leadership): off every board "
                   "and count, live clocks cancelled with the reason, history kept",
        "parameters": ID,
        "requestBody": _json_body(_obj({"kind": {"type": "string", "enum": ["duplicate", "test", "false_report"]},
                                        "reason": TEXT, "duplicate_of": {"type": "integer"}}, ["kind", "reason"])),
        "responses": _ok(INCIDENT_REF)}},
    "/calendar/{year}": {
        "get": {"summary": "A year of the working-day calendar: its holiday breaks, how sure (a notice, or the "
                           "statutory rules only) and from where; the notices the office entered",
                "parameters": _YEAR, "responses": _ok(_CALENDAR_YEAR)},
        "put": {"summary": "Enter the year's holiday notice (国务院办公厅放假通知; office): checked against the statutory "
                           "rules, audited, the open complaint limits it touches recounted at once. A year that already "
                           "has a notice needs a reason. A refusal lists every problem (`problems`) and changes nothing.",
                "parameters": _YEAR,
                "requestBody": _json_body(_obj({
                    "year": {"type": "integer"}, "title": TEXT, "document_no": TEXT, "reason": TEXT,
                    "breaks": {"type": "array", "items": _BREAK_IN}}, ["breaks"])),
                "responses": _ok(_obj({"notice": _NOTICE, "description": TEXT, "year": _CALENDAR_YEAR,
                                       "changes": {"type": "array", "items": _LIMIT_CHANGE}}), "201", "entered")}},
    "/calendar/days/{day}": {"get": {
        "summary": "One day: a working day or not, the holiday break it is part of, how sure, from where",
        "parameters": [{"name": "day", "in": "path", "required": True, "schema": DATE}],
        "responses": _ok(_obj({"date": DATE, "workday": {"type": "boolean"}, "holidays": {"type": "array"},
                               "holiday_name": {"type": ["string", "null"]}, "certain": {"type": "boolean"},
                               "source": TEXT}))}},
})
