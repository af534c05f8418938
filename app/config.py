"""Settings from the environment, with embedded defaults that need no set-up.

The one place that reads the environment: everything else takes its settings from the app's config.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Callable, Mapping

from incidents.kernel.clock import SystemClock
from incidents.plan import DEFAULT_PLAN_FILE

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("YINGJI_INSTANCE", ROOT / "instance"))
# The SECRET_KEY written in deploy/yingji.env.example: production refuses to start with it.
PLACEHOLDER_SECRET_KEY = "change-me-to-64-random-hex-characters"
PRODUCTION = "production"


def _secret_key() -> str:
    """Use SECRET_KEY from the environment, else a random key kept in the instance folder."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    private_instance()
    path = INSTANCE / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, not even briefly
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def private_instance() -> Path:
    """Create the instance folder (the local demo's key and SQLite file) for its owner only: 0700."""
    INSTANCE.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if INSTANCE.stat().st_mode & 0o077:
            INSTANCE.chmod(0o700)
    except OSError:
        pass  # not ours to change
    return INSTANCE


def _audit_key() -> str:
    """Use AUDIT_KEY from the environment, else a random key kept in the instance folder (never the database)."""
    if os.environ.get("AUDIT_KEY"):
        return os.environ["AUDIT_KEY"]
    return _instance_key("audit_key")


def _pii_key() -> str:
    """Use PII_KEY from the environment, else a random key kept in the instance folder (never the database)."""
    if os.environ.get("PII_KEY"):
        return os.environ["PII_KEY"]
    return _instance_key("pii_key")


def _instance_key(name: str, make: Callable[[], str] = lambda: secrets.token_hex(32)) -> str:
    """Return the local demo's key kept in the instance folder under name, generated (0600) the first time."""
    path = INSTANCE / name
    if not path.exists():
        private_instance()
        # Written whole under a temporary name, 0600 from the start, then linked into place: two
        # processes starting at once never read a half-written key or end up with two keys.
        temporary = INSTANCE / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            temporary.unlink()
    return path.read_text().strip()


def from_environment(environ: Mapping[str, str] | None = None) -> dict:
    """Read the settings from the environment (or the mapping given); every one has an embedded default."""
    env = (os.environ if environ is None else environ).get
    return {
        # production: refuse insecure settings at start-up (app/security.py). Anything else is the
        # embedded local demo, which says so on every staff page.
        "YINGJI_ENV": (env("YINGJI_ENV") or "development").strip().lower(),
        # Only what the environment says; create_app generates a key for the local demo alone.
        "SECRET_KEY": env("SECRET_KEY") or None,
        "DATABASE_URL": env("DATABASE_URL") or f"sqlite:///{INSTANCE / 'yingji.db'}",
        "PLAN_FILE": env("PLAN_FILE", str(DEFAULT_PLAN_FILE)),
        # inprocess: the web process runs the clocks; off: a `flask scheduler` process does.
        "SCHEDULER": env("SCHEDULER", "inprocess"),
        # Firing lag is spread evenly over the interval: 0.5 s keeps p99 well under a second.
        "SCHEDULER_INTERVAL": float(env("SCHEDULER_INTERVAL", "0.5")),
        "SCHEDULER_BATCH": int(env("SCHEDULER_BATCH", "500")),
        # Messages handed to the SMS/voice provider at once (each waits on an HTTP answer).
        "ESCALATION_WORKERS": int(env("ESCALATION_WORKERS", "32")),
        # None: boards are pushed in-process (one server process). redis://...: several server
        # processes, and the `flask scheduler` process, share one Redis channel.
        "SOCKETIO_MESSAGE_QUEUE": env("SOCKETIO_MESSAGE_QUEUE") or None,
        # Redis pub/sub channels ignore the database number: two deployments (or test runs)
        # on one Redis need different channels.
        "SOCKETIO_CHANNEL": env("SOCKETIO_CHANNEL", "yingji-board"),
        # SMS and voice senders (notifiers/registry.py): "console" logs, "twilio" sends, or
        # "package.module:Class" for another provider. Twilio credentials come from here only.
        "SMS_BACKEND": env("SMS_BACKEND", "console"),
        "VOICE_BACKEND": env("VOICE_BACKEND", "console"),
        "TWILIO_ACCOUNT_SID": env("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": env("TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM_NUMBER": env("TWILIO_FROM_NUMBER"),
        "TWILIO_API_BASE": env("TWILIO_API_BASE"),  # default: Twilio's own; a compatible gateway otherwise
        "TWILIO_TIMEOUT": env("TWILIO_TIMEOUT"),  # seconds per request; default notifiers.twilio.DEFAULT_TIMEOUT
        # Where Twilio reaches this server (https://yingji.example.gov.cn): the status and
        # keypress webhooks are derived from it, and webhook signatures are checked against it.
        "PUBLIC_BASE_URL": env("PUBLIC_BASE_URL"),
        "TWILIO_STATUS_CALLBACK": env("TWILIO_STATUS_CALLBACK"),
        "TWILIO_VOICE_ACTION": env("TWILIO_VOICE_ACTION"),
        # 12315 verification before a complaint counts toward surges: "sms" (a code to the phone through
        # the SMS sender), "captcha" (image and audio captcha on the public form), or empty: captcha in
        # production with the console SMS sender (no provider), sms otherwise. Codes sent per phone and
        # per client address per hour.
        "INTAKE_VERIFICATION": (env("INTAKE_VERIFICATION") or "").strip().lower(),
        "INTAKE_SMS_PER_PHONE": int(env("INTAKE_SMS_PER_PHONE") or 5),
        "INTAKE_SMS_PER_ADDRESS": int(env("INTAKE_SMS_PER_ADDRESS") or 20),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env("SESSION_COOKIE_SECURE", "0") == "1",
        # Two instances on one host (the county and city demo) need two cookie names: cookies ignore ports.
        "SESSION_COOKIE_NAME": env("SESSION_COOKIE_NAME") or "session",
        # Login lockout (counted in the database, so every process sees it): this many failures of
        # one login name within the window lock it for LOGIN_LOCKOUT_MINUTES, doubled for each
        # lockout of the last 24 hours (at most 24 hours); the same for a client address.
        "LOGIN_MAX_FAILURES": int(env("LOGIN_MAX_FAILURES") or 5),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(env("LOGIN_FAILURE_WINDOW_MINUTES") or 15),
        "LOGIN_LOCKOUT_MINUTES": int(env("LOGIN_LOCKOUT_MINUTES") or 15),
        "LOGIN_MAX_FAILURES_PER_ADDRESS": int(env("LOGIN_MAX_FAILURES_PER_ADDRESS") or 20),
        # Login sessions (server-side): ended after this long without a request, and this long after login.
        "SESSION_IDLE_MINUTES": int(env("SESSION_IDLE_MINUTES") or 30),
        "SESSION_LIFETIME_HOURS": float(env("SESSION_LIFETIME_HOURS") or 12),
        # The daily retention purge (app/jobs/retention.py, `flask security purge`): days kept of login
        # attempts (never less than the lockout still reads: its window and its 24-hour memory), of login
        # sessions after they ended or timed out, and of the ids of provider webhooks acted on (a replayed
        # signed webhook is refused by its id alone: keep them far longer than any alert stays open; never
        # less than 90). Rows deleted per statement: a backlog goes in short transactions.
        "RETENTION_LOGIN_ATTEMPTS_DAYS": int(env("RETENTION_LOGIN_ATTEMPTS_DAYS") or 30),
        "RETENTION_LOGIN_SESSIONS_DAYS": int(env("RETENTION_LOGIN_SESSIONS_DAYS") or 30),
        "RETENTION_WEBHOOK_RECEIPTS_DAYS": int(env("RETENTION_WEBHOOK_RECEIPTS_DAYS") or 400),
        "RETENTION_BOARD_EVENTS_DAYS": int(env("RETENTION_BOARD_EVENTS_DAYS") or 7),
        "RETENTION_BRIEFING_PDF_DAYS": int(env("RETENTION_BRIEFING_PDF_DAYS") or 180),
        "RETENTION_BATCH": int(env("RETENTION_BATCH") or 1000),
        # Password policy: length, character classes (of 4), no reuse of the last N, days until a change
        # is due (0: never).
        "PASSWORD_MIN_LENGTH": int(env("PASSWORD_MIN_LENGTH") or 12),
        "PASSWORD_MIN_CLASSES": int(env("PASSWORD_MIN_CLASSES") or 3),
        "PASSWORD_HISTORY": int(env("PASSWORD_HISTORY") or 5),
        "PASSWORD_MAX_AGE_DAYS": int(env("PASSWORD_MAX_AGE_DAYS") or 90),
        # The second factor (app/two_factor.py): these roles must enrol one (TOTP or SMS) before their
        # first session opens; any user who enrolled one is asked for it at every login. Empty: nobody
        # is forced (the local demo's users are never forced outside production, see app/auth.py).
        "TWO_FACTOR_ROLES": env("TWO_FACTOR_ROLES", "leader,commander,office,admin,sysadmin,secadmin,auditor"),
        "TWO_FACTOR_ISSUER": env("TWO_FACTOR_ISSUER") or "应急指挥",
        # The key TOTP secrets are sealed with (AES-256-GCM). Empty: derived from SECRET_KEY, so changing
        # SECRET_KEY then needs `flask users reset-2fa` for every TOTP user; set it to rotate them apart.
        "TWO_FACTOR_KEY": env("TWO_FACTOR_KEY") or None,
        # Minutes an SMS code lives; minutes between the password and the second step.
        "TWO_FACTOR_SMS_MINUTES": int(env("TWO_FACTOR_SMS_MINUTES") or 5),
        "TWO_FACTOR_STEP_MINUTES": int(env("TWO_FACTOR_STEP_MINUTES") or 5),
        "JSON_AS_ASCII": False,
        # Seconds a PDF request waits for its briefing before answering 202, and the threads per
        # server process that render briefings (app/api/reports.py). Empty means the default.
        "REPORTS_WAIT": float(env("REPORTS_WAIT") or 10.0),
        "REPORTS_WORKERS": int(env("REPORTS_WORKERS") or 2),
        # E-mail of documents (notifiers/mail.py): empty SMTP_HOST means no e-mail. SMTP_SECURITY is
        # starttls (default, port 587), ssl (implicit TLS, 465) or none (25, a trusted relay only);
        # SMTP_PORT overrides the port. MAIL_FROM is an address or "显示名 <address>"; MAIL_FROM_NAME,
        # if set, is the Chinese display name. SMTP_CA_FILE: a private CA (PEM) the server's
        # certificate is checked against instead of the system's. SMTP_TIMEOUT: seconds per step.
        "SMTP_HOST": env("SMTP_HOST") or None,
        "SMTP_PORT": int(env("SMTP_PORT")) if env("SMTP_PORT") else None,
        "SMTP_USER": env("SMTP_USER") or None,
        "SMTP_PASSWORD": env("SMTP_PASSWORD") or None,
        "SMTP_SECURITY": (env("SMTP_SECURITY") or "starttls").strip().lower(),
        "SMTP_TIMEOUT": float(env("SMTP_TIMEOUT") or 30.0),
        "SMTP_CA_FILE": env("SMTP_CA_FILE") or None,
        "MAIL_FROM": env("MAIL_FROM") or None,
        "MAIL_FROM_NAME": env("MAIL_FROM_NAME") or None,
        # Bureau to bureau (app/peering.py): this instance's Ed25519 signing key, as PEM or base64 in
        # PEER_PRIVATE_KEY or in the file PEER_PRIVATE_KEY_FILE (the local demo generates one in the
        # instance folder); PEER_KEY_ID names it (default from its fingerprint). DISPATCH_EVERY: seconds
        # between the sender's looks at what is due for other bureaus and e-mail. A transient failure is
        # retried DISPATCH_RETRY_FIRST seconds later, the wait doubling up to DISPATCH_RETRY_MAX. DISPATCH_WAKE
        # (default 1): the in-process scheduler's sender is woken by the commit that queued something
        # (a report signed off, a 签收) instead of waiting for its next look; 0 turns that off.
        "PEER_PRIVATE_KEY": env("PEER_PRIVATE_KEY") or None,
        "PEER_PRIVATE_KEY_FILE": env("PEER_PRIVATE_KEY_FILE") or None,
        "PEER_KEY_ID": env("PEER_KEY_ID") or None,
        "DISPATCH_EVERY": float(env("DISPATCH_EVERY") or 1.0),
        "DISPATCH_RETRY_FIRST": float(env("DISPATCH_RETRY_FIRST") or 5.0),
        "DISPATCH_RETRY_MAX": float(env("DISPATCH_RETRY_MAX") or 600.0),
        "DISPATCH_WAKE": (env("DISPATCH_WAKE") or "1").strip() != "0",
        # Flask's default is no limit; a request body over this gets 413.
        "MAX_CONTENT_LENGTH": int(env("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        # How many trusted proxies (nginx) stand in front: ProxyFix then takes the client address
        # (and so the 12315 rate limits' key) that many entries from the right of X-Forwarded-For.
        # 0: the peer address, and X-Forwarded-For is ignored.
        "PROXY_HOPS": int(env("YINGJI_PROXY_HOPS", "0")),
        # The audit chain's HMAC: the key (AUDIT_KEY; default a generated file in the instance folder,
        # see audit_key()), the algorithm (sha256, or sm3 for GB/T 39786), and retired keys
        # (comma-separated) that older entries were chained with.
        "AUDIT_KEY": env("AUDIT_KEY") or None,
        "AUDIT_HMAC": env("AUDIT_HMAC", "sha256"),
        "AUDIT_RETIRED_KEYS": env("AUDIT_RETIRED_KEYS", ""),
        # The signed chain heads are appended here, out of the database account's reach
        # (production: a file with `chattr +a`, or a path shipped to another host).
        "AUDIT_HEAD_FILE": env("AUDIT_HEAD_FILE", str(INSTANCE / "audit_heads.log")),
        "AUDIT_EXPORT_EVERY": float(env("AUDIT_EXPORT_EVERY") or 60),
        # How writers reach the chain: "batched" (a writer that finds the chain's head busy leaves its
        # entries in the audit inbox, sealed by the next writer or the scheduler within a second) or
        # "inline" (every audited writer waits its turn on the head's row lock, as before 0022).
        "AUDIT_SEALING": env("AUDIT_SEALING", "batched").strip().lower(),
        # How often the scheduler seals what waits in the inbox (seconds).
        "AUDIT_SEAL_EVERY": float(env("AUDIT_SEAL_EVERY") or 0.5),
        # Complainants' personal data at rest (app/pii_keys.py): the key (PII_KEY; default a generated
        # file in the instance folder, see pii_key(); production refuses to start without one), the
        # cipher (aes: AES-256-GCM, or sm4: SM4-GCM for GB/T 39786), and retired keys (comma-separated)
        # that older values were sealed with, until `flask pii rotate-key` has sealed them again.
        "PII_KEY": env("PII_KEY") or None,
        "PII_CIPHER": env("PII_CIPHER", "aes"),
        "PII_RETIRED_KEYS": env("PII_RETIRED_KEYS", ""),
        # The boards' door (app/board/socket.py): a WebSocket is admitted only with a login session or
        # an API token at its handshake, and must join /board within SOCKET_JOIN_SECONDS. At most
        # SOCKETS_MAX sockets per server process (each holds one of gunicorn's threads: the config
        # gives it YINGJI_THREADS more for HTTP) and SOCKETS_PER_ADDRESS per client address.
        "SOCKETS_MAX": int(env("YINGJI_SOCKETS_MAX", "2000")),
        "SOCKETS_PER_ADDRESS": int(env("YINGJI_SOCKETS_PER_ADDRESS", "100")),
        "SOCKET_JOIN_SECONDS": float(env("YINGJI_SOCKET_JOIN_SECONDS", "5")),
        # How often each process checks that its open boards' login sessions (or tokens) still admit
        # them: a logout, timeout, password change or deactivation closes the boards within this.
        "SOCKET_RECHECK_SECONDS": float(env("YINGJI_SOCKET_RECHECK_SECONDS", "5")),
        "CLOCK": SystemClock(),
    }


def secret_key() -> str:
    """Return the key that signs browser sessions."""
    return _secret_key()


def audit_key() -> str:
    """Return the key that chains the audit trail."""
    return _audit_key()


def pii_key() -> str:
    """Return the key that seals complainants' personal data."""
    return _pii_key()


def instance_secret(name: str, make: Callable[[], str]) -> str:
    """Return a secret the local demo keeps in the instance folder (0600), made by `make` the first time."""
    return _instance_key(name, make)
