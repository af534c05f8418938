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


def _stamp(line: bytes) -> datetime | None:
    parts = line.split()
    if len(parts) != 5:
        return None
    try:
        return datetime.fromisoformat(parts[2].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _line_start(f, x: int) -> int:
    """Return the offset of the first line starting at or after x."""
    if x == 0:
        return 0
    f.seek(x - 1)
    f.readline()
    return f.tell()


def _offset_of(f, size: int, since: datetime) -> int:
    """Return the offset of the first line stamped at or after `since` (lines are appended in time order)."""
    lo, hi = 0, size
    while lo < hi:  # bisect on byte offsets: a probe reads the first whole line at or after `mid`
        mid = (lo + hi) // 2
        f.seek(_line_start(f, mid))
        line = f.readline()
        stamp = _stamp(line) if line else None
        if not line or (stamp is not None and stamp >= since):
            hi = mid
        else:
            lo = mid + 1
    return _line_start(f, lo)


def read_since(path: str | Path, keyring: AuditKeyring, since: datetime) -> tuple[audit.Head | None, HeadFile]:
    """Return the last signed head exported before `since`, and every line from then on (not the older ones).

    Finds the place by bisecting the file, so the cost is that of the lines after it, not the file's.
    """
    path = Path(path)
    if not path.exists():
        return None, HeadFile((), (), False)
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        offset = _offset_of(f, size, since)
        f.seek(max(0, offset - _TAIL_BYTES))
        before = f.read(offset - max(0, offset - _TAIL_BYTES)).decode("ascii", errors="replace")
        start = next((h for h in map(lambda line: parse_line(keyring, line), reversed(before.splitlines()))
                      if h is not None), None)
        f.seek(offset)
        heads, problems = [], []
        for line in f.read().decode("ascii", errors="replace").splitlines():
            if not line.strip():
                continue
            head = parse_line(keyring, line)
            if head is None:
                problems.append(f"a line of the head file {path} after {since.isoformat()} is not signed with the "
                                "audit key (forged, damaged, or signed with a key this server does not hold)")
            else:
                heads.append(head)
    return start, HeadFile(tuple(heads), tuple(problems), True)


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
