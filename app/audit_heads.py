"""The audit chain's head, signed and appended to a file the database account cannot write.

Each line is `seq hash time key-version mac`: the last entry's number and hash when it was
exported, the time, and an HMAC over the four with a key derived from the audit key. The file is
opened with O_APPEND (created 0600) and never rewritten; in production give it `chattr +a` so not
even the application's own OS user can truncate it. `flask audit verify` checks every signed line
against the chain: a rewritten entry, a deleted tail and a wiped trail all contradict a line.
"""
from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from app.audit_keys import AuditKeyring, HmacKey
from incidents.records import audit

HEAD_LABEL = "yingji audit head"
_TAIL_BYTES = 4096


@dataclass(frozen=True)
class HeadFile:
    """The signed heads read from the file, and the lines that could not be trusted."""

    heads: tuple[audit.Head, ...]
    problems: tuple[str, ...]
    exists: bool


@dataclass(frozen=True)
class Export:
    """What an export did: the head it wrote (None if nothing new), or why it refused."""

    head: audit.Head | None
    problems: tuple[str, ...]
    previous: audit.Head | None


def _signed_text(seq: int, digest: str, at: str, version: str) -> bytes:
    return f"{seq}|{digest}|{at}|{version}".encode("ascii")


def _head_key(keyring: AuditKeyring, version: str) -> HmacKey | None:
    key = keyring.get(version)
    return key.derive(HEAD_LABEL) if key else None


def format_line(keyring: AuditKeyring, head: audit.Head, at: datetime) -> str:
    """Return the signed line for a head exported at a time."""
    key = keyring.current
    stamp = at.isoformat()
    mac = key.derive(HEAD_LABEL).mac(_signed_text(head.seq, head.hash, stamp, key.version))
    return f"{head.seq} {head.hash} {stamp} {key.version} {mac}\n"


def parse_line(keyring: AuditKeyring, line: str) -> audit.Head | None:
    """Return the head a line signs, or None if it is malformed or its signature does not match."""
    parts = line.split()
    if len(parts) != 5 or not parts[0].isdigit():
        return None
    seq, digest, stamp, version, mac = parts
    key = _head_key(keyring, version)
    if key is None or not _same(key.mac(_signed_text(int(seq), digest, stamp, version)), mac):
        return None
    try:
        at = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return audit.Head(int(seq), digest, at)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def read(path: str | Path, keyring: AuditKeyring) -> HeadFile:
    """Read every line of the head file; a line that is not signed with our key is a problem."""
    path = Path(path)
    if not path.exists():
        return HeadFile((), (), False)
    heads, problems = [], []
    with path.open("r", encoding="ascii", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            head = parse_line(keyring, line)
            if head is None:
                problems.append(f"line {number} of the head file {path} is not signed with the audit key "
                                "(forged, damaged, or signed with a key this server does not hold)")
            else:
                heads.append(head)
    return HeadFile(tuple(heads), tuple(problems), True)


def last(path: str | Path, keyring: AuditKeyring) -> audit.Head | None:
    """Return the last signed head of the file (reading its tail only), or None."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read().decode("ascii", errors="replace")
    except FileNotFoundError:
        return None
    for line in reversed(tail.splitlines()):
        head = parse_line(keyring, line)
        if head is not None:
            return head
    return None


def append(path: str | Path, line: str) -> None:
    """Append one line: O_APPEND (never rewrites), created 0600, flushed to disk before returning."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def export(session: Session, keyring: AuditKeyring, path: str | Path, now: datetime) -> Export:
    """Check the entries written since the last exported head, and append the new head, signed.

    Nothing is exported when the chain is broken (a forged tail gets no signature) or has not moved.
    """
    previous = last(path, keyring)
    checked = audit.advance(session, keyring, previous)
    if checked.problems:
        return Export(None, checked.problems, previous)
    if previous is not None and checked.last.seq == previous.seq:
        return Export(None, (), previous)
    append(path, format_line(keyring, checked.last, now))
    return Export(audit.Head(checked.last.seq, checked.last.hash, now), (), previous)
