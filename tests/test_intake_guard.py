"""The 12315 rate limits behind a proxy: keyed on the address our own proxies name, never on a client's header."""
from __future__ import annotations

import pytest

from app import create_app
from incidents.plan import DEFAULT_PLAN_FILE, load_plan_file

PER_IP = load_plan_file(DEFAULT_PLAN_FILE).complaints.submit_per_ip.count
PROXY = "127.0.0.1"  # every request reaches the server from the proxy (nginx) in front of it


@pytest.fixture
def make_client(db_url, clock):
    """Build a client of an app trusting the given number of proxy hops."""
    made = []

    def build(hops: int):
        app = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                          "SCHEDULER": "off", "PROXY_HOPS": hops})
        made.append(app)
        return app.test_client()

    yield build
    for app in made:
        app.extensions["yingji"].engine.dispose()


def complaint(n: int) -> dict:
    """A valid complaint from its own phone number, so that only the address limit can bite."""
    return {"kind": "complaint", "name": "张三", "phone": f"139{n:08d}", "business_name": "张记烧烤",
            "business_address": "中牟县城关镇人民路1号", "category": "catering", "demand": "refund",
            "description": "11月19日晚在该店吃烧烤后全家腹泻，要求退款。"}


def submit(client, n: int, forwarded: str):
    """POST a complaint through the proxy, which says who sent it."""
    return client.post("/api/v1/complaints", json=complaint(n),
                       environ_base={"REMOTE_ADDR": PROXY}, headers={"X-Forwarded-For": forwarded})


def test_behind_one_proxy_the_limit_keys_on_the_forwarded_address(make_client):
    client = make_client(1)
    for n in range(PER_IP):
        # What the client itself wrote comes first; the proxy appends the address it saw, which alone counts.
        assert submit(client, n, f"10.0.0.{n}, 203.0.113.7").status_code == 201
    r = submit(client, PER_IP, "203.0.113.7")
    assert r.status_code == 429 and "您所在网络" in r.get_json()["error"]["message"]
    # Another citizen behind the same proxy is not stopped by the first one's count.
    assert submit(client, PER_IP + 1, "203.0.113.8").status_code == 201


def test_without_a_trusted_proxy_a_spoofed_header_is_ignored(make_client):
    client = make_client(0)
    for n in range(PER_IP):
        assert submit(client, n, f"198.51.100.{n}").status_code == 201
    # A new forged address each time changes nothing: the peer address is the key.
    r = submit(client, PER_IP, "198.51.100.250")
    assert r.status_code == 429 and "您所在网络" in r.get_json()["error"]["message"]
