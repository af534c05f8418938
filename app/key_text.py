"""The one check of a key read from the environment (the audit chain's, the personal data's)."""
from __future__ import annotations

# Keys shorter than this are refused: 32 characters of random hex are 128 bits.
MIN_KEY_LENGTH = 32


def checked_key(value: str, what: str, error: type) -> bytes:
    """Return a key's bytes, or raise `error(zh, en)` for the example file's placeholder or a short key."""
    if "change-me" in value:
        raise error(f"{what} 仍是 deploy/yingji.env.example 中的占位值，请换成随机密钥（openssl rand -hex 32）",
                    f"{what} is still the placeholder of deploy/yingji.env.example: set a random key "
                    "(openssl rand -hex 32)")
    if len(value) < MIN_KEY_LENGTH:
        raise error(f"{what} 至少需要 {MIN_KEY_LENGTH} 个字符（建议 64 位随机十六进制）",
                    f"{what} must be at least {MIN_KEY_LENGTH} characters (64 random hex digits advised)")
    return value.encode("utf-8")
