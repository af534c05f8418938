"""Idle sockets: does a server instance keep serving while N idle WebSockets are open?

The production layout: gunicorn with deploy/gunicorn.conf.py (gthread, YINGJI_THREADS for
HTTP plus one thread per admitted board up to YINGJI_SOCKETS_MAX), PostgreSQL, the Redis
message queue. Three phases, each measuring `GET /login` and an assignment push (the API
call that assigns a task → its arrival on a watching board):
  quiet          nothing else open;
  +N strangers   N WebSocket upgrades without credentials, each kept open by the client
                 (issue 15 item 1 froze an instance with 200 of them);
  +N boards      N authenticated boards joined to /board, idle (answering engine.io pings).
It prints the figures, the worker's threads and memory, and what the door refused. All
clients come from 127.0.0.1, so the per-address cap is raised to N for the run.
`python -m bench.idle_sockets [--sockets 2000] [--rounds 30]`.
"""
from __future__ import annotations

import argparse
import http.client
import selectors
import socket
import threading
import time
from pathlib import Path

from bench.common import Children, app_env, banner, children_of, machine, scratch_database
from bench.push_latency import HOST, REDIS_URL, Api, LightBoard, _ident, _require_redis, seed, start_gunicorn

HTTP_THREADS = 200  # deploy/gunicorn.conf.py's default YINGJI_THREADS
PUSH_TIMEOUT = 10.0


class Boards:
    """Light boards read by one selector thread; the watcher's arrivals are timestamped."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.arrived: dict[int, float] = {}
        self.got = threading.Condition(self.lock)
        self.held: list[LightBoard] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="boards", daemon=True)
        self.thread.start()

    def add(self, url: str, token: str, *, watch: bool = False) -> None:
        board = LightBoard(url, {"token": token}, self._record if watch else (lambda m, t: None))
        with self.lock:
            self.held.append(board)
        self.selector.register(board.sock, selectors.EVENT_READ, board)

    def _record(self, message: dict, t: float) -> None:
        ident = _ident(message)
        if ident is not None:
            with self.got:
                self.arrived[ident] = t
                self.got.notify_all()

    def wait(self, ident: int, timeout: float) -> float | None:
        with self.got:
            self.got.wait_for(lambda: ident in self.arrived, timeout)
            return self.arrived.get(ident)

    def _loop(self) -> None:
        while not self.stop.is_set():
            for key, _mask in self.selector.select(timeout=0.05):
                try:
                    data = key.data.sock.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self.selector.unregister(key.data.sock)
                    continue
                try:
                    key.data.feed(data, time.monotonic())
                except ConnectionError:
                    self.selector.unregister(key.data.sock)

    def alive(self) -> int:
        return len(self.selector.get_map())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for board in self.held:
            board.close()


def stranger(port: int) -> tuple[socket.socket, int]:
    """Open a WebSocket upgrade with no credentials and keep the connection; return it and the status."""
    sock = socket.create_connection((HOST, port), timeout=30)
    sock.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                  "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
    head = sock.recv(4096).decode("latin-1")
    status = int(head.split(" ", 2)[1]) if head.startswith("HTTP/") else 0
    return sock, status


def time_login(port: int) -> float:
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("GET", "/login")
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"GET /login: {r.status}")
    finally:
        conn.close()
    return time.monotonic() - t0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def worker_stats(pid: int) -> str:
    """Return the threads and resident memory of gunicorn's worker (the master's child)."""
    pids = children_of(pid) or [pid]
    fields = {}
    for line in Path(f"/proc/{pids[0]}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return f"{fields.get('Threads', '?')} threads, {fields.get('VmRSS', '?')}"


def measure(name: str, port: int, api: Api, incident_id: int, boards: Boards, rounds: int, extra: str) -> str:
    logins, pushes, lost = [], [], 0
    for i in range(rounds):
        logins.append(time_login(port))
        t0, _t1, assignment = api.post(f"/api/v1/incidents/{incident_id}/assignments",
                                       {"department": "food_coord", "task": f"压测任务 {name}-{i}:核查留样"})
        arrived = boards.wait(assignment["id"], PUSH_TIMEOUT)
        if arrived is None:
            lost += 1
        else:
            pushes.append(arrived - t0)
    push = (f"{pct(pushes, 50):7.1f} {pct(pushes, 95):7.1f} {pct(pushes, 100):7.1f}" if pushes
            else f"{'-':>7} {'-':>7} {'-':>7}")
    return (f"{name:<16} {pct(logins, 50):7.1f} {pct(logins, 95):7.1f} {pct(logins, 100):7.1f}   {push} "
            f"{lost:>5}   {extra}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_sockets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=2000, help="idle strangers, then idle boards (2000)")
    parser.add_argument("--rounds", type=int, default=30, help="GET /login and pushes measured per phase (30)")
    args = parser.parse_args(argv)
    _require_redis()
    children = Children()
    lines: list[str] = []
    strangers: list[socket.socket] = []
    boards = Boards()
    try:
        with scratch_database() as url:
            tokens = seed(url)
            env = app_env(url, children.workdir, SOCKETIO_MESSAGE_QUEUE=REDIS_URL,
                          SOCKETIO_CHANNEL=f"yingji-idle-{time.monotonic_ns()}",
                          YINGJI_SOCKETS_MAX=str(args.sockets + 10),
                          YINGJI_SOCKETS_PER_ADDRESS=str(args.sockets + 10))
            port, proc = start_gunicorn(children, env, "idle", None, HTTP_THREADS)
            base = f"http://{HOST}:{port}"
            api = Api(port, tokens["office"])
            _t0, _t1, incident = api.post("/api/v1/incidents", {
                "title": "压测:空闲连接", "category": "food_poisoning",
                "discovered_at": "2026-12-01T00:00:00+00:00", "location": "城关镇某中学食堂",
                "station": "chengguan", "source": "压测", "nature": "集体性食物中毒", "scope": "约20人",
                "trend": "平稳", "measures_taken": "封存留样食品", "casualties": "无死亡"})
            boards.add(base, tokens["board"], watch=True)
            lines.append(measure("quiet", port, api, incident["id"], boards, args.rounds, worker_stats(proc.pid)))
            print(lines[-1], flush=True)

            t0 = time.monotonic()
            statuses: dict[int, int] = {}
            for _ in range(args.sockets):
                sock, status = stranger(port)
                strangers.append(sock)
                statuses[status] = statuses.get(status, 0) + 1
            took = time.monotonic() - t0
            answered = ", ".join(f"{n}×{s}" for s, n in sorted(statuses.items()))
            lines.append(measure(f"+{args.sockets} strangers", port, api, incident["id"], boards, args.rounds,
                                 f"{worker_stats(proc.pid)}; answered {answered} in {took:.1f} s"))
            print(lines[-1], flush=True)

            t0 = time.monotonic()
            for _ in range(args.sockets):
                boards.add(base, tokens["board"])
            took = time.monotonic() - t0
            lines.append(measure(f"+{args.sockets} boards", port, api, incident["id"], boards, args.rounds,
                                 f"{worker_stats(proc.pid)}; {boards.alive()} boards open, "
                                 f"connected in {took:.1f} s"))
            print(lines[-1], flush=True)
            children.stop(proc)
    finally:
        for sock in strangers:
            sock.close()
        boards.close()
        children.close()
    banner("idle sockets: GET /login and an assignment push (API call → board) while N sockets idle")
    print(f"machine: {machine()}")
    print(f"gunicorn -c deploy/gunicorn.conf.py: gthread, {HTTP_THREADS} HTTP threads + YINGJI_SOCKETS_MAX="
          f"{args.sockets + 10}; PostgreSQL; Redis queue; {args.rounds} rounds per phase")
    print(f"{'phase':<16} {'login p50':>7} {'p95':>7} {'max':>7}   {'push p50':>7} {'p95':>7} {'max':>7} "
          f"{'lost':>5}   worker")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
