"""Sealing complainants' personal data: microseconds to seal and to open one value, AES-256-GCM and SM4-GCM.

A complaint seals four values (name, phone, address, free text) and computes one keyed HMAC on intake,
and opens them whenever staff read it. Pure CPU on this machine's OpenSSL (through `cryptography`).

    python -m bench.pii [--rounds 20000]
"""
from __future__ import annotations

import argparse
import time

from app.pii_keys import keyring_from, sm4_available

VALUES = {"complaints.name": "王秀英", "complaints.phone": "13812345678",
          "complaints.address": "中牟县城关镇青年路8号",
          "complaints.description": "11月19日晚在该店吃烧烤后全家腹泻，要求退款。" * 8}


def per_call(fn, rounds: int) -> float:
    """Return the mean microseconds of one call."""
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds * 1e6


def main(argv: list[str] | None = None) -> None:
    """Print the cost of sealing, opening and blind-indexing one value with each cipher."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args(argv)
    ciphers = ["aes"] + (["sm4"] if sm4_available() else [])
    for cipher in ciphers:
        keyring = keyring_from({"PII_KEY": "b" * 64, "PII_CIPHER": cipher})
        for purpose, value in VALUES.items():
            stored = keyring.seal(purpose, value)
            seal = per_call(lambda: keyring.seal(purpose, value), args.rounds)
            opened = per_call(lambda: keyring.open(purpose, stored), args.rounds)
            print(f"{cipher:4} {purpose:24} {len(value.encode()):5} B  seal {seal:6.1f} µs  open {opened:6.1f} µs")
        blind = per_call(lambda: keyring.blind("complaints.phone", "13812345678"), max(args.rounds // 10, 1))
        print(f"{cipher:4} phone HMAC (blind index)          {blind:6.1f} µs")


if __name__ == "__main__":
    main()
