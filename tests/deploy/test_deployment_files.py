"""The deployment files an IT team runs: compose.yaml, the Dockerfile and deploy/nginx.conf.

No Docker engine runs here, so the files are checked as far as local tools allow: the compose
client (``docker compose`` or ``docker-compose``) validates compose.yaml when installed; nginx
parses deploy/nginx.conf (with the workers' names pointed at 127.0.0.1 and a throwaway
self-signed certificate); the rest is read as YAML and text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.deploy.nginx import NGINX

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_is_valid_for_the_compose_client(tmp_path: Path) -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("no compose client (docker compose or docker-compose) is installed")
    env = {**os.environ, "PUBLIC_HOST": "listening.example.org"}
    result = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    missing = subprocess.run(
        [*client, "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PUBLIC_HOST"},
        cwd=ROOT,
    )
    assert missing.returncode != 0 and "PUBLIC_HOST" in missing.stderr


def test_compose_topology_two_workers_after_one_migration_behind_a_proxy() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    services = spec["services"]
    assert {"db", "migrate", "worker-1", "worker-2", "proxy"} <= set(services)
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for worker in ("worker-1", "worker-2"):
        needs = services[worker]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        env = services[worker]["environment"]
        assert env["TELEGRAM_MODE"] == "webhook" and env["SLACK_MODE"] == "http"
        # secrets are files (Docker secrets), never values in the compose file
        assert all(not k.endswith(("_TOKEN", "_SECRET", "_PASSWORD")) for k in env)
    assert set(spec["secrets"]) >= {"db_password", "telegram_bot_token", "slack_signing_secret"}


def test_dockerfile_is_slim_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and all("-slim" in line for line in stages)
    final = text.split(stages[-1], 1)[1]
    assert "\nUSER listening" in final
    assert "HEALTHCHECK" in final and "/healthz" in final
    assert "gcc" not in final and "build-essential" not in final


def test_the_proxy_config_parses_with_nginx(tmp_path: Path) -> None:
    if NGINX is None:
        pytest.skip("nginx is not installed (apt nginx-light)")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=listening.test",
            "-keyout",
            str(certs / "privkey.pem"),
            "-out",
            str(certs / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    conf = (
        NGINX_CONF.read_text()
        .replace("worker-1:", "127.0.0.1:")
        .replace("worker-2:", "127.0.0.1:")
        .replace("/etc/nginx/certs", str(certs))
    )
    # nginx -t also opens the pid and log files; keep them in the temporary folder
    conf = f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n" + conf
    (tmp_path / "nginx.conf").write_text(conf)
    result = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
