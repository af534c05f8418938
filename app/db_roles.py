"""PostgreSQL least privilege: the application's role may append to the audit trail, never rewrite it.

Migrations run as the owner of the tables; the servers and the scheduler connect as another role
that reads and writes the business tables but has only SELECT and INSERT on `audit_entries` (no
UPDATE, DELETE or TRUNCATE, and, not being the owner, it cannot drop or disable the append-only
trigger). `audit_head` is the one row whoever seals locks (`SELECT ... FOR UPDATE`, which needs
UPDATE) and moves forward; it cannot be deleted or truncated. `audit_inbox` holds entries waiting to
be sealed: the role inserts them, and the sealer reads and deletes them; it may not UPDATE them
(each is signed with an HMAC anyway) nor TRUNCATE the table. `deploy/postgres-roles.sql` is these
statements for the role `yingji_app`; `flask db grant-app-role ROLE` runs them, as the owner, and must
be run again after every `flask db upgrade` that adds a table.
"""
from __future__ import annotations

import re

AUDIT_TABLE = "audit_entries"
HEAD_TABLE = "audit_head"
INBOX_TABLE = "audit_inbox"
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grant_statements(role: str) -> list[str]:
    """Return the SQL that gives `role` what the application needs and nothing more on the audit trail."""
    if not _ROLE.match(role):
        raise ValueError(f"not a plain PostgreSQL role name: {role!r}")
    return [
        # Nothing left over from an earlier grant, and nothing through PUBLIC.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        # The audit trail: append and read only.
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {AUDIT_TABLE} FROM {role}",
        f"REVOKE DELETE, TRUNCATE, REFERENCES, TRIGGER ON {HEAD_TABLE} FROM {role}",
        f"REVOKE UPDATE, TRUNCATE, REFERENCES, TRIGGER ON {INBOX_TABLE} FROM {role}",
        # The schema version is the owner's business.
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {role}",
    ]


def script(role: str = "yingji_app") -> str:
    """Return the statements as a psql script (what deploy/postgres-roles.sql holds)."""
    return "".join(f"{s};\n" for s in grant_statements(role))
