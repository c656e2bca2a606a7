"""Load test of the web application: concurrent clients screening, randomising, recording.

``--clients`` (default 50) asyncio clients (httpx) work at once against
``resolve serve`` started as a subprocess on a free loopback port (plain HTTP,
``--insecure-cookies``: loopback only). Each client is its own enroller account:
it gets an API token and a page session, then for each of its participants
screens, consents, randomises, records the baseline pain score and lists the
participants, and loads the dashboard. Requests go only to 127.0.0.1 and their
number is bounded (clients x participants x steps); every request has a
timeout.

Afterwards the store is checked: every randomisation answered 200 has exactly
one allocation, there is no allocation without one, the allocation positions of
each stratum run 1..n with no gap or duplicate, and the audit trail verifies.

Each step uses the JSON API where the OpenAPI document has a route for it and
the server-rendered form otherwise (session cookie + CSRF token); the report
names which.

    .venv/bin/python benchmarks/bench_web_load.py                 # SQLite
    .venv/bin/python benchmarks/bench_web_load.py --db postgresql+psycopg://USER:PW@localhost/ADMIN_DB

With ``--db`` a PostgreSQL *admin* URL (a role that may create databases), a
fresh database is created for the run and dropped afterwards. Target on the
2-core reference machine: p95 < 200 ms per operation at 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TARGET_P95_MS = 200.0
REQUEST_TIMEOUT_S = 120.0
ADMIN = "admin"
PASSWORD = "load-test-password-1"
#: Operations of the sign-in phase (argon2 password checks: deliberately slow).
SIGN_IN_PAGE = "dashboard (page, sign-in)"
SIGN_IN = ("token (API)", "sign in (page)", SIGN_IN_PAGE)
#: The store checks that must come out empty.
PROBLEMS = (
    "duplicate allocations",
    "missing allocations",
    "allocations without a 200",
    "position gaps or repeats",
    "audit problem",
)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# ----------------------------------------------------------------------------- results
@dataclass
class Results:
    """Latencies per operation, errors, and what the store says afterwards."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    randomised: list[str] = field(default_factory=list)
    routes: dict[str, str] = field(default_factory=dict)
    wall_s: float = 0.0
    requests: int = 0
    work_s: float = 0.0
    work_requests: int = 0
    work_t0: float = 0.0
    checks: dict[str, Any] = field(default_factory=dict)

    def table(self) -> list[tuple[str, int, float, float, float]]:
        """(operation, n, p50 ms, p95 ms, max ms) per operation."""
        out = []
        for name, values in self.latencies.items():
            ms = sorted(v * 1000 for v in values)
            out.append((name, len(ms), percentile(ms, 50), percentile(ms, 95), ms[-1]))
        return out

    @property
    def ok(self) -> bool:
        return not self.errors and all(not v for k, v in self.checks.items() if k in PROBLEMS)


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return sorted_values[int(rank) - 1]


# ----------------------------------------------------------------------------- trial set-up
@contextmanager
def database(url: str | None, folder: Path) -> Iterator[str]:
    """A fresh trial database: a SQLite file in ``folder``, or a new PostgreSQL database."""
    if url is None or not url.startswith("postgresql"):
        yield str(Path(url) if url else folder / "data" / "load.db")
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(url)
    name = f"resolve_load_{uuid.uuid4().hex[:12]}"

    def connect() -> Any:
        return psycopg.connect(
            host=admin.host or "localhost",
            port=admin.port or 5432,
            user=admin.username,
            password=admin.password,
            dbname=admin.database or "postgres",
            autocommit=True,
        )

    with connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        from resolve.store import uow

        for key in [k for k in uow._ENGINES if name in str(k[0])]:
            uow._ENGINES.pop(key).dispose()
        with connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_trial(db: str, key_file: Path, clients: int) -> list[str]:
    """A trial with one admin and ``clients`` enroller accounts (all with PASSWORD)."""
    from resolve import ops

    if "://" not in db:
        Path(db).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    ops.init_trial(db, admin=ADMIN, admin_password=PASSWORD, key_file=key_file)
    admin = ops.Client(db, user=ADMIN, key_file=key_file)
    names = [f"enroller{i:02d}" for i in range(1, clients + 1)]
    one_time = "one-time " + PASSWORD  # set by the admin: each user replaces it with PASSWORD
    for name in names:
        admin.run(ops.add_user, name, role="enroller", password=one_time, site="sydney")
        ops.Client(db, user=name, key_file=key_file).run(
            ops.set_password, name, PASSWORD, old_password=one_time
        )
    return names


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_APP = """from resolve.web.app import create_app

app = create_app({db!r}, key_file={key!r}, secure_cookies=False)
"""


@contextmanager
def server(db: str, key_file: Path, folder: Path, *, workers: int = 1) -> Iterator[str]:
    """The app in a subprocess on a free loopback port; yields its URL.

    One process: ``resolve serve`` (plain HTTP, ``--insecure-cookies``: loopback
    only). Several: ``uvicorn --workers N`` on an app module, as docs/web.md
    describes for production.
    """
    port = free_port()
    if workers == 1:
        exe = Path(sys.executable).with_name("resolve")
        command = (
            [str(exe)]
            if exe.exists()
            else [sys.executable, "-c", "from resolve.cli import main; main()"]
        )
        command += ["serve", "--db", db, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--key-file", str(key_file), "--insecure-cookies"]
    else:
        (folder / "load_app.py").write_text(_APP.format(db=db, key=str(key_file)))
        command = [sys.executable, "-m", "uvicorn", "load_app:app", "--app-dir", str(folder)]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        command += ["--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"resolve serve exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("resolve serve did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ----------------------------------------------------------------------------- the workload
Step = Callable[["Worker", str], Awaitable[httpx.Response]]


def _route(openapi: dict[str, Any], method: str, *candidates: str) -> str | None:
    paths = openapi.get("paths", {})
    for path in candidates:
        if method in paths.get(path, {}):
            return path
    return None


@dataclass
class Worker:
    """One client: an enroller with a bearer token and a page session."""

    http: httpx.AsyncClient
    user: str
    results: Results
    routes: dict[str, str | None]
    token: str = ""
    csrf: str = ""
    think_s: float = 0.0
    working: bool = False
    rng: random.Random = field(default_factory=random.Random)

    async def call(
        self, name: str, method: str, path: str, ok: tuple[int, ...], **kw: Any
    ) -> httpx.Response:
        if self.working and self.think_s > 0:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.think_s)
        start = time.perf_counter()
        if self.working:
            self.results.work_requests += 1
        try:
            response = await self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.results.errors.append(f"{name} {path}: {type(exc).__name__}: {exc}")
            raise
        finally:
            self.results.latencies[name].append(time.perf_counter() - start)
            self.results.requests += 1
        if response.status_code not in ok:
            self.results.errors.append(
                f"{name} {method} {path}: HTTP {response.status_code} {response.text[:200]!r}"
            )
        return response

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def sign_in(self) -> None:
        r = await self.call(
            "token (API)",
            "POST",
            "/api/v1/auth/token",
            (200,),
            data={"username": self.user, "password": PASSWORD},
        )
        self.token = r.json()["access_token"]
        await self.call(
            "sign in (page)",
            "POST",
            "/login",
            (303,),
            data={"username": self.user, "password": PASSWORD},
        )
        page = await self.call(SIGN_IN_PAGE, "GET", "/", (200,))
        found = CSRF.search(page.text)
        if found is None:
            raise RuntimeError("no CSRF token on the dashboard")
        self.csrf = found.group(1)

    async def screen(self, pid: str, n: int) -> None:
        answers = {"age": 40, "duration_weeks": 20, "pain": 6, "identity": f"load person {pid}"}
        api = self.routes["screen"]
        if api is not None:
            await self.call(
                "screen (API)",
                "POST",
                api.format(participant_id=pid),
                (200, 201),
                json={"participant_id": pid, **answers},
                headers=self.bearer,
            )
        else:
            await self.call(
                "screen (page)",
                "POST",
                "/screen",
                (200,),
                data={"participant": pid, **answers, "csrf_token": self.csrf},
            )

    async def consent(self, pid: str) -> None:
        api = self.routes["consent"]
        if api is not None:
            await self.call(
                "consent (API)",
                "POST",
                api.format(participant_id=pid),
                (200, 201, 204),
                json={"version": "1.0"},
                headers=self.bearer,
            )
        else:
            await self.call(
                "consent (page)",
                "POST",
                f"/participants/{pid}/consent",
                (303,),
                data={
                    "version": "1.0",
                    "typed_name": f"Person {pid}",
                    "agreed": "yes",
                    "csrf_token": self.csrf,
                },
            )

    async def randomise(self, pid: str) -> None:
        r = await self.call(
            "randomise (API)",
            "POST",
            f"/api/v1/participants/{pid}/randomise",
            (200,),
            headers=self.bearer,
        )
        if r.status_code == 200:
            self.results.randomised.append(pid)

    async def record(self, pid: str) -> None:
        api = self.routes["record"]
        if api is None:
            return
        await self.call(
            "record (API)",
            "POST",
            api.format(participant_id=pid),
            (200, 201),
            json={"visit": "baseline", "instrument": "nrs", "items": {"1": 6}},
            headers=self.bearer,
        )

    async def lists(self) -> None:
        await self.call(
            "list participants (API)", "GET", "/api/v1/participants", (200,), headers=self.bearer
        )
        await self.call("participants (page)", "GET", "/participants", (200,))

    async def run(self, pids: list[str], ready: asyncio.Barrier) -> None:
        try:
            await self.sign_in()
        finally:
            await ready.wait()  # every client signed in (or failed): the work starts together
        self.results.work_t0 = self.results.work_t0 or time.perf_counter()
        self.working = True
        for n, pid in enumerate(pids):
            await self.screen(pid, n)
            await self.consent(pid)
            await self.randomise(pid)
            await self.record(pid)
            await self.lists()
        await self.call("dashboard (page)", "GET", "/", (200,))


async def run_load(
    url: str,
    users: list[str],
    per_client: int,
    *,
    prefix: str = "L",
    think_s: float = 0.0,
    seed: int = 1,
) -> Results:
    """Run every client at once against ``url``; return what was measured.

    All clients sign in at once first (token and page session; argon2 makes that
    deliberately slow), then, together, do their participants' work, each waiting
    a think time of ``think_s`` x U(0.5, 1.5) before each request (0: none, the
    server saturated).
    """
    results = Results()
    limits = httpx.Limits(max_connections=len(users) + 5)
    async with httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, limits=limits) as probe:
        openapi = (await probe.get("/api/v1/openapi.json")).json()
    routes = {
        "screen": _route(
            openapi,
            "post",
            "/api/v1/participants",
            "/api/v1/participants/{participant_id}/screen",
        ),
        "consent": _route(openapi, "post", "/api/v1/participants/{participant_id}/consent"),
        "record": _route(
            openapi,
            "post",
            "/api/v1/participants/{participant_id}/responses",
            "/api/v1/participants/{participant_id}/record",
        ),
    }
    results.routes = {
        k: v or ("page form" if k != "record" else "no route yet") for k, v in routes.items()
    }
    workers = []
    clients = []
    for i, user in enumerate(users):
        http = httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT_S, follow_redirects=False)
        clients.append(http)
        workers.append(
            Worker(http, user, results, routes, think_s=think_s, rng=random.Random(seed * 1000 + i))
        )
    ready = asyncio.Barrier(len(workers))
    start = time.perf_counter()
    try:
        outcomes = await asyncio.gather(
            *(
                w.run([f"{prefix}{i:02d}x{k:02d}" for k in range(per_client)], ready)
                for i, w in enumerate(workers, start=1)
            ),
            return_exceptions=True,
        )
    finally:
        end = time.perf_counter()
        results.wall_s = end - start
        results.work_s = end - (results.work_t0 or start)
        for http in clients:
            await http.aclose()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            results.errors.append(f"client stopped: {type(outcome).__name__}: {outcome}")
    return results


# ----------------------------------------------------------------------------- checks
def check_store(db: str, key_file: Path, results: Results) -> dict[str, Any]:
    """Duplicate/missing allocations and the audit trail, read from the store."""
    from sqlalchemy import select

    from resolve import ops
    from resolve.store.models import Allocation, Participant
    from resolve.store.uow import Store

    store = Store(db)

    def read(session: Any) -> list[tuple[str, int, int]]:
        rows = session.execute(
            select(Participant.code, Allocation.stratum_id, Allocation.position).join(
                Allocation, Allocation.participant_id == Participant.id
            )
        ).all()
        return [(str(c), int(s), int(p)) for c, s, p in rows]

    rows = store.run(read, read_only=True)
    per_participant: dict[str, int] = defaultdict(int)
    per_stratum: dict[int, list[int]] = defaultdict(list)
    for code, stratum, position in rows:
        per_participant[code] += 1
        per_stratum[stratum].append(position)
    answered = set(results.randomised)
    duplicates = sorted(c for c, n in per_participant.items() if n > 1)
    missing = sorted(answered - set(per_participant))
    unanswered = sorted(c for c in per_participant if c.startswith("L") and c not in answered)
    gaps = {s: sorted(p) for s, p in per_stratum.items() if sorted(p) != list(range(1, len(p) + 1))}
    problem = ops.Client(store, user=ADMIN, key_file=key_file).run(ops.verify_trial)
    return {
        "allocations": len(rows),
        "duplicate allocations": duplicates,
        "missing allocations": missing,
        "allocations without a 200": unanswered,
        "position gaps or repeats": gaps,
        "audit problem": None if problem is None else str(problem),
    }


# ----------------------------------------------------------------------------- main
def report(
    results: Results, *, backend: str, clients: int, per_client: int, think_s: float, workers: int
) -> str:
    """The results as a text table."""
    lines = [
        f"backend {backend}; {clients} clients x {per_client} participants; think time "
        f"{think_s:g} s; {workers} server process(es); python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs",
        f"{results.requests} requests in {results.wall_s:.1f} s; work phase "
        f"{results.work_requests} requests in {results.work_s:.1f} s "
        f"({results.work_requests / max(results.work_s, 1e-9):.0f} req/s)",
        "routes: " + ", ".join(f"{k}: {v}" for k, v in results.routes.items()),
        f"{'operation':28s} {'n':>5s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}",
    ]
    table = results.table()
    for phase, rows in (
        ("sign-in phase (all clients at once)", [r for r in table if r[0] in SIGN_IN]),
        ("work phase", [r for r in table if r[0] not in SIGN_IN]),
    ):
        lines.append(f"-- {phase}")
        for name, n, p50, p95, top in rows:
            flag = "" if p95 < TARGET_P95_MS else "  (over target)"
            lines.append(f"{name:28s} {n:5d} {p50:8.1f} {p95:8.1f} {top:8.1f}{flag}")
    work = sorted(v * 1000 for k, vs in results.latencies.items() if k not in SIGN_IN for v in vs)
    if work:
        lines.append(
            f"{'all work requests':28s} {len(work):5d} {percentile(work, 50):8.1f} "
            f"{percentile(work, 95):8.1f} {work[-1]:8.1f}"
        )
    lines.append(f"errors: {len(results.errors)}")
    lines += [f"  {e}" for e in results.errors[:20]]
    for k, v in results.checks.items():
        lines.append(f"{k}: {v}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--participants", type=int, default=4, help="per client")
    parser.add_argument("--db", default=None, help="PostgreSQL admin URL (default: SQLite)")
    parser.add_argument(
        "--think", type=float, default=0.0, help="mean think time before each request, s"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes (uvicorn)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 200 or not 1 <= args.participants <= 50:
        parser.error("at most 200 clients and 50 participants per client")
    if not 0 <= args.think <= 10 or not 1 <= args.workers <= 8:
        parser.error("think time 0-10 s, 1-8 workers")
    folder = Path(tempfile.mkdtemp(prefix="bench-web-load-"))
    try:
        keys = folder / "keys"
        keys.mkdir(mode=0o700)
        key_file = keys / "load.key"
        with database(args.db, folder) as db:
            backend = "postgresql" if db.startswith("postgresql") else "sqlite"
            users = make_trial(db, key_file, args.clients)
            with server(db, key_file, folder, workers=args.workers) as url:
                results = asyncio.run(
                    run_load(url, users, args.participants, think_s=args.think, seed=args.seed)
                )
            results.checks = check_store(db, key_file, results)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        report(
            results,
            backend=backend,
            clients=args.clients,
            per_client=args.participants,
            think_s=args.think,
            workers=args.workers,
        )
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "backend": backend,
                    "clients": args.clients,
                    "think_s": args.think,
                    "workers": args.workers,
                    "table": results.table(),
                    "errors": results.errors,
                    "checks": results.checks,
                    "wall_s": results.wall_s,
                    "requests": results.requests,
                    "work_s": results.work_s,
                    "work_requests": results.work_requests,
                },
                indent=2,
                default=str,
            )
        )
    return 0 if results.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
