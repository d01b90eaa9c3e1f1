"""What the benchmarks share: stores (fresh or prepared and reused), timing,
percentiles, peak memory and a description of the machine."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from infra.crypto import MasterKey
from infra.files import private_file
from infra.settings import Settings

ADMIN_URL = os.environ.get(
    "CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parents[1]
# Prepared stores are large: outside the checkout (BENCH_DATA to move them).
PREPARED_DIR = Path(os.environ.get("BENCH_DATA", ROOT.parent / "bench-data"))
BACKENDS = ("postgres", "sqlite")


def database_url(name: str) -> str:
    """The URL of PostgreSQL database `name` on the benchmark server."""
    return f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def admin(statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on the admin database (autocommit); its rows, if any."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def drop_database(name: str) -> None:
    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def master_key_file() -> Path:
    """The benchmarks' master key (owner-only, made once): every store they make
    seals its payloads per patient, as the service does by default."""
    path = PREPARED_DIR / "master.key"
    if not path.exists():
        PREPARED_DIR.mkdir(parents=True, exist_ok=True)
        private_file(path).write_text(MasterKey.generate().text + "\n")
    return path


def store_settings(database_url: str, **options: Any) -> Settings:
    """Settings of a benchmark store at `database_url`."""
    return Settings(
        database_url=database_url, master_key_file=master_key_file(), **options
    )


def service_env(settings: Settings) -> dict[str, str]:
    """The CARE_ environment a service process needs to open the same store."""
    return {
        "CARE_DATABASE_URL": settings.database_url,
        "CARE_MASTER_KEY_FILE": str(master_key_file()),
    }


@contextmanager
def fresh_store(
    backend: str, *, template: str | None = None, **options: Any
) -> Iterator[Settings]:
    """Settings for a new store (empty, or a copy of prepared store `template`),
    removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(dir=_scratch()) as directory:
            path = Path(directory) / "bench.db"
            if template is not None:
                copy_sqlite(prepared_path(template), path)
            yield store_settings(sqlite_url(path), **options)
        return
    name = f"care_bench_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield store_settings(database_url(name), **options)
    finally:
        drop_database(name)


def _scratch() -> Path:
    # Large copies go beside the prepared stores (on disk), not to a tmpfs.
    PREPARED_DIR.mkdir(parents=True, exist_ok=True)
    return PREPARED_DIR


def prepared_path(name: str) -> Path:
    """Where a prepared SQLite store called `name` lives."""
    return PREPARED_DIR / f"{name}.db"


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite store (its WAL checkpointed first)."""
    with sqlite3.connect(source) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.copyfile(source, target)


def prepared_exists(backend: str, name: str) -> bool:
    """Whether a prepared store of that name exists (it may still be incomplete)."""
    if backend == "sqlite":
        return prepared_path(name).exists()
    return bool(admin("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def prepared_settings(backend: str, name: str) -> Settings:
    """Settings of the prepared store `name` (which may not exist yet)."""
    if backend == "sqlite":
        PREPARED_DIR.mkdir(parents=True, exist_ok=True)
        return store_settings(sqlite_url(prepared_path(name)))
    if not prepared_exists(backend, name):
        admin(f'CREATE DATABASE "{name}"')
    return store_settings(database_url(name))


def remove_prepared(backend: str, name: str) -> None:
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm", ".schema.lock"):
            Path(f"{prepared_path(name)}{suffix}").unlink(missing_ok=True)
    else:
        drop_database(name)


def timed(work: Callable[[], Any]) -> float:
    """Seconds `work` takes."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of the samples, nearest rank."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def p50_p99(samples: Sequence[float]) -> tuple[float, float]:
    return statistics.median(samples), percentile(samples, 99)


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_child(module: str, *args: str, cwd: Path | None = None) -> dict[str, Any]:
    """Run `python -m module args` in a process of its own and return the JSON
    object it prints last (so each measurement has its own peak memory)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd or Path.cwd(),
        check=False,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{module} {' '.join(args)} failed ({done.returncode})")
    return json.loads(lines[-1])


def machine() -> str:
    """One line about the machine and what else was running on it."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) // (1024 * 1024)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        server = admin("SHOW server_version")[0][0]
    except psycopg.Error:
        server = "unreachable"
    return (
        f"{os.cpu_count()} x {cpu}, {memory} GiB, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {server}; load average {load}"
    )


def ratio(subject: float, baseline: float) -> str:
    return f"{subject / baseline:.2f}x" if baseline else "-"


@contextmanager
def child_process(
    command: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], Any]]:
    """`python -m COMMAND` from this checkout with the CARE_* environment `env`
    only, its output in a temporary file, until the block ends (SIGTERM, then
    SIGKILL after 20 s); the process and its log file."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=Path.cwd(),
        env={**clean, "PYTHONPATH": str(Path.cwd()), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def pgbench(
    settings: Settings, clients: int, seconds: float, *, locked: bool = False
) -> tuple[float, float]:
    """pgbench on the store's database: one single-row INSERT (about the size of
    a stored event) per transaction, `clients` clients for `seconds`; `locked`:
    inside `LOCK TABLE ... IN EXCLUSIVE MODE`. Its tps and average latency (ms)."""
    if shutil.which("pgbench") is None:
        raise RuntimeError("pgbench is missing: apt-get install postgresql-contrib")
    pg = settings.postgres
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_inserts "
            "(id bigserial PRIMARY KEY, payload bytea NOT NULL)"
        )
    insert = (
        "INSERT INTO bench_inserts (payload) VALUES (decode(repeat('ab', 400), 'hex'));"
    )
    body = (
        f"BEGIN;\nLOCK TABLE bench_inserts IN EXCLUSIVE MODE;\n{insert}\nCOMMIT;\n"
        if locked
        else f"{insert}\n"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
        script.write(body)
        script.flush()
        done = subprocess.run(
            ["pgbench", "-n", "-h", pg["host"], "-p", pg["port"], "-U", pg["user"],
             "-c", str(clients), "-j", "2", "-T", str(int(seconds)),
             "-f", script.name, pg["dbname"]],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    tps = re.search(r"tps = ([\d.]+) \(without", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    assert tps is not None and latency is not None, done.stdout
    return float(tps.group(1)), float(latency.group(1))
