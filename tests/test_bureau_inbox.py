"""A county bureau's report reaches the city bureau's Yingji, signed, and the city's 签收 comes back.

On SQLite and PostgreSQL, the county is the test's app and the city a second app on its own database
and plan, served over real HTTP on 127.0.0.1. The county's sender signs with its Ed25519 key; the
city's inbox refuses what is unsigned, signed by an unknown key, tampered, replayed or meant for
another bureau, and changes nothing then. A report that arrives opens the city's own incident, whose
30 minutes start at the arrival; the city office's 签收 travels back as the recipient's receipt.
"""
from __future__ import annotations

import base64
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from app import peering
from app.jobs.sending import forget_nonces
from incidents.models import Dispatch, InboundReport, Incident, PeerNonce
from notifiers import peer_client, peer_keys, peer_signing
from tests.bureaus import bureaus, city, send, user  # noqa: F401 - bureaus and city are fixtures
from tests.helpers import by_kind, incident_payload, iso
from tests.test_api_errors import assert_error
from tests.test_reports_api import ok


def count(application, model) -> int:
    with application.extensions["yingji"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def bureau_report(users, clock) -> tuple[int, dict]:
    """A county incident and its bureau report, signed off by the leadership."""
    r = ok(users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now()),
                                                                           level="II")), 201)
    iid = r.get_json()["id"]
    clock.advance(minutes=10)
    report = ok(users["leader"].post(f"/api/v1/incidents/{iid}/reports",
                                     json={"kind": "bureau", "body": "已初步核实，20名师生就医"}), 201).get_json()["report"]
    return iid, report


def test_the_city_gets_the_report_opens_its_own_incident_and_its_receipt_comes_back(bureaus, users, clock):
    county, city, _server = bureaus
    iid, report = bureau_report(users, clock)
    clock.advance(seconds=30)
    assert send(county) == 1
    mine = ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()
    sent = {r["code"]: r for r in next(x for x in mine["reports"] if x["id"] == report["id"])["recipients"]}
    assert sent["city_bureau"]["channel"] == "yingji" and sent["city_bureau"]["delivered_at"] == iso(clock.now())
    assert sent["city_bureau"]["dispatch"]["status"] == "sent" and sent["city_bureau"]["remote_ref"]
    # The county government's delivery is still to be recorded: the 30 minutes wait for both.
    assert by_kind(mine["deadlines"])["bureau_report"]["status"] == "pending"

    office = user(city, "office", "office")
    inbound = ok(office.get("/api/v1/inbox?pending=1")).get_json()["inbound"]
    assert len(inbound) == 1 and inbound[0]["sender"] == "zhongmou" and inbound[0]["kind"] == "bureau"
    assert inbound[0]["document_number"] == report["document"]["number"]
    assert inbound[0]["sender_incident_number"] == mine["number"] and inbound[0]["sha256"]
    # The city's incident: registered as the city learned it, the county in the place of a station, its
    # first report met on arrival and the city's own 30 minutes running from then.
    theirs = ok(office.get(f"/api/v1/incidents/{inbound[0]['incident_id']}")).get_json()
    assert theirs["station"] == "zhongmou" and theirs["level"] == "II"
    assert theirs["linked_from"] == {"peer": "zhongmou", "peer_name": "中牟县市场监督管理局", "remote_number": mine["number"]}
    assert [r["document_number"] for r in theirs["inbound"]] == [report["document"]["number"]]
    clocks = by_kind(theirs["deadlines"])
    assert clocks["initial_report"]["status"] == "met"
    assert clocks["bureau_report"]["starts_at"] == iso(clock.now())
    assert clocks["bureau_report"]["name"] == "市局向市政府和省局报告"

    clock.advance(minutes=2)
    signed = ok(office.post(f"/api/v1/inbox/{inbound[0]['id']}/sign-for", json={})).get_json()["inbound"]
    assert signed["signed_for"] is True
    assert_error(office.post(f"/api/v1/inbox/{inbound[0]['id']}/sign-for", json={}), 409, "already_signed_for")
    assert send(city) == 1
    mine = ok(users["leader"].get(f"/api/v1/incidents/{iid}")).get_json()
    sent = {r["code"]: r for r in next(x for x in mine["reports"] if x["id"] == report["id"])["recipients"]}
    assert sent["city_bureau"]["receipt_at"] == iso(clock.now()) and sent["city_bureau"]["receipt_by"] == "office-office"


def test_a_report_sent_twice_is_kept_once(bureaus, users, clock):
    county, city, server = bureaus
    bureau_report(users, clock)
    with county.extensions["yingji"].sessions() as session:
        row = session.scalar(select(Dispatch))
        payload = row.payload
    assert send(county) == 1
    # The same report again (a retry after a lost answer): accepted, not stored twice.
    me = peering.identity(county)
    status, answer = peer_client.post(server.url, "/api/v1/inbox/reports", {"payload": payload, "pdf": None},
                                      sender=me.code, recipient="zhengzhou", key_id=me.key_id,
                                      private_key=me.private_key, now=county.extensions["yingji"].clock.now())
    assert status == 200 and answer["duplicate"] is True
    assert count(city, InboundReport) == 1 and count(city, Incident) == 1


def test_the_same_report_arriving_eight_times_at_once_is_kept_once_and_nobody_gets_an_error(bureaus, users, clock):
    county, city, server = bureaus
    bureau_report(users, clock)
    with county.extensions["yingji"].sessions() as session:
        payload = session.scalar(select(Dispatch)).payload
    me = peering.identity(county)
    start = threading.Barrier(8)

    def deliver() -> int:
        start.wait(10)  # every request signed (its own nonce) and sent at the same moment
        status, _answer = peer_client.post(server.url, "/api/v1/inbox/reports", {"payload": payload, "pdf": None},
                                           sender=me.code, recipient="zhengzhou", key_id=me.key_id,
                                           private_key=me.private_key, now=city.extensions["yingji"].clock.now())
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: deliver(), range(8)))
    assert statuses == [200] * 7 + [201]
    assert count(city, InboundReport) == 1 and count(city, Incident) == 1


def signed_post(city_app, body: dict, *, key=None, key_id=None, sender="zhongmou", recipient="zhengzhou",
                tamper: bytes | None = None, headers_only: bool = False):
    """POST to the city's inbox through its test client, signed as the county would (or not quite)."""
    clock = city_app.extensions["yingji"].clock
    raw = peer_signing.canonical_json(body)
    headers = peer_signing.sign("POST", "/api/v1/inbox/reports", raw, sender=sender, recipient=recipient,
                                key_id=key_id, private_key=key, now=clock.now())
    return city_app.test_client().post("/api/v1/inbox/reports", data=tamper if tamper is not None else raw,
                                       headers={**headers, "Content-Type": "application/json"})


def test_unsigned_wrong_key_tampered_replayed_and_misaddressed_requests_are_refused_and_change_nothing(
        bureaus, users, clock):
    county, city, _server = bureaus
    bureau_report(users, clock)
    with county.extensions["yingji"].sessions() as session:
        payload = session.scalar(select(Dispatch)).payload
    me = peering.identity(county)
    body = {"payload": payload, "pdf": None}
    # Unsigned.
    r = city.test_client().post("/api/v1/inbox/reports", json=body)
    assert_error(r, 401, "peer_unsigned")
    # Signed by a key the city never registered for the county.
    stranger = peer_keys.generate_private_key()
    assert_error(signed_post(city, body, key=stranger, key_id=me.key_id), 401, "peer_bad_signature")
    assert_error(signed_post(city, body, key=stranger, key_id="ed25519-ffff"), 401, "peer_unknown_key")
    # A bureau the city does not know.
    assert_error(signed_post(city, body, key=stranger, key_id="k", sender="luoyang"), 401, "peer_unknown_sender")
    # Tampered after signing.
    raw = peer_signing.canonical_json(body).replace("已初步核实".encode(), "已全部核实".encode())
    assert_error(signed_post(city, body, key=me.private_key, key_id=me.key_id, tamper=raw), 401,
                 "peer_digest_mismatch")
    # Meant for another bureau.
    assert_error(signed_post(city, body, key=me.private_key, key_id=me.key_id, recipient="henan"), 421,
                 "peer_wrong_recipient")
    # Signed too long ago.
    clock_now = city.extensions["yingji"].clock.now()
    headers = peer_signing.sign("POST", "/api/v1/inbox/reports", peer_signing.canonical_json(body), sender="zhongmou",
                                recipient="zhengzhou", key_id=me.key_id, private_key=me.private_key,
                                now=clock_now.replace(year=clock_now.year - 1))
    r = city.test_client().post("/api/v1/inbox/reports", data=peer_signing.canonical_json(body),
                                headers={**headers, "Content-Type": "application/json"})
    assert_error(r, 401, "peer_stale_timestamp")
    assert count(city, InboundReport) == 0 and count(city, Incident) == 0
    # The good one, then the very same request replayed.
    raw = peer_signing.canonical_json(body)
    headers = peer_signing.sign("POST", "/api/v1/inbox/reports", raw, sender="zhongmou", recipient="zhengzhou",
                                key_id=me.key_id, private_key=me.private_key, now=clock_now)
    client = city.test_client()
    assert client.post("/api/v1/inbox/reports", data=raw, headers={**headers, "Content-Type": "application/json"}
                       ).status_code == 201
    r = client.post("/api/v1/inbox/reports", data=raw, headers={**headers, "Content-Type": "application/json"})
    assert_error(r, 401, "peer_replayed_nonce")
    assert count(city, InboundReport) == 1 and count(city, Incident) == 1


def test_a_city_that_is_down_gets_the_report_when_it_is_back_and_only_once(bureaus, users, clock):
    county, city, server = bureaus
    iid, report = bureau_report(users, clock)
    server.stop()
    assert send(county) == 0
    with county.extensions["yingji"].sessions() as session:
        row = session.scalar(select(Dispatch))
        assert row.status == "queued" and row.attempts == 1 and row.last_error
        retry_at = row.next_attempt_at
    assert retry_at > clock.now()
    server.start()
    # Not before its back-off.
    assert send(county) == 0
    clock.advance(seconds=(retry_at - clock.now()).total_seconds())
    assert send(county) == 1
    assert send(county) == 0
    assert count(city, InboundReport) == 1


def test_the_pdf_that_arrives_is_the_one_that_was_sent(bureaus, users, clock):
    county, city, _server = bureaus
    _iid, report = bureau_report(users, clock)
    assert send(county) == 1
    pdf = county.test_client().get(f"/api/v1/reports/{report['id']}/document.pdf",
                                    headers={"Authorization": f"Bearer {users['leader'].token}"})
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    office = user(city, "office", "office")
    inbound = ok(office.get("/api/v1/inbox")).get_json()["inbound"][0]
    got = office.get(f"/api/v1/inbox/{inbound['id']}/document.pdf")
    assert got.status_code == 200 and got.data == pdf.data
    assert base64.b16encode(__import__("hashlib").sha256(got.data).digest()).decode().lower() == inbound["sha256"]


def test_nonces_are_forgotten_once_their_requests_would_be_refused_anyway(bureaus, users, clock):
    county, city, _server = bureaus
    bureau_report(users, clock)
    assert send(county) == 1
    assert count(city, PeerNonce) == 1
    clock.advance(minutes=9)
    assert forget_nonces(city) == 0 and count(city, PeerNonce) == 1
    clock.advance(minutes=2)
    assert forget_nonces(city) == 1 and count(city, PeerNonce) == 0


def test_the_citys_incident_follows_the_countys_regrade_until_the_city_grades_it_itself(bureaus, users, clock):
    county, city, _server = bureaus
    iid, _report = bureau_report(users, clock)
    assert send(county) == 1
    office = user(city, "office", "office")
    theirs = ok(office.get("/api/v1/inbox")).get_json()["inbound"][0]["incident_id"]
    # The county re-grades Ⅱ → Ⅰ and reports again: the city's incident follows, saying why.
    ok(users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": "I", "reason": "死亡1人"}))
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/reports", json={"kind": "bureau", "body": "升级为Ⅰ级"}), 201)
    assert send(county) == 1
    got = ok(office.get(f"/api/v1/incidents/{theirs}")).get_json()
    assert got["level"] == "I" and "续报" in got["level_changes"][-1]["reason"] and got["level_changes"][-1]["by"] is None
    # The city grades it itself: from then on the county's level is shown, not followed.
    ok(office.post(f"/api/v1/incidents/{theirs}/level", json={"level": "II", "reason": "市局研判为Ⅱ级"}))
    ok(users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": "II", "reason": "核实"}))
    ok(users["office"].post(f"/api/v1/incidents/{iid}/level", json={"level": "I", "reason": "再次核实"}))
    ok(users["leader"].post(f"/api/v1/incidents/{iid}/reports", json={"kind": "bureau", "body": "仍为Ⅰ级"}), 201)
    assert send(county) == 1
    got = ok(office.get(f"/api/v1/incidents/{theirs}")).get_json()
    assert got["level"] == "II" and len(got["inbound"]) == 3
    assert count(city, Incident) == 1
