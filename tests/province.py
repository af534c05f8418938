"""Seven bureaus' Yingji as separate processes on 127.0.0.1: a province, two cities, four counties.

Shared by tests/scenarios/test_province_chain.py and bench/province_chain.py.

    河南省市场监督管理局 henan
    ├── 郑州市市场监督管理局 zhengzhou ── 中牟县 zhongmou, 新郑市 xinzheng
    └── 洛阳市市场监督管理局 luoyang ──── 偃师区 yanshi, 孟津区 mengjin

Each bureau has its own database, its own plan (a small YAML file that `extends:` a shipped plan and sets
who the bureau is, its stations and the peers of its yingji recipients), its own Ed25519 key (a file,
PEER_PRIVATE_KEY_FILE), instance folder and log. It is set up with the operator's commands, `flask db
upgrade`, `flask users create … --password-stdin`, `flask peers key` and `flask peers add` (with the other
bureaus' printed keys), then served by `flask --app wsgi serve` with the in-process scheduler, whose
sender looks for due dispatches every DISPATCH_EVERY seconds.

The commands run either as `flask --app wsgi …` child processes (the operator's exact path; each pays
the app's import, seconds on a busy 2-core machine) or in this process through Flask's CLI runner, on an
app built from the same environment mapping (one import for all seven bureaus). The servers are always
separate processes. Children run in their own sessions and are killed by their ids.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import requests
import yaml

from incidents.plan import load_plan_file
from incidents.plan.model import DEFAULT_PLAN_FILE
from notifiers import peer_keys

ROOT = Path(__file__).resolve().parent.parent
PLANS = DEFAULT_PLAN_FILE.parent
TEST_AUDIT_KEY = "chain-audit-key-0123456789abcdef0123456789abcdef"
TEST_PII_KEY = "chain-pii-key-0123456789abcdef0123456789abcdef"
PASSWORD = "Chain-test-2026!"  # satisfies the password policy; given on standard input, never as an argument


@dataclass(frozen=True)
class Spec:
    """One bureau of the topology: who it is, whom it reports to, what reports to it."""

    code: str
    name: str
    tier: str  # county | city | province
    parent: str | None
    government: str  # the government at its own level (its 政府 recipient)
    abbreviation: str  # 机关代字 of its documents
    stations: tuple[tuple[str, str, str], ...] = ()  # (code, name, township government); () keeps the base's


TOPOLOGY: tuple[Spec, ...] = (
    Spec("henan", "河南省市场监督管理局", "province", None, "河南省人民政府", "豫市监"),
    Spec("zhengzhou", "郑州市市场监督管理局", "city", "henan", "郑州市人民政府", "郑市监"),
    Spec("luoyang", "洛阳市市场监督管理局", "city", "henan", "洛阳市人民政府", "洛市监"),
    Spec("zhongmou", "中牟县市场监督管理局", "county", "zhengzhou", "中牟县人民政府", "中市监"),
    Spec("xinzheng", "新郑市市场监督管理局", "county", "zhengzhou", "新郑市人民政府", "新郑市监",
         (("xinhualu", "新华路市场监督管理所", "新华路街道办事处"), ("longhu", "龙湖市场监督管理所", "龙湖镇人民政府"))),
    Spec("yanshi", "洛阳市偃师区市场监督管理局", "county", "luoyang", "洛阳市偃师区人民政府", "偃市监",
         (("shouyangshan", "首阳山市场监督管理所", "首阳山街道办事处"), ("yuetan", "岳滩市场监督管理所", "岳滩镇人民政府"))),
    Spec("mengjin", "洛阳市孟津区市场监督管理局", "county", "luoyang", "洛阳市孟津区人民政府", "孟市监",
         (("huimeng", "会盟市场监督管理所", "会盟镇人民政府"), ("baihe", "白鹤市场监督管理所", "白鹤镇人民政府"))),
)
SPECS = {s.code: s for s in TOPOLOGY}


def children_of(code: str) -> list[Spec]:
    """Return the bureaus that report to this one."""
    return [s for s in TOPOLOGY if s.parent == code]


# --- plans ----------------------------------------------------------------------------------------


def _county_plan(spec: Spec) -> dict:
    parent = SPECS[spec.parent]
    province = SPECS[parent.parent]
    up = [{"code": "county_government", "name": spec.government, "channel": "gov_intranet"},
          {"code": "city_bureau", "name": parent.name, "channel": "yingji", "peer": parent.code}]
    skip = [{"code": "province_bureau", "name": province.name, "channel": "yingji", "peer": province.code}]
    plan = {"extends": str(PLANS / "zhongmou-2021.yaml"),
            "replaces": ["reports.recipients", "reports.skip_level"] + (["stations"] if spec.stations else []),
            "plan": {"id": f"{spec.code}-amr-emergency", "bureau": spec.name, "bureau_code": spec.code},
            "reports": {
                "recipients": {"initial": [{"code": "local_government", "name": "事发地乡镇人民政府", "channel": "phone"},
                                           {"code": "bureau", "name": spec.name, "channel": "internal"}],
                               "bureau": up, "progress": up, "closing": up},
                "skip_level": {"initial": [{"code": "city_bureau", "name": parent.name, "channel": "yingji",
                                            "peer": parent.code}],
                               "bureau": skip, "progress": skip, "closing": skip},
                "documents": {"issuer_mark": spec.name, "abbreviation": spec.abbreviation,
                              "printer": f"{spec.name}办公室"}}}
    if spec.stations:
        plan["stations"] = [{"code": c, "name": n, "government": g} for c, n, g in spec.stations]
    return plan


def _city_plan(spec: Spec) -> dict:
    province = SPECS[spec.parent]
    up = [{"code": "city_government", "name": spec.government, "channel": "gov_intranet"},
          {"code": "province_bureau", "name": province.name, "channel": "yingji", "peer": province.code}]
    return {"extends": str(PLANS / "zhengzhou-city-2021.yaml"),
            "replaces": ["stations", "reports.recipients"],
            "plan": {"id": f"{spec.code}-amr-emergency", "bureau": spec.name, "bureau_code": spec.code},
            "stations": [{"code": c.code, "name": c.name, "government": c.government} for c in children_of(spec.code)],
            "reports": {"recipients": {"initial": [{"code": "bureau", "name": spec.name, "channel": "internal"}],
                                       "bureau": up, "progress": up, "closing": up},
                        "documents": {"issuer_mark": spec.name, "abbreviation": spec.abbreviation,
                                      "printer": f"{spec.name}办公室"}}}


def _province_plan(spec: Spec) -> dict:
    return {"extends": str(PLANS / "henan-province-2021.yaml"), "replaces": ["stations"],
            "plan": {"id": f"{spec.code}-amr-emergency", "bureau": spec.name, "bureau_code": spec.code},
            "stations": [{"code": c.code, "name": c.name, "government": c.government} for c in children_of(spec.code)]}


class _Dumper(yaml.SafeDumper):
    """Write repeated lists out in full (no &id001 anchors): the file is for people to read."""

    def ignore_aliases(self, data) -> bool:
        return True


def write_plan(spec: Spec, folder: Path) -> Path:
    """Write the bureau's plan (extending a shipped one) and check that it loads; return its path."""
    data = {"county": _county_plan, "city": _city_plan, "province": _province_plan}[spec.tier](spec)
    path = folder / f"{spec.code}.yaml"
    path.write_text(f"# {spec.name}: the chain's {spec.tier} bureau (tests/province.py)\n"
                    + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=120))
    plan = load_plan_file(path)
    assert plan.bureau_code == spec.code and plan.bureau == spec.name, path
    return path


# --- the operator's commands ------------------------------------------------------------------------


def flask_command() -> list[str]:
    """Return the `flask` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "flask"
    return [str(script)] if script.exists() else [sys.executable, "-m", "flask"]


class SubprocessCommands:
    """`flask --app wsgi …` as child processes with the bureau's environment (the operator's path)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, args: list[str], stdin: str | None = None) -> str:
        done = subprocess.run([*flask_command(), "--app", "wsgi", *args], cwd=ROOT, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def close(self) -> None:
        pass


class InProcessCommands:
    """The same commands through Flask's CLI runner, on an app built from the same environment mapping."""

    def __init__(self, env: dict[str, str]) -> None:
        from app import create_app
        from app.config import from_environment

        self.app = create_app(from_environment(env))

    def __call__(self, args: list[str], stdin: str | None = None) -> str:
        result = self.app.test_cli_runner().invoke(args=args, input=stdin)
        if result.exit_code != 0:
            raise RuntimeError(f"flask {' '.join(args)} exited {result.exit_code}:\n{result.output}") from result.exception
        return result.output

    def close(self) -> None:
        self.app.extensions["yingji"].engine.dispose()


# --- a bureau's instance -------------------------------------------------------------------------------


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


def free_port(taken: set[int] = frozenset()) -> int:
    """Return a TCP port free on 127.0.0.1 now, outside the kernel's ephemeral range and not in `taken`.

    A bureau's port is chosen long before its server binds it, and bound again after a restart: a port
    of the ephemeral range could meanwhile become the local end of some outgoing connection.
    """
    ephemeral = _ephemeral_ports()
    for port in random.sample(range(20000, 32768), 2000):
        if port in ephemeral or port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32767")


class Api:
    """A user's API client on one bureau (bearer token)."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def _check(self, r: requests.Response, expect: tuple[int, ...]) -> dict:
        if r.status_code not in expect:
            raise AssertionError(f"{r.request.method} {r.url}: HTTP {r.status_code} {r.text[:2000]}")
        return r.json()

    def get(self, path: str) -> dict:
        return self._check(self.http.get(self.base + "/api/v1" + path, timeout=30), (200,))

    def post(self, path: str, body: dict | None = None, expect: tuple[int, ...] = (200, 201)) -> dict:
        return self._check(self.http.post(self.base + "/api/v1" + path, json=body or {}, timeout=60), expect)


@dataclass
class Bureau:
    """One bureau's Yingji: its plan, database, key, folder, port, environment, server process and users."""

    spec: Spec
    folder: Path
    plan_file: Path
    database_url: str
    port: int
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # login -> API token
    key: dict[str, str] = field(default_factory=dict)  # what `flask peers key` printed

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, login: str) -> Api:
        return Api(self.url, self.tokens[login])


def login_of(code: str, role: str) -> str:
    """Return the login name the chain gives a bureau's user of a role."""
    return f"{code}-{role}"


def users_of(spec: Spec) -> list[tuple[str, str | None, str]]:
    """Return the users each bureau gets: (role, unit, name)."""
    out = [("office", "office", f"{spec.name}办公室值班员"), ("leader", None, f"{spec.name}领导")]
    if spec.tier == "county":
        station = spec.stations[0][0] if spec.stations else "chengguan"
        out.append(("station", station, f"{spec.name}{station}所"))
    return out


class Chain:
    """The seven bureaus: plans, set-up by the operator's commands, server processes, logs, clean-up."""

    def __init__(self, folder: Path, database_url: Callable[[Spec, Path], str], *, settings: dict[str, str],
                 commands: str = "inprocess", codes: tuple[str, ...] | None = None) -> None:
        self.folder = folder
        self.commands = {"inprocess": InProcessCommands, "subprocess": SubprocessCommands}[commands]
        self.bureaus: dict[str, Bureau] = {}
        for spec in TOPOLOGY:
            if codes is not None and spec.code not in codes:
                continue
            home = folder / spec.code
            home.mkdir(mode=0o700, parents=True, exist_ok=True)
            key_file = home / "peer_key"
            key_file.write_text(peer_keys.private_key_to_base64(peer_keys.generate_private_key()))
            key_file.chmod(0o600)
            plan_file = write_plan(spec, folder)
            url = database_url(spec, home)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("PEER_", "DISPATCH_", "PLAN_"))}
            env.update({
                "DATABASE_URL": url, "PLAN_FILE": str(plan_file), "YINGJI_INSTANCE": str(home),
                "YINGJI_ENV": "development", "SECRET_KEY": f"chain-{spec.code}-secret",
                "AUDIT_KEY": TEST_AUDIT_KEY, "PII_KEY": TEST_PII_KEY, "AUDIT_HEAD_FILE": str(home / "audit_heads.log"),
                "PEER_PRIVATE_KEY_FILE": str(key_file), "SCHEDULER": "inprocess", "SOCKETIO_MESSAGE_QUEUE": "",
                "TWO_FACTOR_ROLES": "", "PYTHONUNBUFFERED": "1", **settings})
            port = free_port({b.port for b in self.bureaus.values()})
            self.bureaus[spec.code] = Bureau(spec, home, plan_file, url, port, env)

    def __getitem__(self, code: str) -> Bureau:
        return self.bureaus[code]

    # -- set-up ------------------------------------------------------------------------------------

    def set_up(self) -> None:
        """Migrate, create the users, print each bureau's key and register every neighbour with it."""
        runners = {code: self.commands(b.env) for code, b in self.bureaus.items()}
        try:
            for code, b in self.bureaus.items():
                run = runners[code]
                run(["db", "upgrade"])
                for role, unit, name in users_of(b.spec):
                    login = login_of(code, role)
                    args = ["users", "create", "--name", name, "--role", role, "--login", login, "--password-stdin"]
                    out = run(args + (["--department", unit] if unit else []), stdin=PASSWORD + "\n")
                    b.tokens[login] = out.strip().splitlines()[-1]
                b.key = dict(line.split("\t", 1) for line in run(["peers", "key"]).strip().splitlines())
                assert b.key["code"] == code, b.key
            for code, b in self.bureaus.items():
                neighbours = [s.code for s in children_of(code)] + ([b.spec.parent] if b.spec.parent else [])
                for other in neighbours:
                    if other not in self.bureaus:
                        continue
                    o = self.bureaus[other]
                    out = runners[code](["peers", "add", other, "--name", o.spec.name, "--url", o.url,
                                         "--key-id", o.key["key-id"], "--public-key", o.key["public-key"]])
                    # The fingerprint read back to the other bureau is the one it printed.
                    assert o.key["fingerprint"] in out, out
        finally:
            for run in runners.values():
                run.close()

    # -- servers ---------------------------------------------------------------------------------------

    def start(self, code: str) -> None:
        """Start the bureau's `flask serve` on its port, logging to a new file."""
        b = self.bureaus[code]
        log = b.folder / f"serve-{len(b.logs)}.log"
        b.logs.append(log)
        with open(log, "ab") as out:
            b.proc = subprocess.Popen([*flask_command(), "--app", "wsgi", "serve", "--host", "127.0.0.1",
                                       "--port", str(b.port)], cwd=ROOT, env=b.env, stdout=out,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, code: str, timeout: float = 120.0) -> None:
        """Wait until the bureau's server answers HTTP (any status); fail with its log if it exits or stays silent."""
        b = self.bureaus[code]
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if b.proc.poll() is not None:
                raise RuntimeError(f"{code} exited with {b.proc.returncode}\n{self.tail(code)}")
            try:
                requests.get(b.url + "/api/v1/inbox", timeout=5)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"{code} did not answer within {timeout} s\n{self.tail(code)}")

    def serve_all(self) -> None:
        """Start every bureau's server and wait until all answer."""
        for code in self.bureaus:
            self.start(code)
        for code in self.bureaus:
            self.wait_ready(code)

    def kill(self, code: str) -> None:
        """SIGKILL the bureau's server (as a power cut would) by its process group id, and reap it."""
        b = self.bureaus[code]
        if b.proc is None:
            return
        try:
            os.killpg(b.proc.pid, signal.SIGKILL)  # its own session, started with it: only its own processes
        except (ProcessLookupError, PermissionError):
            pass
        try:
            b.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        b.proc = None

    def close(self) -> None:
        """Kill every server still running."""
        for code in self.bureaus:
            self.kill(code)

    def pids(self) -> dict[str, int]:
        """Return the server process id of each running bureau."""
        return {code: b.proc.pid for code, b in self.bureaus.items() if b.proc is not None}

    def tail(self, code: str | None = None, chars: int = 4000) -> str:
        """Return the end of the logs of one bureau (or of all), for a failure's message."""
        out = []
        for c in ([code] if code else list(self.bureaus)):
            for log in self.bureaus[c].logs:
                text = log.read_text(errors="replace") if log.exists() else ""
                out.append(f"--- {c} {log.name}\n{text[-chars:]}")
        return "\n".join(out)


def moment(value: str | None) -> datetime | None:
    """Parse a time the API gave."""
    return datetime.fromisoformat(value) if value else None


def wait_for(what: str, probe: Callable[[], object], *, timeout: float, every: float = 0.2):
    """Poll `probe` until it returns something truthy; return it, or raise TimeoutError naming `what`."""
    end = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() >= end:
            raise TimeoutError(f"waited {timeout} s for {what}")
        time.sleep(every)
