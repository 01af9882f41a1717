"""docker-compose.yml, checked without a Docker daemon: every image pinned, the services a
deployment needs present and started in order, the API scalable behind the proxy, and every
variable Herald reads a real setting."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from herald.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
HERALD = ("migrate", "api", "worker")


def test_every_image_is_pinned_to_a_version() -> None:
    for name, service in SERVICES.items():
        image = service.get("image")
        assert image, f"{name} has no image"
        if "build" in service:
            continue  # Herald's own, built from this checkout
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest" and re.search(r"\d", tag), (name, image)


def test_the_deployment_starts_in_order() -> None:
    def needs(name: str) -> dict[str, str]:
        depends = SERVICES[name].get("depends_on", {})
        if isinstance(depends, list):
            return {d: "service_started" for d in depends}
        return {d: spec["condition"] for d, spec in depends.items()}

    for name in SERVICES:
        assert set(needs(name)) <= set(SERVICES), name
    assert needs("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert needs("temporal-namespace") == {"temporal": "service_healthy"}
    assert needs("migrate") == {"postgres": "service_healthy"}
    for name in ("api", "worker"):
        assert needs(name) == {
            "migrate": "service_completed_successfully",
            "temporal-namespace": "service_completed_successfully",
            "minio-bucket": "service_completed_successfully",
        }


def test_the_api_scales_behind_the_proxy() -> None:
    assert "ports" not in SERVICES["api"]  # replicas would fight over a host port
    # ...and its replicas share their rate-limit counters.
    redis_host = SERVICES["api"]["environment"]["HERALD_REDIS_URL"].split("//")[1].split(":")[0]
    assert redis_host in SERVICES
    assert SERVICES["api"]["expose"] == ["8000"]
    assert SERVICES["proxy"]["ports"] == ["8000:8000"]
    assert "api:8000" in SERVICES["proxy"]["command"]
    assert "ports" not in SERVICES["worker"]


@pytest.mark.parametrize("name", HERALD)
def test_herald_services_set_real_settings_and_what_a_deployment_needs(name: str) -> None:
    environment: dict[str, str] = SERVICES[name]["environment"]
    fields = set(Settings.model_fields)
    herald_variables = {k for k in environment if k.startswith("HERALD_")}
    unknown = {k for k in herald_variables if k.removeprefix("HERALD_").lower() not in fields}
    assert not unknown, f"{name} sets variables Herald does not read: {unknown}"
    assert {
        "HERALD_DATABASE_URL",
        "HERALD_TEMPORAL_ADDRESS",
        "HERALD_SECRET_KEY",
        "HERALD_MEDIA_BACKEND",
        "HERALD_S3_ENDPOINT_URL",
        "HERALD_S3_BUCKET",
    } <= herald_variables
    assert environment["HERALD_DATABASE_URL"].startswith("postgresql+psycopg://")
    host = environment["HERALD_DATABASE_URL"].split("@")[1].split(":")[0]
    assert host in SERVICES and environment["HERALD_TEMPORAL_ADDRESS"].split(":")[0] in SERVICES
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(environment)


def test_every_interpolated_variable_has_a_default_or_says_how_to_set_it() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    readme = (ROOT / "README.md").read_text()
    for match in re.finditer(r"(?<!\$)\$\{([A-Z_]+)(:?[-?])?([^}]*)\}", text):
        variable, kind, rest = match.groups()
        assert kind in (":-", ":?") and rest, f"${{{variable}}} has no default nor message"
        if kind == ":?":
            assert variable in readme, f"{variable} is required but the README never says so"


def test_the_image_holds_every_package_the_distribution_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package
