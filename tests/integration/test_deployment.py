"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the file
parses, every command is one the CLI has, every variable a setting, and the
PostgreSQL connection budget holds at --scale api=3."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from infra.cli import app as cli
from infra.settings import Settings
from tests.support.projections import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
MAX_CONNECTIONS = 100  # PostgreSQL's default
RESERVED = 3  # superuser_reserved_connections
SCALE = {"api": 3, "projector": 2, "deliverer": 1}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def care_services(compose: dict) -> dict[str, dict]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("care-episodes")
    }


def cli_commands() -> dict[str, object]:
    import typer.main

    group = typer.main.get_command(cli)
    commands: dict[str, object] = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        commands[name] = command
        for sub, subcommand in getattr(command, "commands", {}).items():
            commands[f"{name} {sub}"] = subcommand
    return commands


def resolve(argv: list[str]) -> tuple[object, list[str]]:
    """The CLI command an argv names, and the options it passes."""
    assert argv[0] == "care-episodes", argv
    commands = cli_commands()
    words = [w for w in argv[1:] if not w.startswith("-")]
    for length in (2, 1):
        name = " ".join(words[:length])
        if name in commands:
            return commands[name], [w for w in argv[1:] if w.startswith("--")]
    raise AssertionError(f"no CLI command for {argv}")


def test_the_compose_file_parses_and_every_care_service_uses_the_image(compose):
    services = care_services(compose)
    assert set(services) == {"init", "api", "projector", "deliverer"}
    assert compose["services"]["proxy"]["ports"] == ["8080:8080"]


def test_every_command_and_health_check_is_a_command_of_the_cli(compose):
    for name, service in care_services(compose).items():
        argvs = [service["command"]]
        if "healthcheck" in service:
            argvs.append(service["healthcheck"]["test"][1:])
        for argv in argvs:
            command, options = resolve(argv)
            known = {o for p in command.params for o in p.opts}  # type: ignore[attr-defined]
            assert set(options) <= known, (name, argv)


def test_every_environment_variable_is_a_setting(compose):
    fields = {f"CARE_{name.upper()}" for name in Settings.model_fields}
    for name, service in care_services(compose).items():
        for variable in service["environment"]:
            assert variable in fields, (name, variable)


def test_the_api_scales_without_a_fixed_host_port(compose):
    api = compose["services"]["api"]
    assert "ports" not in api and api["expose"] == ["8000"]
    nginx = compose["configs"]["nginx"]["content"]
    assert "resolver 127.0.0.11" in nginx and "proxy_buffering off" in nginx


def test_the_connection_budget_fits_postgres_default_at_three_api_replicas(compose):
    env = compose["services"]["api"]["environment"]
    per_pool = int(env["CARE_POSTGRES_POOL_SIZE"]) + int(
        env["CARE_POSTGRES_MAX_OVERFLOW"]
    )
    workers = int(
        shlex.join(compose["services"]["api"]["command"])
        .split("--workers ")[1]
        .split()[0]
    )
    schema_lock = 1  # each process, while it creates tables at start
    api = SCALE["api"] * workers * (per_pool + schema_lock)
    projector = SCALE["projector"] * (
        per_pool + schema_lock + 1
    )  # + its lock connection
    deliverer = SCALE["deliverer"] * (per_pool + schema_lock + 1)  # + its lock
    init = per_pool + schema_lock
    total = api + projector + deliverer + init
    assert total <= MAX_CONNECTIONS - RESERVED, total
    # and the file says so, with the same figures
    header = COMPOSE.read_text()
    assert f"= {api}" in header and f"= {projector}" in header
    assert f"= {deliverer}" in header
    assert re.search(
        rf"total at --scale api=3: {total} of {MAX_CONNECTIONS - RESERVED}", header
    )


def test_secrets_are_readable_by_the_service_user_only(compose):
    user = re.search(r"^USER (\d+):(\d+)$", DOCKERFILE.read_text(), re.M)
    assert user and user.group(1) != "0"
    for name, service in care_services(compose).items():
        [secret] = service["secrets"]
        assert (secret["uid"], secret["gid"]) == (user.group(1), user.group(2)), name
        assert secret["mode"] == 0o400, name


def test_the_image_installs_the_package_it_runs():
    text = DOCKERFILE.read_text()
    assert text.startswith("# ") and "FROM python:3.11-slim" in text
    for package in ("domain", "projections", "infra", "api"):
        assert f"COPY {package} {package}" in text
    assert "pip install ." in text
    assert Path(ROOT / "pyproject.toml").exists()
