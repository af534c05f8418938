"""Post a signed JSON payload to another Yingji instance, and say whether a failure is worth a retry.

Transient (the outbox retries with back-off): connection refused or reset, time-outs, 5xx, 408 and
429 (Retry-After is passed on). Permanent (a person must look): any other 4xx, a redirect, a TLS
certificate that does not verify, a malformed URL, a payload too large to send.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from notifiers.peer_signing import MAX_BODY, canonical_json, sign

log = logging.getLogger("yingji.notify.peer")

DEFAULT_TIMEOUT = 10.0  # seconds to connect, and again to read the answer
TRANSIENT_STATUSES = frozenset({408, 425, 429})


class PeerDeliveryError(Exception):
    """A payload not delivered; `code`, `status` (HTTP, if any) and Chinese + English messages say why."""

    transient = False

    def __init__(self, code: str, message_zh: str, message_en: str, *, status: int | None = None,
                 body: Any = None, retry_after: float | None = None) -> None:
        super().__init__(message_en)
        self.code, self.message_zh, self.message_en = code, message_zh, message_en
        self.status, self.body, self.retry_after = status, body, retry_after


class TransientPeerError(PeerDeliveryError):
    """A failure that a later retry may get past (network, 5xx, 429)."""

    transient = True


class PermanentPeerError(PeerDeliveryError):
    """A failure no retry fixes (refused signature, bad request, wrong URL)."""


def post(url: str, path: str, payload: dict, *, sender: str, recipient: str, key_id: str,
         private_key: Ed25519PrivateKey, timeout: float = DEFAULT_TIMEOUT, now: datetime | None = None,
         session: requests.Session | None = None) -> tuple[int, Any]:
    """POST a payload signed as `sender` to the `recipient` bureau at url + path; answer (status, JSON).

    `url` is the peer's base URL (https://yingji.example.gov.cn, maybe with a path prefix); the
    path under it is signed together with that prefix. Raise TransientPeerError or PermanentPeerError.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not path.startswith("/"):
        raise PermanentPeerError("peer_bad_url", f"对方地址无效：{url}{path}", f"invalid peer URL {url}{path}")
    body = canonical_json(payload)
    if len(body) > MAX_BODY:
        raise PermanentPeerError("peer_body_too_large", "发送内容过大", f"payload of {len(body)} bytes is over {MAX_BODY}")
    target = parts.path.rstrip("/") + path
    headers = sign("POST", target, body, sender=sender, recipient=recipient, key_id=key_id,
                   private_key=private_key, now=now or datetime.now(timezone.utc))
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["Accept"] = "application/json"
    full_url = f"{parts.scheme}://{parts.netloc}{target}"
    http = session or requests
    try:
        response = http.post(full_url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.exceptions.SSLError as exc:
        raise PermanentPeerError("peer_tls", f"与对方的 TLS 连接失败：{exc}", f"TLS to the peer failed: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise TransientPeerError("peer_timeout", f"对方在 {timeout} 秒内未应答", f"no answer within {timeout} s") from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise TransientPeerError("peer_unreachable", "无法连接对方服务器", f"cannot connect to the peer: {exc}") from exc
    except requests.exceptions.RequestException as exc:
        raise PermanentPeerError("peer_request_failed", f"请求无法发出：{exc}", f"the request failed: {exc}") from exc
    answer = _json(response)
    status = response.status_code
    log.info("peer post %s to %s%s: HTTP %s", recipient, parts.netloc, target, status)
    if 200 <= status < 300:
        return status, answer
    peer_code = answer.get("code") if isinstance(answer, dict) else None
    detail = f"HTTP {status}" + (f" {peer_code}" if peer_code else "")
    if status >= 500 or status in TRANSIENT_STATUSES:
        raise TransientPeerError("peer_busy", f"对方暂时无法接收（{detail}）", f"the peer cannot take it now ({detail})",
                                 status=status, body=answer, retry_after=_retry_after(response, now))
    raise PermanentPeerError("peer_refused", f"对方拒收（{detail}）", f"the peer refused it ({detail})",
                             status=status, body=answer)


def _json(response: requests.Response) -> Any:
    """Return the answer's JSON, or None when it has none."""
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after(response: requests.Response, now: datetime | None) -> float | None:
    """Return the seconds a Retry-After header asks to wait (delta-seconds or an HTTP date)."""
    value = (response.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())
