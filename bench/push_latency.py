"""Push latency: from the API call that assigns a task to its arrival on every board.

The servers run as deployed: gunicorn with deploy/gunicorn.conf.py (one worker, threads,
simple-websocket), on a scratch PostgreSQL database, SCHEDULER=off. Boards are
python-socketio clients over WebSocket, all duty officers of food_coord (so all in the room
dept:food_coord), spread over several client processes. Each round POSTs an assignment
for food_coord (POST /api/v1/incidents/<id>/assignments, which commits, numbers the event
in the outbox and pushes it) and waits until every board has it; latency per board is
arrival - the moment before the POST (CLOCK_MONOTONIC is one clock for every process on
Linux). In the same run, alternating round by round, the floor: a bare Flask-SocketIO app
(`bare_app` below, served the same way) whose POST /emit only emits the same message to
the same number of boards. Then both again with two server processes of each joined by
Redis, boards split between them, the POST going to the first; `redis4` is four of each (a
province's boards, issue 17). Each row also prints how much the Yingji servers' memory grew per
board connected. `--stalled N` adds N boards that join and then never read again (a frozen
laptop, a dead link): the boards measured must not wait for them.

    python -m bench.push_latency [--boards 50,200,500] [--rounds 30] [--warmup 3] [--procs 4]
                                 [--layouts single,redis,redis4] [--client light] [--stalled 20]

A province's run: --layouts redis4 --boards 500,2000 --client light --stalled 20
"""
from __future__ import annotations

import argparse
import copy
import http.client
import json
import multiprocessing as mp
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from bench.common import (
    Children,
    app_env,
    banner,
    children_of,
    cpu_seconds,
    free_port,
    machine,
    scratch_database,
    stats,
    tool,
    wait_http,
)

HOST = "127.0.0.1"
NS = "/board"
ROOM = "dept:food_coord"
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
EVENT_TIMEOUT = 10.0  # seconds a round waits for every board before it counts as incomplete
CONNECT_TIMEOUT = 120.0  # seconds for a batch of boards to connect


# --- the floor: a bare Flask-SocketIO app --------------------------------------------------


def bare_app():
    """A Flask-SocketIO app that only broadcasts: every client of /board joins ROOM; POST /emit emits."""
    from flask import Flask, request
    from flask_socketio import SocketIO, join_room

    app = Flask("bare")
    queue_url = os.environ.get("BENCH_BARE_QUEUE") or None
    options = {"async_mode": "threading"}
    if queue_url:
        options.update(message_queue=queue_url, channel=os.environ["BENCH_BARE_CHANNEL"])
    sio = SocketIO(app, **options)

    @sio.on("connect", namespace=NS)
    def connect(auth=None):
        join_room(ROOM)

    @app.post("/emit")
    def emit():
        body = request.get_json()
        message = body["message"]
        message["data"]["assignment"]["id"] = body["id"]
        sio.emit("board", message, to=ROOM, namespace=NS)
        return {"id": body["id"]}, 201

    return app


# --- board processes ---------------------------------------------------------------------------


def _ident(message: dict):
    try:
        return message["data"]["assignment"]["id"]
    except (KeyError, TypeError):
        return None


class LightBoard:
    """A minimal Socket.IO board over wsproto, read by its process's selector loop.

    python-socketio's Client spends about half a millisecond of CPU per message (a thread
    per message, several decodes); 500 of them on this machine's 2 cores measure mostly
    themselves. A browser board has its own machine. This one costs little: it answers
    engine.io pings and timestamps each `board` frame as it is read.
    """

    def __init__(self, url: str, auth: dict | None, on_board) -> None:
        import socket
        from urllib.parse import urlsplit

        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request

        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.on_board = on_board
        self.buffer = ""
        self.connected = False
        # The door wants the token at the handshake (Yingji); the bare floor ignores the header.
        token = (auth or {}).get("token")
        headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
        self.sock.sendall(self.ws.send(Request(host=parts.netloc, target="/socket.io/?EIO=4&transport=websocket",
                                               extra_headers=headers)))
        self._read_until(lambda: self.opened)
        self._send_text(f"40{NS}," + (json.dumps(auth) if auth else ""))
        self._read_until(lambda: self.connected)
        self.sock.setblocking(False)

    opened = False

    def _read_until(self, done) -> None:
        while not done():
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed during the handshake")
            self.feed(data, time.monotonic())

    def _send_text(self, text: str) -> None:
        from wsproto.events import Message

        self.sock.sendall(self.ws.send(Message(data=text)))

    def feed(self, data: bytes, t: float) -> None:
        """Take bytes read from the socket at time t."""
        from wsproto.events import AcceptConnection, CloseConnection, Ping, RejectConnection, TextMessage

        self.ws.receive_data(data)
        for event in self.ws.events():
            if isinstance(event, AcceptConnection):
                continue
            if isinstance(event, TextMessage):
                self.buffer += event.data
                if not event.message_finished:
                    continue
                text, self.buffer = self.buffer, ""
                if text.startswith("0"):
                    self.opened = True
                elif text == "2":
                    self.sock.sendall(self.ws.send(TextMessage(data="3")))
                elif text.startswith(f"40{NS},"):
                    self.connected = True
                elif text.startswith(f"44{NS},"):
                    raise ConnectionError(f"refused: {text}")
                elif text.startswith(f'42{NS},["board",'):
                    self.on_board(json.loads(text[len(NS) + 3:])[1], t)
            elif isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, (CloseConnection, RejectConnection)):
                raise ConnectionError(f"closed: {event}")

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def board_process(index: int, pipe, done, urls: dict, token: str, light: bool) -> None:
    """Hold boards of two kinds (yingji, bare); report when all of a kind have an event; dump arrivals."""
    import selectors

    import socketio

    lock = threading.Lock()
    boards: dict[str, list] = {"yingji": [], "bare": []}
    arrivals: dict[tuple, list] = {}  # (kind, id) -> [(monotonic, server index)]
    selector = selectors.DefaultSelector()
    stop = threading.Event()

    def record(kind: str, server: int, message: dict, t: float) -> None:
        ident = _ident(message)
        if ident is None:
            return
        with lock:
            got = arrivals.setdefault((kind, ident), [])
            got.append((t, server))
            if len(got) == len(boards[kind]):
                done.put((index, kind, ident))

    def handler(kind: str, server: int):
        def on_board(message):
            record(kind, server, message, time.monotonic())
        return on_board

    def loop() -> None:
        while not stop.is_set():
            for key, _mask in selector.select(timeout=0.05):
                t = time.monotonic()
                board = key.data
                try:
                    data = board.sock.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    selector.unregister(board.sock)
                    continue
                board.feed(data, t)

    if light:
        threading.Thread(target=loop, name="boards", daemon=True).start()

    stalled: list = []

    def add_stalled(n: int) -> None:
        """Boards that join and then never read again (a frozen laptop): their server must not wait on them."""
        import socket

        for i in range(n):
            board = LightBoard(urls["yingji"][(index + i) % len(urls["yingji"])], {"token": token},
                               lambda m, t: None)
            board.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.append(board)  # never registered with the selector: nothing is read from it again

    def add(kind: str, n: int) -> None:
        for _ in range(n):
            server = (index + len(boards[kind])) % len(urls[kind])
            auth = {"token": token} if kind == "yingji" else None
            if light:
                board = LightBoard(urls[kind][server],
                                   auth, lambda m, t, kind=kind, server=server: record(kind, server, m, t))
                with lock:
                    boards[kind].append(board)
                selector.register(board.sock, selectors.EVENT_READ, board)
                continue
            client = socketio.Client(reconnection=False)
            client.on("board", handler(kind, server), namespace=NS)
            # The door admits a board whose handshake request carries its token (issue 15), not the auth payload.
            headers = {"Authorization": f"Bearer {token}"} if kind == "yingji" else {}
            client.connect(urls[kind][server], namespaces=[NS], transports=["websocket"], auth=auth, headers=headers,
                           wait_timeout=30)
            with lock:
                boards[kind].append(client)

    while True:
        command, arg = pipe.recv()
        try:
            if command == "add":
                for kind, n in arg.items():
                    add(kind, n)
                pipe.send(("ok", {k: len(v) for k, v in boards.items()}))
            elif command == "stall":
                add_stalled(arg)
                pipe.send(("ok", len(stalled)))
            elif command == "dump":
                with lock:
                    out, arrivals = arrivals, {}
                pipe.send(("ok", out))
            elif command == "quit":
                stop.set()
                for client in boards["yingji"] + boards["bare"] + stalled:
                    try:
                        client.close() if light or isinstance(client, LightBoard) else client.disconnect()
                    except Exception:  # noqa: BLE001 - leaving anyway
                        pass
                pipe.send(("ok", None))
                return
        except Exception as exc:  # noqa: BLE001 - tell the parent, which stops the run
            pipe.send(("error", repr(exc)))


class Fleet:
    """Board processes; every one is killed by its id at the end."""

    def __init__(self, procs: int, urls: dict, token: str, light: bool) -> None:
        ctx = mp.get_context("spawn")
        self.done = ctx.Queue()
        self.pipes = []
        self.procs = []
        for i in range(procs):
            parent, child = ctx.Pipe()
            p = ctx.Process(target=board_process, args=(i, child, self.done, urls, token, light), daemon=True)
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)
        self.count = {"yingji": 0, "bare": 0}

    def _all(self, command, args: list, timeout: float) -> list:
        for pipe, arg in zip(self.pipes, args):
            pipe.send((command, arg))
        out = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise RuntimeError(f"board process did not answer {command} within {timeout} s")
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"board process failed on {command}: {value}")
            out.append(value)
        return out

    def grow(self, total: int) -> None:
        """Connect boards of both kinds until there are `total` of each, spread over the processes."""
        k = len(self.procs)
        args = []
        for i in range(k):
            want = total // k + (1 if i < total % k else 0)
            have = self.count["yingji"] // k + (1 if i < self.count["yingji"] % k else 0)
            args.append({"yingji": want - have, "bare": want - have})
        self._all("add", args, CONNECT_TIMEOUT)
        self.count = {"yingji": total, "bare": total}

    def stall(self, per_process: int) -> None:
        """Add boards that never read (per board process), spread over the Yingji servers."""
        self._all("stall", [per_process] * len(self.procs), CONNECT_TIMEOUT)

    def wait_done(self, kind: str, ident, timeout: float) -> bool:
        """Wait until every process reports that all its boards of this kind have the event."""
        end = time.monotonic() + timeout
        seen = set()
        while len(seen) < len(self.procs):
            try:
                index, got_kind, got_id = self.done.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                return False
            if (got_kind, got_id) == (kind, ident):
                seen.add(index)
        return True

    def dump(self) -> dict:
        merged: dict = {}
        for part in self._all("dump", [None] * len(self.pipes), 60):
            for key, values in part.items():
                merged.setdefault(key, []).extend(values)
        return merged

    def close(self) -> None:
        try:
            self._all("quit", [None] * len(self.pipes), 60)
        except Exception:  # noqa: BLE001 - killed below anyway
            pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()  # by its own id
                p.join(timeout=5)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]


# --- servers and the API -----------------------------------------------------------------------


class Api:
    """Keep-alive HTTP connections to a server; POST JSON and time it."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict) -> tuple[float, float, dict]:
        """Return (monotonic before the request, after the response, the response)."""
        data = json.dumps(body, ensure_ascii=False).encode()
        try:
            t0 = time.monotonic()
            self.conn.request("POST", path, body=data, headers=self.headers)
        except OSError:
            # gunicorn closed the idle keep-alive connection (while boards connected): the
            # request was not sent; open a new connection and send it.
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            t0 = time.monotonic()
            self.conn.request("POST", path, body=data, headers=self.headers)
        r = self.conn.getresponse()
        out = json.loads(r.read())
        t1 = time.monotonic()
        if r.status != 201:
            raise RuntimeError(f"POST {path}: {r.status} {out}")
        return t0, t1, out


def start_gunicorn(children: Children, env: dict, name: str, app_spec: str | None, threads: int):
    port = free_port()
    log = children.workdir / f"{name}.log"
    env = dict(env, YINGJI_BIND=f"{HOST}:{port}", YINGJI_THREADS=str(threads), YINGJI_LOG_LEVEL="warning",
               YINGJI_CONTROL_SOCKET=str(children.workdir / f"{name}.ctl"))
    cmd = tool("gunicorn") + ["-c", "deploy/gunicorn.conf.py"] + ([app_spec] if app_spec else [])
    proc = children.start(cmd, env=env, log=log)
    wait_http(port, proc, "/socket.io/?EIO=4&transport=polling", log=log)
    return port, proc


def seed(url: str) -> dict:
    """Create the office user and the boards' duty officer; return their tokens."""
    from sqlalchemy.orm import Session

    from incidents.kernel.db import make_engine
    from incidents.plan import DEFAULT_PLAN_FILE, load_plan_file
    from incidents.kernel.actors import SystemActor
    from incidents.people.users import create_user

    engine = make_engine(url)
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    tokens = {}
    try:
        with Session(engine) as session:
            now = datetime.now(timezone.utc)
            for key, role, unit in (("office", "office", "office"), ("board", "duty_officer", "food_coord")):
                _user, tokens[key] = create_user(session, plan, name=f"压测{key}", role=role, unit=unit, phone=None,
                                                 password=None, now=now, actor=SystemActor(name="bench"))
            session.commit()
    finally:
        engine.dispose()
    return tokens


@dataclass
class Result:
    layout: str
    boards: int
    yingji: list = field(default_factory=list)  # per board and round, seconds
    bare: list = field(default_factory=list)
    yingji_api: list = field(default_factory=list)  # POST round trip, seconds
    bare_api: list = field(default_factory=list)
    yingji_remote: list = field(default_factory=list)  # boards on the second server (through Redis)
    bare_remote: list = field(default_factory=list)
    incomplete: dict = field(default_factory=lambda: {"yingji": 0, "bare": 0})
    cpu: dict = field(default_factory=dict)
    mem_per_board_kb: float = 0.0


# Web processes of each layout; more than one share the Redis message queue.
LAYOUTS = {"single": 1, "redis": 2, "redis4": 4}


def rss_kb(pids) -> int:
    """Return the resident memory of these processes, in kB (from /proc)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
    return total


def run_layout(layout: str, url: str, children: Children, args) -> list[Result]:
    """Start the servers of a layout, then measure at each number of boards."""
    servers = LAYOUTS[layout]
    tokens = seed(url)
    env = app_env(url, children.workdir)
    channel = f"bench-{secrets.token_hex(5)}"
    if servers > 1:
        env.update(SOCKETIO_MESSAGE_QUEUE=REDIS_URL, SOCKETIO_CHANNEL=f"yingji-{channel}",
                   BENCH_BARE_QUEUE=REDIS_URL, BENCH_BARE_CHANNEL=f"bare-{channel}")
    threads = max(args.boards) + 100
    # Every board of the fleet comes from 127.0.0.1: let the door admit them all.
    env.update(YINGJI_SOCKETS_PER_ADDRESS=str(threads), YINGJI_SOCKETS_MAX=str(threads))
    yingji = [start_gunicorn(children, env, f"{layout}-yingji-{i}", None, threads) for i in range(servers)]
    bare = [start_gunicorn(children, env, f"{layout}-bare-{i}", "bench.push_latency:bare_app()", threads)
            for i in range(servers)]
    server_pids, yingji_pids = [], []
    for _port, proc in yingji + bare:
        server_pids += [proc.pid] + children_of(proc.pid)
    for _port, proc in yingji:
        yingji_pids += [proc.pid] + children_of(proc.pid)

    api = Api(yingji[0][0], tokens["office"])
    floor = Api(bare[0][0])
    _t0, _t1, incident = api.post("/api/v1/incidents", {
        "title": "压测:推送延迟", "category": "food_poisoning",
        "discovered_at": (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(),
        "location": "城关镇某中学食堂", "station": "chengguan", "source": "压测", "nature": "集体性食物中毒",
        "scope": "约20人", "trend": "平稳", "measures_taken": "封存留样食品", "casualties": "无死亡"})
    urls = {"yingji": [f"http://{HOST}:{p}" for p, _ in yingji], "bare": [f"http://{HOST}:{p}" for p, _ in bare]}
    fleet = Fleet(args.procs, urls, tokens["board"], args.client == "light")
    results = []
    template = None
    bare_id = 0
    try:
        if args.stalled:
            fleet.stall(args.stalled // args.procs + 1)
        rss0, had = rss_kb(yingji_pids), 0
        for n in args.boards:
            fleet.grow(n)
            res = Result(layout, n)
            rss1 = rss_kb(yingji_pids)
            res.mem_per_board_kb = (rss1 - rss0) / max(1, n - had)
            rss0, had = rss1, n
            t_api: dict = {}
            api.conn.close()  # fresh keep-alive connections after the (long) connect phase
            floor.conn.close()
            cpu0 = (cpu_seconds(server_pids), cpu_seconds(fleet.pids()))
            for i in range(args.warmup + args.rounds):
                counted = i >= args.warmup
                t0, t1, assignment = api.post(f"/api/v1/incidents/{incident['id']}/assignments",
                                              {"department": "food_coord", "task": f"压测任务 {n}-{i}:核查留样"})
                key = ("yingji", assignment["id"])
                if not fleet.wait_done("yingji", assignment["id"], EVENT_TIMEOUT):
                    res.incomplete["yingji"] += counted
                t_api[key] = (t0, counted)
                if counted:
                    res.yingji_api.append(t1 - t0)
                if template is None:  # the floor sends the very message Yingji sent
                    template = _message_for(yingji[0][0], tokens["board"])
                bare_id += 1
                t0, t1, _ = floor.post("/emit", {"id": bare_id, "message": copy.deepcopy(template)})
                if not fleet.wait_done("bare", bare_id, EVENT_TIMEOUT):
                    res.incomplete["bare"] += counted
                t_api[("bare", bare_id)] = (t0, counted)
                if counted:
                    res.bare_api.append(t1 - t0)
            events = 2 * (args.warmup + args.rounds)
            res.cpu["servers"] = (cpu_seconds(server_pids) - cpu0[0]) / events
            res.cpu["boards"] = (cpu_seconds(fleet.pids()) - cpu0[1]) / events
            for key, arrivals in fleet.dump().items():
                t0, counted = t_api.get(key, (None, False))
                if not counted:
                    continue
                kind = key[0]
                for t, server in arrivals:
                    getattr(res, kind).append(t - t0)
                    if server != 0:  # a board on another process than the one the API call reached
                        getattr(res, f"{kind}_remote").append(t - t0)
            results.append(res)
            print(summary_line(res), flush=True)
    finally:
        fleet.close()
        for _port, proc in yingji + bare:
            children.stop(proc)
    return results


def _message_for(port: int, token: str) -> dict:
    """Return the latest message of ROOM as Yingji sent it (resume over a short-lived board)."""
    import socketio

    client = socketio.Client(reconnection=False)
    client.connect(f"http://{HOST}:{port}", namespaces=[NS], transports=["websocket"], auth={"token": token},
                   headers={"Authorization": f"Bearer {token}"}, wait_timeout=30)
    try:
        messages = client.call("resume", {ROOM: 0}, namespace=NS, timeout=30)
    finally:
        client.disconnect()
    return [m for m in messages if m["event"] == "assignment"][-1]


def ms(values: list, p: str) -> float:
    return getattr(stats(values), p) * 1000


def summary_line(r: Result) -> str:
    y, b = stats(r.yingji), stats(r.bare)
    return (f"{r.layout:<7} {r.boards:>4} boards: yingji p50 {y.p50 * 1000:6.1f} ms p99 {y.p99 * 1000:6.1f} ms "
            f"| bare p50 {b.p50 * 1000:6.1f} ms p99 {b.p99 * 1000:6.1f} ms | ratio p50 {y.p50 / b.p50:4.2f} "
            f"p99 {y.p99 / b.p99:4.2f} | API p50 yingji {ms(r.yingji_api, 'p50'):5.1f} ms bare "
            f"{ms(r.bare_api, 'p50'):5.1f} ms | samples {y.n}/{b.n} | incomplete {r.incomplete} | CPU per event: "
            f"servers {r.cpu['servers'] * 1000:.0f} ms, board processes {r.cpu['boards'] * 1000:.0f} ms | Yingji "
            f"servers' memory per board connected {r.mem_per_board_kb:.0f} kB")


def table(results: list[Result]) -> str:
    """Return the results as a Markdown table."""
    lines = ["| layout | boards | Yingji p50 | Yingji p99 | bare p50 | bare p99 | ratio p50 | ratio p99 | "
             "POST→201 p50 (Yingji / bare) | samples | via Redis p50 / p99 (Yingji / bare) | memory per board |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in results:
        y, b = stats(r.yingji), stats(r.bare)
        remote = "—"
        if r.yingji_remote:
            remote = (f"{ms(r.yingji_remote, 'p50'):.1f} / {ms(r.yingji_remote, 'p99'):.1f} ms; "
                      f"{ms(r.bare_remote, 'p50'):.1f} / {ms(r.bare_remote, 'p99'):.1f} ms")
        servers = LAYOUTS[r.layout]
        name = "1 process" if servers == 1 else f"{servers} processes + Redis"
        lines.append(f"| {name} | {r.boards} | {y.p50 * 1000:.1f} ms | {y.p99 * 1000:.1f} ms | {b.p50 * 1000:.1f} ms "
                     f"| {b.p99 * 1000:.1f} ms | {y.p50 / b.p50:.2f} | {y.p99 / b.p99:.2f} | "
                     f"{ms(r.yingji_api, 'p50'):.1f} / {ms(r.bare_api, 'p50'):.1f} ms | {y.n} | {remote} | "
                     f"{r.mem_per_board_kb:.0f} kB |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.push_latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="50,200,500", help="numbers of boards, ascending (50,200,500)")
    parser.add_argument("--rounds", type=int, default=30, help="measured events per number of boards (30)")
    parser.add_argument("--warmup", type=int, default=3, help="events not counted (3)")
    parser.add_argument("--procs", type=int, default=4, help="board processes (4)")
    parser.add_argument("--layouts", default="single,redis",
                        help="single (1 web process), redis (2 + Redis), redis4 (4 + Redis); comma-separated")
    parser.add_argument("--stalled", type=int, default=0,
                        help="boards that join and never read again, beside the measured ones (0)")
    parser.add_argument("--client", default="python-socketio", choices=("python-socketio", "light"),
                        help="board client: python-socketio's Client, or a minimal wsproto one (python-socketio)")
    args = parser.parse_args(argv)
    args.boards = sorted(int(x) for x in args.boards.split(","))
    layouts = [x for x in args.layouts.split(",") if x]
    results: list[Result] = []
    children = Children()
    try:
        with scratch_database() as url:
            for layout in layouts:
                if layout not in LAYOUTS:
                    parser.error(f"unknown layout {layout}; choose from {', '.join(LAYOUTS)}")
                if LAYOUTS[layout] > 1:
                    _require_redis()
                results += run_layout(layout, url, children, args)
                _reset(url)
    finally:
        children.close()
    banner("push latency: API call (POST assignment) → board, per board and event")
    print(f"machine: {machine()}")
    print(f"boards: {args.client} clients")
    print(f"{args.rounds} measured rounds (+{args.warmup} warm-up) per row, boards in {args.procs} processes; "
          f"ratio = Yingji / bare Flask-SocketIO broadcast of the same message to the same boards"
          + (f"; {args.stalled} more boards joined Yingji and never read again" if args.stalled else ""))
    print(table(results), flush=True)


def _require_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


def _reset(url: str) -> None:
    from bench.common import app_engine
    from sqlalchemy import text

    engine = app_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE board_events, board_rooms, assignments, deadline_events, deadlines, reports, "
                              "level_changes, incidents, users, plan_versions, audit_entries, audit_head "
                              "RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
