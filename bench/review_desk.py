"""The review desk under load: next-item and submit requests from simulated reviewers at once, against the app
under gunicorn (sync workers, 3 as deployed) on PostgreSQL, compared in the same run with a page that only returns
200 bytes through the same middleware and login (`/ping/`) and with the desk's requests doing their database work
only (a second server, bench/desk_without_pages.py); and the SQL queries per request at two dataset sizes.

    .venv/bin/python bench/review_desk.py [--reviewers 20] [--seconds 15] [--items 100000] [--workers 3]
        [--label-studio VENV]

With --label-studio, Label Studio's annotation submit is measured with 8 concurrent clients on the same
machine, and the desk's submit with 8 reviewers beside it. Writes its section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "critic_desk_bench_review"
PORT = 8097
ROUNDS = 5
WARM_UP = 5  # seconds of reviewing before the measures
CPU_USERS = ("gunicorn", "postgres", "clients")


class Session:
    """One reviewer's browser: a connection (opened again after each response, as the sync workers close it) with the
    session and CSRF cookies."""

    def __init__(self, username: str, password: str, port: int = PORT) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        self.get("/accounts/login/")
        form = f"username={username}&password={password}&csrfmiddlewaretoken={self.cookies['csrftoken']}"
        status, _ = self.post("/accounts/login/", form)
        assert status == 302, status

    def _request(self, method: str, path: str, body: str | None = None, htmx: bool = False) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if htmx:  # what the page's own requests carry: the server answers with the desk or reveal fragment
            headers["HX-Request"] = "true"
        if body is not None:
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": self.cookies["csrftoken"],
                "Referer": f"http://127.0.0.1:{self.port}/",
            }
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode(errors="replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            for key, morsel in SimpleCookie(header).items():
                self.cookies[key] = morsel.value
        return response.status, text

    def get(self, path: str, htmx: bool = False) -> tuple[int, str]:
        return self._request("GET", path, htmx=htmx)

    def post(self, path: str, body: str, htmx: bool = False) -> tuple[int, str]:
        return self._request("POST", path, body, htmx=htmx)


def load(sessions: list[Session], seconds: float, step, timings: dict[str, list[float]]) -> None:  # type: ignore[no-untyped-def]
    """Run `step(session, mine)` in a loop on every session at once for `seconds`, adding the latencies by kind
    to `timings`."""
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def run(session: Session) -> None:
        mine: dict[str, list[float]] = {}
        while time.monotonic() < stop:
            if not step(session, mine):
                break
        with lock:
            for kind, values in mine.items():
                timings.setdefault(kind, []).extend(values)

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def timed(mine: dict[str, list[float]], kind: str, call):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call()
    mine.setdefault(kind, []).append(time.perf_counter() - started)
    return result


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] * 1000 if len(values) >= 20 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--items", type=int, default=100_000)
    # As deployed: webapp/gunicorn_conf.py starts GUNICORN_WORKERS, 3 unless set.
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--label-studio", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="review-bench-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_hex(32),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "MEDIA_ROOT": str(work / "media"),
        "CRITIC_DESK_VAR": str(work),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
        "REDIS_URL": "redis://127.0.0.1:6379/13",  # as deployed: the cache that all workers share
        "CRITIC_MODEL": "",
    }
    os.environ.update(env)
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc"]
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True, capture_output=True)
    subprocess.run([*psql, f"CREATE DATABASE {DB_NAME}"], check=True)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, Item
    from annotations.services.images import image_check, image_store
    from tests.images import png_bytes

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    users = get_user_model()
    password = secrets.token_hex(8)
    for i in range(max(args.reviewers, 8)):
        users.objects.create_user(f"r{i}", password=password)
    image = image_store(checked=image_check(data=png_bytes()))[0]

    def dataset_of(name: str, n: int) -> Dataset:
        ds = Dataset.objects.create(name=name)
        Item.objects.bulk_create(
            [
                Item(
                    dataset=ds,
                    external_id=f"q{i}",
                    image=image,
                    question=f"Question {i}?",
                    kind="pairwise",
                    profile="pairwise",
                    response_a=f"A{i}",
                    response_b=f"B{i}",
                )
                for i in range(n)
            ],
            batch_size=5000,
        )
        return ds

    small, big = dataset_of("small", 1000), dataset_of("big", args.items)
    critic = CriticCheckpoint.objects.create(name="bench-critic", model="bench/critic", is_active=True)
    for dataset in (small, big):  # the reveal reads and renders the critic's verdict, as it does in use
        CriticVerdict.objects.bulk_create(
            [
                CriticVerdict(
                    item_id=pk,
                    checkpoint=critic,
                    profile="pairwise",
                    status="done",
                    preference="AB"[pk % 2],
                    confidence=0.8,
                    justification=f"Response **{'AB'[pk % 2]}** answers the question; the other does not.",
                )
                for pk in dataset.items.values_list("pk", flat=True)
            ],
            batch_size=5000,
        )
    with connection.cursor() as cursor:  # what autovacuum does soon after a bulk load
        cursor.execute("VACUUM ANALYZE")
    queries = count_queries(small, big, password)

    stack = ExitStack()
    label_studio_run = stack.enter_context(label_studio_clients(args.label_studio, work)) if args.label_studio else None

    def gunicorn(port: int, settings: str) -> subprocess.Popen[bytes]:
        command = ["-m", "gunicorn", "webapp.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}"]
        server = subprocess.Popen(
            [sys.executable, *command, "--log-level", "warning"],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": settings},
        )
        stack.callback(lambda: (server.terminate(), server.wait(timeout=30)))
        return server

    server = gunicorn(PORT, "webapp.settings.base")
    # The same app beside it, whose next-item and submit do the same database work and return a few bytes: what
    # the desk would serve if drawing its pages cost nothing (bench/desk_without_pages_urls.py).
    bare_server = gunicorn(PORT + 1, "bench.desk_without_pages")
    try:
        wait_up(PORT)
        wait_up(PORT + 1)
        sessions = [Session(f"r{i}", password) for i in range(args.reviewers)]
        bare_sessions = [Session(f"r{i}", password, port=PORT + 1) for i in range(args.reviewers)]

        def ping_step(session: Session, mine: dict[str, list[float]]) -> bool:
            return timed(mine, "ping", lambda: session.get("/ping/"))[0] == 200

        item_re = re.compile(r'action="/items/(\d+)/verdict/"')

        def review_step(session: Session, mine: dict[str, list[float]]) -> bool:
            status, page = timed(mine, "next", lambda: session.get(f"/datasets/{big.pk}/review/", htmx=True))
            found = item_re.search(page)
            if status != 200 or found is None:
                return False
            path = f"/items/{found.group(1)}/verdict/"
            status, _ = timed(mine, "submit", lambda: session.post(path, "preference=A", htmx=True))
            return status == 200

        # The desk as it is a minute into use: autovacuum has analysed the review tables, empty when reviewing
        # began. (Before that, each connection plans its lookups in them for tables of a few rows, by sequential
        # scan, and keeps those plans as the tables grow: measured from a cold start, PostgreSQL's CPU per desk
        # request was 2.2 ms instead of 0.8.)
        load(sessions, WARM_UP, review_step, {})
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotations_reviewslot, annotations_humanverdict, annotations_reviewskip")
        # The baseline, the desk and the desk without pages take turns in short slices, so that a change in the
        # machine's load while the bench runs weighs on all alike.
        ping: dict[str, list[float]] = {}
        desk: dict[str, list[float]] = {}
        bare: dict[str, list[float]] = {}
        cpu: dict[str, dict[str, float]] = {"ping": {}, "desk": {}, "bare": {}}
        phases = (
            ("ping", ping, ping_step, sessions, server),
            ("desk", desk, review_step, sessions, server),
            ("bare", bare, review_step, bare_sessions, bare_server),
        )
        for _ in range(ROUNDS):
            for phase, into, step, who_asks, answering in phases:
                before = cpu_seconds(answering.pid)
                load(who_asks, args.seconds / ROUNDS, step, into)
                for who, seconds in cpu_seconds(answering.pid).items():
                    cpu[phase][who] = cpu[phase].get(who, 0.0) + seconds - before.get(who, 0.0)
        # Eight reviewers, taking turns with Label Studio's eight clients in the same way.
        eight: dict[str, list[float]] = {}
        ls: list[float] = []
        for _ in range(ROUNDS):
            load(sessions[:8], args.seconds / ROUNDS, review_step, eight)
            if label_studio_run is not None:
                ls += label_studio_run(args.seconds / ROUNDS)
    finally:
        stack.close()

    ping_rate = len(ping["ping"]) / args.seconds
    next_rate, submit_rate = len(desk["next"]) / args.seconds, len(desk["submit"]) / args.seconds
    request_rate = next_rate + submit_rate
    served = {"ping": len(ping["ping"])}
    served |= {phase: len(got["next"]) + len(got["submit"]) for phase, got in (("desk", desk), ("bare", bare))}
    bare_rate = served["bare"] / args.seconds
    per_request = {phase: 1000 * sum(cpu[phase].values()) / n for phase, n in served.items()}
    lines = [
        "## Review desk under load (issue 5)",
        "",
        f"`.venv/bin/python bench/review_desk.py --reviewers {args.reviewers} --seconds {args.seconds:g} --items "
        f"{args.items} --workers {args.workers}`: gunicorn "
        f"with {args.workers} sync workers on PostgreSQL (debug off), {args.reviewers} logged-in reviewers at once "
        "(Python threads on the same 2-core machine; gunicorn's sync workers close each connection, so every request "
        "connects anew, as on the deployed server), each looping next item -> submit on a "
        f"pairwise dataset of {args.items:,} items, overlap 1, as the page does it with JavaScript: htmx requests "
        "answered with the desk fragment (next) and the reveal with the critic's panel (submit). Baseline: "
        f"`/ping/`, 200 bytes through the same middleware and login. Beside them, a second server of the same app "
        "whose next item and submit do the same database work (the services lease the item and commit the verdict) "
        "and answer a few bytes instead of the page (`bench/desk_without_pages_urls.py`): how far the desk could go "
        f"if drawing its pages cost nothing. The three take turns, {ROUNDS} slices each, so "
        "that the machine's changing load weighs on all alike. The tables are vacuumed and analysed after the "
        f"bulk load, as autovacuum does soon after an import, and the review tables again after {WARM_UP} s of "
        "reviewing (empty when it began), as autovacuum does within its first minute.",
        "",
        "| requests | per second | p95 (ms) | ratio to /ping/ |",
        "|---|---:|---:|---:|",
        f"| `/ping/` | {ping_rate:,.0f} | {p95(ping['ping']):.1f} | 1.00 |",
        f"| next item | {next_rate:,.0f} | {p95(desk['next']):.1f} | |",
        f"| submit | {submit_rate:,.0f} | {p95(desk['submit']):.1f} | |",
        f"| next + submit together | {request_rate:,.0f} | | {request_rate / ping_rate:.2f} |",
        f"| next + submit without pages (second server) | {bare_rate:,.0f} | {p95(bare['submit']):.1f} | "
        f"{bare_rate / ping_rate:.2f} |",
        "",
        "CPU per request (ms; gunicorn's processes, PostgreSQL's, the simulated reviewers): "
        + "; ".join(
            f"{label} " + ", ".join(f"{who} {1000 * cpu[phase].get(who, 0.0) / n:.2f}" for who in CPU_USERS)
            for label, phase, n in (
                ("/ping/", "ping", served["ping"]),
                ("desk (next and submit alike)", "desk", served["desk"]),
                ("desk without pages", "bare", served["bare"]),
            )
        )
        + ". "
        + (
            f"A desk request costs {per_request['desk'] - per_request['ping']:.2f} ms of CPU more than /ping/'s whole "
            f"{per_request['ping']:.2f} ms (its queries and writes, the lease, the page), "
            f"{per_request['bare'] - per_request['ping']:.2f} ms more without the page; half /ping/'s throughput "
            "would need that extra to be no more than /ping/'s whole request."
        ),
        "",
        f"SQL queries per request (test client, same code): next item {queries['small'][0]} at 1,000 items and "
        f"{queries['big'][0]} at {args.items:,}; submit {queries['small'][1]} and {queries['big'][1]}.",
        "",
        f"With 8 reviewers: {len(eight['submit']) / args.seconds:,.0f} submits/s (p95 {p95(eight['submit']):.0f} ms).",
    ]
    if label_studio_run is not None:
        ours, theirs = len(eight["submit"]) / args.seconds, len(ls) / args.seconds
        lines.append(
            f"Label Studio 1.23.2, 8 concurrent clients submitting annotations (in turns with the desk's 8): "
            f"{theirs:,.1f}/s (p95 {p95(ls):.0f} ms). Critic Desk / Label Studio at 8 reviewers: {ours / theirs:.1f}x "
            "(each of the desk's reviewers also asks for the next item between two submits; Label Studio's clients "
            "only submit)."
        )
    from bench.report import write_section

    write_section("review", "\n".join(lines))
    print("\n".join(lines))


def cpu_seconds(server: int) -> dict[str, float]:
    """CPU time used so far by the gunicorn processes, by PostgreSQL's and by this process (the clients)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if int(pid) == server or int(stat[1]) == server:
            who = "gunicorn"
        elif command.startswith(b"postgres"):
            who = "postgres"
        elif int(pid) == os.getpid():
            who = "clients"
        else:
            continue
        out[who] = out.get(who, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return out


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not start") from None
            time.sleep(0.3)


def count_queries(small, big, password: str) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    out = {}
    for name, dataset in (("small", small), ("big", big)):
        client = Client(headers={"HX-Request": "true"})
        client.login(username="r0", password=password)
        for _ in range(2):  # a reviewer at work: the session's order and the counts settled, as under load
            page = client.get(f"/datasets/{dataset.pk}/review/")
            item = re.search(r'action="/items/(\d+)/verdict/"', page.content.decode())
            assert item, "no item to review"
            client.post(f"/items/{item.group(1)}/verdict/", {"preference": "A"})
        with CaptureQueriesContext(connection) as next_q:
            page = client.get(f"/datasets/{dataset.pk}/review/")
        item = re.search(r'action="/items/(\d+)/verdict/"', page.content.decode())
        assert item, "no item to review"
        with CaptureQueriesContext(connection) as submit_q:
            client.post(f"/items/{item.group(1)}/verdict/", {"preference": "A"})
        out[name] = (len(next_q), len(submit_q))
    return out


@contextmanager
def label_studio_clients(venv: Path, work: Path) -> Iterator[Callable[[float], list[float]]]:
    """A running Label Studio with a project of 5,000 tasks; yields `run(seconds)`, which has 8 concurrent clients
    submit annotations (as shared/reference/anchors.md measures it) for that long and returns their latencies."""
    from bench.label_studio import label_studio

    config = (
        '<View><Text name="q" value="$question"/><Choices name="pref" toName="q"><Choice value="A"/>'
        '<Choice value="B"/><Choice value="tie"/></Choices></View>'
    )
    result = [{"from_name": "pref", "to_name": "q", "type": "choices", "value": {"choices": ["A"]}}]
    with label_studio(venv, work) as api:
        project = api("POST", "/api/projects", {"title": "bench", "label_config": config})["id"]
        api("POST", f"/api/projects/{project}/import", [{"question": f"Q{i}"} for i in range(5000)])
        tasks = iter([t["id"] for t in api("GET", f"/api/tasks?project={project}&page_size=5000", None)["tasks"]])
        lock = threading.Lock()

        def run(seconds: float) -> list[float]:
            latencies: list[float] = []
            stop = time.monotonic() + seconds

            def client() -> None:
                mine = []
                while time.monotonic() < stop:
                    with lock:
                        task = next(tasks)
                    started = time.perf_counter()
                    api("POST", f"/api/tasks/{task}/annotations/", {"result": result})
                    mine.append(time.perf_counter() - started)
                with lock:
                    latencies.extend(mine)

            threads = [threading.Thread(target=client) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return latencies

        yield run


if __name__ == "__main__":
    main()
