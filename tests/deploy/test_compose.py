"""docker-compose.yaml is a valid Compose file whose every reference resolves in this repo.

No Docker engine is needed: the file is validated against the Compose specification's JSON schema (the
copy check-jsonschema ships, offline), then read as Compose would read it: each bind mount's source,
the build context's Dockerfile and what it copies, each env file, each `python -m` module and each
command-line flag localaws is given must exist; the services the Airflow containers depend on must be
defined; the aws_default connection of the local env file must point at the localaws service's own
HTTPS port and CA file; the real-AWS env file must point at AWS itself.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sales_pipeline.config import load_config

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def resolve(value: str) -> str:
    """Compose interpolation with every variable unset: ``${VAR:-default}`` becomes its default."""
    return DEFAULT.sub(lambda m: m.group(2), value).replace("$$", "$")


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount (a named volume's source has no slash)."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = resolve(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def command_line(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]


def test_it_is_a_valid_compose_file() -> None:
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_has_the_official_shape_with_localexecutor(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "localaws", "airflow-init", *AIRFLOW_SERVICES}
    common = compose["x-airflow-common"]
    assert common["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "postgres" in common["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    for name in (*AIRFLOW_SERVICES, "airflow-init"):  # the anchor is merged into each
        assert services[name]["image"] == services["localaws"]["image"] == common["image"]
    expected = {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert {services[name]["command"] for name in AIRFLOW_SERVICES} == expected
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == depends["localaws"]["condition"] == "service_healthy"
        assert set(depends) <= set(services)


def test_every_mounted_path_exists(compose: dict[str, Any]) -> None:
    mounted = {target: source for service in compose["services"].values() for source, target in bind_mounts(service)}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= set(mounted)
    for target, source in mounted.items():
        assert (REPO / source).exists(), f"{source} (mounted at {target}) is not in the repo"
    named = {resolve(v).split(":")[0] for s in compose["services"].values() for v in s.get("volumes", [])}
    assert {n for n in named if not n.startswith((".", "/"))} <= set(compose["volumes"])


def test_the_image_builds_from_this_repo_with_the_pinned_lock(compose: dict[str, Any]) -> None:
    contexts = {resolve(str(s["build"])) for s in [compose["x-airflow-common"], *compose["services"].values()]
                if "build" in s}  # fmt: skip
    assert contexts == {"."}
    dockerfile = (REPO / "Dockerfile").read_text()
    base = re.search(r"^FROM apache/airflow:(\S+)-python(\S+)$", dockerfile, re.M)
    assert base, "FROM apache/airflow:<version>-python<version>"
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == base.group(1), "the image's Airflow is the lock's"
    for source in re.findall(r"^COPY (?:--\S+ )*(\S+) ", dockerfile, re.M):
        assert (REPO / source).exists(), source
    assert re.search(r"pip install .*-r \S*requirements\.txt", dockerfile)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "!requirements.txt" in ignored  # the build context keeps what the Dockerfile copies


def test_every_env_file_exists_and_loads_as_a_pipeline_config(compose: dict[str, Any]) -> None:
    env_files = [resolve(str(f)) for f in compose["x-airflow-common"]["env_file"]]
    assert env_files == ["deploy/compose/localaws.env"]
    for path in (REPO / env_files[0], REPO / ".env.aws.example"):
        values = read_env_file(path)
        json.loads(values["AIRFLOW_CONN_AWS_DEFAULT"])
        pipeline = {k: v for k, v in values.items() if k.startswith("SALES_PIPELINE_")}
        load_config(environ=pipeline, variable_reader=lambda: None)  # valid, or ConfigError names the field
    real = json.loads(read_env_file(REPO / ".env.aws.example")["AIRFLOW_CONN_AWS_DEFAULT"])
    assert "endpoint_url" not in real.get("extra", {}), "the real-AWS env must not point at an endpoint"
    assert "AWS_ENDPOINT_URL" not in read_env_file(REPO / ".env.aws.example")
    ignored = (REPO / ".gitignore").read_text().split()
    assert {".env.aws", "/.env.aws"} & set(ignored), "credentials in .env.aws stay out of git"


def test_localaws_command_runs_the_module_with_flags_it_knows(compose: dict[str, Any]) -> None:
    service = compose["services"]["localaws"]
    argv = command_line(service)
    assert argv[:3] == ["python", "-m", "localaws"]
    # The module is where the working directory puts it: a mount of this repo's package.
    mounts = {target: source for source, target in bind_mounts(service)}
    package = mounts[f"{service['working_dir']}/localaws"]
    assert (REPO / package / "__main__.py").exists()
    help_text = subprocess.run([sys.executable, "-m", "localaws", "serve", "--help"], capture_output=True,
                               text=True, cwd=REPO, timeout=60, check=True).stdout  # fmt: skip
    for flag in (arg for arg in argv[3:] if arg.startswith("--")):
        assert flag in help_text, f"localaws serve has no {flag}"
    assert argv[3] == "serve"


def test_aws_default_points_at_the_localaws_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    argv = command_line(services["localaws"])
    option = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    local = read_env_file(REPO / "deploy/compose/localaws.env")
    extra = json.loads(local["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]
    assert extra["endpoint_url"] == local["AWS_ENDPOINT_URL"] == f"https://localaws:{option['--tls-port']}"
    assert option["--tls-name"] == "localaws"  # the certificate names the host Airflow dials
    ca_dir = str(Path(extra["verify"]).parent)
    assert ca_dir == option["--tls-dir"] and Path(extra["verify"]).name == "localaws-ca.pem"
    # The CA's directory is one named volume: written by localaws, read by every Airflow container.
    written = {resolve(v).split(":")[0] for v in services["localaws"]["volumes"] if resolve(v).split(":")[1] == ca_dir}
    for name in AIRFLOW_SERVICES:
        read = {resolve(v).split(":")[0] for v in services[name]["volumes"] if resolve(v).split(":")[1] == ca_dir}
        assert read == written and len(written) == 1, name
