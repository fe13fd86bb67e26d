"""The Airflow UI as a newcomer meets it after `make up`, driven in Debian's headless Chromium by Playwright.

The stack is started with `make up` itself (scripts/airflow_up.py: localaws + `airflow standalone`), on
free ports and in its own Airflow home (UP_HOME) so it never clashes with a `make up` of yours, and
stopped with `make down`, after which no process it started may be left. One difference: the scheduler
creates no runs from schedules here (`[scheduler] use_job_schedule` off, through the environment), so
the daily analytics DAG's catch-up runs, the hourly verify and the landing watcher's runs do not compete
with the runs this test triggers; the DAGs are unpaused, as `make up` leaves them.

Each step saves a screenshot under test-output/ui/. The browser steps are skipped, saying why, only where no
Chromium is installed (`make test` installs Debian's `chromium` where it can).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from sales_pipeline.config import load_config
from scripts.airflow_up import DAG_IDS, Settings, Stack, free_port, marked_pids, port_taken
from tests.integration.conftest import wait_until_landed

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-output" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
TERMINAL = {"success", "failed"}


def missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"no {CHROMIUM}: install Debian's chromium (`make test` does, as root with apt-get)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (it is in requirements.txt: `make bootstrap`)"
    return None


def free_port_pair() -> int:
    """A port p with p+1 free as well: localaws serves HTTPS on the next port."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and not port_taken("127.0.0.1", port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


class Api:
    """Airflow's REST API (/api/v2) with a JWT from /auth/token, as a script or the CLI would use it."""

    def __init__(self, url: str, password: str) -> None:
        self.base = url
        request = urllib.request.Request(
            f"{url}/auth/token",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            self.token = str(json.loads(reply.read())["access_token"])

    def call(self, path: str, body: Any = None, method: str | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}/api/v2{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read() or b"null")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.call(f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}, "POST")
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.call(f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")["state"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=100"
        return {ti["task_id"]: str(ti["state"]) for ti in self.call(path)["task_instances"]}

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (state := self.run_state(dag_id, run_id)) not in TERMINAL:
            if time.monotonic() > deadline:
                raise AssertionError(f"{dag_id} {run_id} still {state} after {timeout_s} s: "
                                     f"{self.task_states(dag_id, run_id)}")  # fmt: skip
            time.sleep(2)
        return state

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries"
        return self.call(f"{path}/return_value?deserialize=true")["value"]


@dataclass
class Up:
    """A `make up` running in the background, as this test started it."""

    settings: Settings
    make: list[str]
    process: subprocess.Popen[bytes]
    log: Path
    password: str = ""
    token: str = ""  # the marker every process of the run carries (scripts/airflow_up.py)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def up() -> Iterator[Up]:
    home = OUT / "airflow-home"
    shutil.rmtree(home, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    settings = Settings(airflow_home=home, api_port=free_port(), localaws_port=free_port_pair())
    make = ["make", "--no-print-directory", f"UP_HOME={home}", f"AIRFLOW_PORT={settings.api_port}",
            f"LOCALAWS_PORT={settings.localaws_port}"]  # fmt: skip
    env = {**os.environ, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
    log = OUT / "make-up.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([*make, "up"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    running = Up(settings, make, process, log)
    try:
        deadline = time.monotonic() + 240
        while "Ready in" not in running.output():
            assert process.poll() is None, f"make up exited with {process.returncode}:\n{running.output()}"
            assert time.monotonic() < deadline, f"make up not ready in 240 s:\n{running.output()}"
            time.sleep(1)
        running.token = json.loads(settings.state_file.read_text())["token"]
        running.password = json.loads(settings.password_file.read_text())["admin"]
        assert f"admin / {running.password}" in running.output()  # the login make up prints
        yield running
    finally:
        if process.poll() is None:
            subprocess.run([*make, "down"], cwd=REPO, timeout=180, capture_output=True)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def api(up: Up) -> Api:
    return Api(up.settings.url, up.password)


@pytest.fixture(scope="module")
def page(up: Up) -> Iterator[Any]:
    """Headless Chromium; the tests that need it are skipped, saying why, where it is not installed (the
    `make up` / `make down` checks run all the same)."""
    if reason := missing_browser():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=up.settings.url)
        context.set_default_timeout(30_000)
        yield context.new_page()
        browser.close()


def number(value: float) -> str:
    """A bound as the form writes it in aria-valuemin/max: 1000000, 0, 0.5."""
    return str(int(value)) if float(value).is_integer() else str(value)


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full_page)


def expect_text(page: Any, text: str, timeout_ms: int = 30_000) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=timeout_ms)


def test_make_up_settings() -> None:
    """What `make up` starts with: DAGs unpaused, examples off, a small parallelism, aws_default on localaws."""
    stack = Stack(Settings())
    env = stack.airflow_env()
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert int(env["AIRFLOW__CORE__PARALLELISM"]) <= 4
    assert (env["AIRFLOW__API__HOST"], env["AIRFLOW__API__PORT"]) == ("127.0.0.1", "8080")
    connection = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["extra"]["endpoint_url"] == "https://127.0.0.1:4567"
    assert connection["extra"]["region_name"] == load_config(variable_reader=lambda: None).region
    assert connection["login"] == env["AWS_ACCESS_KEY_ID"] == "localaws"


def test_login(page: Any, up: Up) -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r".*/auth/login.*"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(up.password)
    shot(page, "01-login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{up.settings.url}/")
    shot(page, "02-home")


def test_every_dag_is_listed_with_its_docs(page: Any, api: Api) -> None:
    deadline = time.monotonic() + 120
    while {dag["dag_id"] for dag in api.call("/dags?limit=100")["dags"]} < set(DAG_IDS):
        assert time.monotonic() < deadline, "the dag-processor did not parse every DAG in 120 s"
        time.sleep(2)
    page.goto("/dags")
    for dag_id in DAG_IDS:
        expect_text(page, dag_id)
    shot(page, "03-dags", full_page=True)
    for dag_id in DAG_IDS:
        doc_md = api.call(f"/dags/{dag_id}/details")["doc_md"]
        heading = next(line.strip("# ").strip() for line in doc_md.splitlines() if line.strip())
        page.goto(f"/dags/{dag_id}")
        page.get_by_test_id("markdown-button").click()
        expect_text(page, heading)
        shot(page, f"04-docs-{dag_id}")
        page.keyboard.press("Escape")


def test_every_trigger_form_explains_its_params(page: Any, api: Api) -> None:
    for dag_id in DAG_IDS:
        params = api.call(f"/dags/{dag_id}/details")["params"]
        page.goto(f"/dags/{dag_id}")
        page.get_by_test_id("trigger-dag-button").click()
        dialog = page.get_by_role("dialog")
        for name, param in params.items():
            schema = param.get("schema", {})
            expect_text(dialog, param["description"])
            if "minimum" in schema:  # a number box that knows its bounds (the browser refuses values outside)
                control = dialog.locator(f'[id="number-input:element_{name}:inc"]').get_attribute("aria-controls")
                box = dialog.locator(f'[id="{control}"]')
                bounds = (box.get_attribute("aria-valuemin"), box.get_attribute("aria-valuemax"))
                assert bounds == (number(schema["minimum"]), number(schema["maximum"])), (dag_id, name, bounds)
        shot(page, f"05-trigger-form-{dag_id}", full_page=True)
        page.keyboard.press("Escape")


def test_provision_from_the_trigger_form_succeeds_on_localaws(page: Any, api: Api, up: Up) -> None:
    page.goto("/dags/sales_stream_provision")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    control = dialog.locator('[id="number-input:element_shard_count:inc"]').get_attribute("aria-controls")
    dialog.locator(f'[id="{control}"]').fill("3")
    shot(page, "06-provision-form-filled", full_page=True)
    dialog.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url(re.compile(r".*/dags/sales_stream_provision/runs/.+"))
    run_id = urllib.parse.unquote(page.url.split("/runs/", 1)[1].split("/", 1)[0])
    shot(page, "07-provision-running")
    assert api.wait_for_run("sales_stream_provision", run_id, timeout_s=180) == "success"
    page.reload()
    expect_text(page, "Success")
    shot(page, "08-provision-success")
    # What the user asked for, in the (local) AWS account: three shards.
    kinesis = localaws_client(up, "kinesis")
    summary = kinesis.describe_stream_summary(StreamName=load_config().kinesis_stream_name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3


def localaws_client(up: Up, service: str) -> Any:
    s = up.settings
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=s.localaws_tls_url, verify=str(s.ca_bundle), region_name=load_config().region,
        aws_access_key_id="localaws", aws_secret_access_key="localaws",
    )  # fmt: skip


def test_analytics_run_shows_its_report_summary(page: Any, api: Api, up: Up) -> None:
    simulator = api.trigger("sales_order_simulator", {"orders": 300, "seed": 7, "rate_per_s": 5000})
    assert api.wait_for_run("sales_order_simulator", simulator, timeout_s=120) == "success"
    expected = api.xcom("sales_order_simulator", simulator, "simulate")
    config = load_config()
    wait_until_landed(localaws_client(up, "s3"), config.bucket, config.data_prefix, expected["changes"], 90)

    refresh = api.trigger("sales_catalog_refresh", {})
    assert api.wait_for_run("sales_catalog_refresh", refresh, timeout_s=150) == "success"

    day = dt.datetime.fromtimestamp(expected["first_write_epoch_s"], dt.UTC).date().isoformat()
    analytics = api.trigger("sales_analytics", {"report_date": day})
    api.wait_for_run("sales_analytics", analytics, timeout_s=240)  # data_quality may fail on findings
    assert api.task_states("sales_analytics", analytics)["publish_report"] == "success"
    summary = api.xcom("sales_analytics", analytics, "publish_report")
    assert summary["report_date"] == day
    assert summary["headline"]["live_orders"] == expected["live_orders"]

    run_url = f"/dags/sales_analytics/runs/{urllib.parse.quote(analytics, safe='')}"
    page.goto(run_url)
    shot(page, "09-analytics-run")
    page.goto(f"{run_url}/tasks/publish_report")
    # The summary table publish_report logs: a row per query, with its kind, rows, findings and cost.
    for text in ("findings", "engine ms", "headline", "revenue_by_product"):
        expect_text(page, text)
    shot(page, "10-analytics-summary-log")
    page.goto(f"{run_url}/tasks/publish_report/xcom")
    expect_text(page, "return_value")
    page.get_by_role("button", name=re.compile("expand", re.IGNORECASE)).first.click()
    expect_text(page, f'"live_orders": {expected["live_orders"]}')
    expect_text(page, summary["report_uri"])
    shot(page, "11-analytics-summary-xcom", full_page=True)


def test_make_down_stops_everything_make_up_started(up: Up) -> None:
    """`make down` stops the `make up` running in the background; not one process of the run is left."""
    down = subprocess.run([*up.make, "down"], cwd=REPO, capture_output=True, text=True, timeout=180)
    assert down.returncode == 0, down.stdout + down.stderr
    assert up.process.wait(timeout=60) == 0
    assert "Stopped: nothing this run started is left running." in up.output()
    assert "left their group" not in up.output()  # every process stopped with its group, none hunted down
    assert marked_pids(up.token) == []
    s = up.settings
    for port in (s.api_port, s.localaws_port, s.localaws_port + 1):
        assert not port_taken(s.host, port), port
    assert not s.state_file.exists()
