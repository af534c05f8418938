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
        "status": {"type": "string", "enum": ["registered", "active", "ended", "archived"]},
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
