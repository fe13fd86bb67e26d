"""`make up` / `make down`: the Airflow UI on the embedded local AWS.

``up`` starts two process groups, each in its own session so that Ctrl-C reaches this supervisor first:

1. ``python -m localaws serve`` (HTTP on ``--localaws-port``, HTTPS on the next port, CA bundle under the
   Airflow home);
2. ``airflow standalone`` (api-server, scheduler, dag-processor, triggerer; LocalExecutor on SQLite) with
   ``aws_default`` pointing at localaws's HTTPS endpoint with fake credentials, examples off, a small
   parallelism and DAGs unpaused.

It prints the URL and the login once Airflow is healthy, then waits. Ctrl-C (SIGINT) or SIGTERM stops
both groups, children included, and nothing of theirs is left running: every process started here carries
the environment variable ``SALES_STREAM_UP_RUN=<token>``, and whatever still carries it after the groups are
stopped (a process that left its group) is killed by PID. ``down`` stops an ``up`` left in the background,
found from the state file ``<airflow home>/up.json``.

The browser test (tests/ui) runs `make up` and `make down` themselves, on free ports in a home of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_HOME = REPO / ".airflow" / "up"
MARKER = "SALES_STREAM_UP_RUN"
STATE_FILE = "up.json"
USERNAME = "admin"
DAG_IDS = (
    "sales_stream_provision",
    "sales_stream_verify",
    "sales_stream_teardown",
    "sales_order_simulator",
    "sales_catalog_refresh",
    "sales_analytics",
)
FAKE_CREDENTIALS = "localaws"  # localaws accepts any key; a real account refuses this one


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pipeline_region() -> str:
    """The pipeline's region from its config (SALES_PIPELINE_REGION, ...), without Airflow's metastore."""
    if str(REPO / "plugins") not in sys.path:
        sys.path.insert(0, str(REPO / "plugins"))
    from sales_pipeline.config import load_config

    return load_config(variable_reader=lambda: None).region


@dataclass
class Settings:
    airflow_home: Path = DEFAULT_HOME
    host: str = "127.0.0.1"
    api_port: int = 8080
    localaws_port: int = 4566  # HTTPS on localaws_port + 1
    parallelism: int = 4
    python: str = sys.executable
    extra_env: Mapping[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    @property
    def localaws_url(self) -> str:
        return f"http://{self.host}:{self.localaws_port}"

    @property
    def localaws_tls_url(self) -> str:
        return f"https://{self.host}:{self.localaws_port + 1}"

    @property
    def tls_dir(self) -> Path:
        return self.airflow_home / "localaws-tls"

    @property
    def ca_bundle(self) -> Path:
        return self.tls_dir / "localaws-ca.pem"

    @property
    def password_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json.generated"

    @property
    def state_file(self) -> Path:
        return self.airflow_home / STATE_FILE


class StartupError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pgid(self) -> int:
        return self.process.pid  # started with start_new_session: it leads its own group

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """localaws + airflow standalone, started and stopped as one thing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token = secrets.token_hex(8)
        self.children: list[Child] = []
        self.password = ""
        self.stragglers: list[int] = []  # processes that had left their group and were killed by marker
        self._stop_lock = threading.Lock()

    # -- environment ---------------------------------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        s = self.settings
        bin_dir = str(Path(s.python).parent)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "AIRFLOW"))}
        env.update(
            {
                MARKER: self.token,
                "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)]),
                "PYTHONUNBUFFERED": "1",
                # Fake credentials: nothing started here can reach a real AWS account.
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS,
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS,
                "AWS_DEFAULT_REGION": pipeline_region(),
                "AWS_ENDPOINT_URL": s.localaws_tls_url,
                "AWS_CA_BUNDLE": str(s.ca_bundle),
            }
        )
        return {**env, **s.extra_env}

    def airflow_env(self) -> dict[str, str]:
        s = self.settings
        region = pipeline_region()
        connection = {
            "conn_type": "aws",
            "login": FAKE_CREDENTIALS,
            "password": FAKE_CREDENTIALS,
            "extra": {"endpoint_url": s.localaws_tls_url, "region_name": region, "verify": str(s.ca_bundle)},
        }
        env = self.base_env()
        env.update(
            {
                "AIRFLOW_HOME": str(s.airflow_home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__PARALLELISM": str(s.parallelism),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(s.password_file),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{s.url}/execution/",
                "AIRFLOW__API__HOST": s.host,
                "AIRFLOW__API__PORT": str(s.api_port),
                "AIRFLOW__API__BASE_URL": s.url,
                "AIRFLOW__API__WORKERS": "1",
                # A new DAG file shows up within a minute rather than five.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
                # Data lands in seconds on a laptop, as in `make demo`.
                "SALES_PIPELINE_BUFFER_INTERVAL_S": os.environ.get("SALES_PIPELINE_BUFFER_INTERVAL_S", "1"),
            }
        )
        for key, value in os.environ.items():  # the user's own Airflow and pipeline settings win
            if key.startswith(("AIRFLOW__", "SALES_PIPELINE_")):
                env[key] = value
        return {**env, **s.extra_env}

    # -- start ---------------------------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        log = self.settings.airflow_home / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=REPO,
                start_new_session=True,
            )  # fmt: skip
        child = Child(name, process, log)
        self.children.append(child)
        self._write_state()
        return child

    def _ensure_password(self) -> str:
        """A known admin password: kept in the simple auth manager's own file, made once per Airflow home."""
        path = self.settings.password_file
        passwords: dict[str, str] = {}
        with contextlib.suppress(OSError, ValueError):
            passwords = json.loads(path.read_text())
        if not passwords.get(USERNAME):
            passwords[USERNAME] = secrets.token_urlsafe(12)
            path.write_text(json.dumps(passwords) + "\n")
            path.chmod(0o600)
        return passwords[USERNAME]

    def start(self, timeout_s: float = 180) -> None:
        s = self.settings
        for what, port in (
            ("Airflow", s.api_port),
            ("localaws", s.localaws_port),
            ("localaws TLS", s.localaws_port + 1),
        ):
            if port_taken(s.host, port):
                raise StartupError(f"port {port} ({what}) is already in use: is a `make up` running? (`make down`)")
        s.airflow_home.mkdir(parents=True, exist_ok=True)
        self.password = self._ensure_password()
        deadline = time.monotonic() + timeout_s
        try:
            shutil.rmtree(s.tls_dir, ignore_errors=True)
            localaws = self._spawn(
                "localaws",
                [s.python, "-m", "localaws", "serve", "--host", s.host, "--port", str(s.localaws_port),
                 "--tls-port", str(s.localaws_port + 1), "--tls-dir", str(s.tls_dir)],
                self.base_env(),
            )  # fmt: skip
            self._wait(localaws, f"{s.localaws_url}/_localaws/health", deadline, lambda body: True)
            airflow = self._spawn("airflow", [str(Path(s.python).parent / "airflow"), "standalone"], self.airflow_env())
            self._wait(airflow, f"{s.url}/api/v2/monitor/health", deadline, self._all_healthy)
        except BaseException:
            self.stop()
            raise

    @staticmethod
    def _all_healthy(body: bytes) -> bool:
        health = json.loads(body)
        return all(
            (health.get(component) or {}).get("status") == "healthy"
            for component in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    def _wait(self, child: Child, url: str, deadline: float, ready: Callable[[bytes], bool]) -> None:
        while True:
            if child.process.poll() is not None:
                raise StartupError(f"{child.name} exited with {child.process.returncode}:\n{child.tail()}")
            with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=5) as reply:
                if ready(reply.read()):
                    return
            if time.monotonic() > deadline:
                raise StartupError(f"{child.name} not ready at {url} in time; last log lines:\n{child.tail()}")
            time.sleep(1)

    # -- state -----------------------------------------------------------------------------------------------------
    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "pid_started": process_started(os.getpid()),
            "token": self.token,
            "url": self.settings.url,
            "children": {child.name: child.pgid for child in self.children},
        }
        self.settings.state_file.write_text(json.dumps(state, indent=2) + "\n")

    # -- stop ------------------------------------------------------------------------------------------------------
    def stop(self, grace_s: float = 30) -> None:
        """Airflow first (standalone stops its components on SIGINT), then localaws; then every process still
        carrying this run's marker. Safe to call twice."""
        with self._stop_lock:
            for child in reversed(self.children):
                stop_group(child.pgid, child.process, signal.SIGINT if child.name == "airflow" else signal.SIGTERM,
                           grace_s)  # fmt: skip
            self.stragglers += kill_marked(self.token)
            self.children = []
            with contextlib.suppress(OSError):
                self.settings.state_file.unlink()

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(pgid: int, process: subprocess.Popen[bytes] | None, first: signal.Signals, grace_s: float) -> None:
    """``first`` to the group leader, then SIGTERM and finally SIGKILL to the whole group, until none is left."""
    for sig, wait_s in ((first, grace_s), (signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if not group_alive(pgid):
            break
        with contextlib.suppress(ProcessLookupError):
            if sig is first and process is not None:
                process.send_signal(sig)
            else:
                os.killpg(pgid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if process is not None:
                process.poll()  # reap the leader, or the group stays alive as a zombie
            if not group_alive(pgid):
                break
            time.sleep(0.2)
    if process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)


def marked_pids(token: str) -> list[int]:
    """PIDs of live processes whose environment carries this run's marker (Linux /proc)."""
    needle = f"{MARKER}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "\nState:\tZ" not in status:
                    found.append(int(entry.name))
    return found


def kill_marked(token: str, wait_s: float = 5) -> list[int]:
    """Stop every process still carrying the marker; returns their PIDs."""
    pids = found = marked_pids(token)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while pids and time.monotonic() < deadline:
        time.sleep(0.2)
        pids = marked_pids(token)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return found


# -- command line ---------------------------------------------------------------------------------------------------
def banner(stack: Stack) -> str:
    s = stack.settings
    return "\n".join(
        [
            "",
            f"Airflow UI      {s.url}",
            f"login           {USERNAME} / {stack.password}   (kept in {s.password_file})",
            f"aws_default  -> localaws {s.localaws_tls_url} (CA {s.ca_bundle}; HTTP on {s.localaws_url})",
            f"logs            {s.airflow_home}/airflow.log, {s.airflow_home}/localaws.log, task logs in"
            f" {s.airflow_home}/logs",
            "Ctrl-C stops everything (or `make down` from another shell).",
            "",
        ]
    )


def up(settings: Settings) -> int:
    """Start, print the URL and login, wait for Ctrl-C or SIGTERM (or a component dying), stop everything."""
    stack = Stack(settings)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if not stopping.is_set():  # a second Ctrl-C must not interrupt the stopping
            stopping.set()
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(f"Starting localaws and airflow standalone in {settings.airflow_home} (about a minute)...", flush=True)
    started = time.monotonic()
    try:
        stack.start()
        print(f"Ready in {time.monotonic() - started:.0f} s.{banner(stack)}", flush=True)
        while True:
            time.sleep(1)
            for child in stack.children:
                if child.process.poll() is not None:
                    raise StartupError(f"{child.name} exited ({child.process.returncode}); last lines:\n{child.tail()}")
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except StartupError as error:
        print(f"make up: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stopping.set()
        stack.stop()
        if stack.stragglers:
            print(
                f"Killed {len(stack.stragglers)} process(es) that had left their group: {stack.stragglers}", flush=True
            )
        print("Stopped: nothing this run started is left running.", flush=True)


def down(settings: Settings, timeout_s: float = 90) -> int:
    path = settings.state_file
    if not path.exists():
        print(f"Nothing to stop: no {path}.")
        return 0
    state = json.loads(path.read_text())
    pid = int(state["pid"])
    # Only the supervisor that wrote the file: a PID reused by another process since is left alone.
    if process_started(pid) == state.get("pid_started"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # the supervisor stops its children in order
            print(f"Asked make up (pid {pid}) to stop...", flush=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.5)
    # Whatever the supervisor could not stop (it was killed, say) is stopped here, by group and by marker.
    token = str(state["token"])
    for pgid in state.get("children", {}).values():
        # A group is ours only while its leader still carries this run's marker.
        if group_alive(int(pgid)) and int(pgid) in marked_pids(token):
            stop_group(int(pgid), None, signal.SIGTERM, 10)
    leftovers = kill_marked(token)
    with contextlib.suppress(OSError):
        path.unlink()
    print(f"Stopped{f' (and {len(leftovers)} leftover process(es))' if leftovers else ''}.")
    return 0


def process_started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the PID, its identity."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(OSError):
        if "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text():
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help=f"AIRFLOW_HOME (default {DEFAULT_HOME})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="Airflow API server / UI port (default 8080)")
    parser.add_argument("--localaws-port", type=int, default=4566, help="localaws HTTP port; HTTPS is the next one")
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args(argv)
    settings = Settings(
        airflow_home=args.home.resolve(),
        host=args.host,
        api_port=args.port,
        localaws_port=args.localaws_port,
        parallelism=args.parallelism,
    )
    return up(settings) if args.command == "up" else down(settings)


if __name__ == "__main__":
    raise SystemExit(main())
