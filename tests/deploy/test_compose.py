"""docker-compose.yml and the images, read without a Docker engine (there is none on the test machines): the file
is valid compose, the services wait for what they need, the workers consume the right queues, the critic reserves
a GPU and can be scaled, and the web image's requirements carry no torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
DJANGO_SERVICES = ("migrate", "web", "critic", "worker", "flower")
MODEL_PACKAGES = ("torch", "torchvision", "transformers", "bitsandbytes", "accelerate", "tokenizers", "safetensors")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [Path(sys.executable).parent / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def requirement_names(path: Path) -> set[str]:
    """The packages a requirements file installs, following its `-r` includes."""
    names: set[str] = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names |= requirement_names(path.parent / line[2:].strip())
        elif line:
            names.add(re.split(r"[\[=<>!~ ;]", line)[0].lower().replace("_", "-"))
    return names


def dockerfile_cmd(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    found = re.search(r"^CMD (\[.*\])$", text, re.MULTILINE)
    assert found, f"{path.name} has no exec-form CMD"
    return list(yaml.safe_load(found.group(1)))


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    result = check_jsonschema(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    # The check can fail: a misspelt key is refused.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((ROOT / "docker-compose.yml").read_text().replace("healthcheck:", "healthchek:", 1))
    assert check_jsonschema(broken).returncode != 0


def test_the_services_and_what_each_waits_for(services: dict[str, Any]) -> None:
    assert set(services) == {"postgres", "redis", "migrate", "web", "critic", "worker", "flower"}
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "critic", "worker"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert services["migrate"]["restart"] == "no"  # one-shot
    for service in services.values():
        for dependency in service.get("depends_on", {}):
            assert dependency in services


def test_healthchecks(services: dict[str, Any]) -> None:
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["web"]["healthcheck"]["test"] == [
        "CMD",
        "python",
        "docker/healthcheck.py",
        "http://127.0.0.1:8000/healthz",
    ]
    assert (ROOT / "docker/healthcheck.py").is_file()
    for worker, node in (("critic", "critic@"), ("worker", "default@")):
        assert f"inspect ping --destination {node}$$HOSTNAME" in services[worker]["healthcheck"]["test"][1]


def test_the_django_services_run_production_settings_from_the_env_file(services: dict[str, Any]) -> None:
    for name in DJANGO_SERVICES:
        service = services[name]
        assert service["env_file"] == [".env"], name
        environment = service["environment"]
        assert environment["DJANGO_SETTINGS_MODULE"] == "webapp.settings.production", name
        assert environment["DATABASE_URL"].startswith("postgres://critic_desk:"), name
        assert "@postgres:5432/critic_desk" in environment["DATABASE_URL"], name
        assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/"), name
        assert environment["MEDIA_ROOT"] == "/data/media", name
        if name != "flower":
            assert "media:/data/media" in service["volumes"], name
    assert services["web"]["command"] == ["gunicorn", "--config", "python:webapp.gunicorn_conf", "webapp.wsgi"]


def test_each_worker_consumes_its_queue(services: dict[str, Any]) -> None:
    critic = services["critic"]["command"]
    assert critic[:4] == ["celery", "-A", "webapp", "worker"]
    assert option(critic, "-Q") == "critic"
    assert {"--pool=threads", "--concurrency=1"} <= set(critic)  # one model per container
    assert option(critic, "--hostname") == "critic@%h"  # each replica has its own name
    assert "--beat" not in critic

    worker = services["worker"]["command"]
    assert worker[:4] == ["celery", "-A", "webapp", "worker"]
    assert option(worker, "-Q") == "default"
    assert "--beat" in worker  # the sweeper's schedule runs here, once


def test_the_critic_reserves_a_gpu_and_scales(services: dict[str, Any]) -> None:
    critic = services["critic"]
    assert critic["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    ]
    # `--scale critic=4` needs replicas that do not collide on a name or a host port.
    assert "container_name" not in critic
    assert "ports" not in critic
    assert critic["build"]["dockerfile"] == "docker/critic.Dockerfile"
    environment = critic["environment"]
    for name, default in {
        "CRITIC_MODEL": "",
        "CRITIC_QUANTIZATION": "nf4",
        "CRITIC_DEVICE": "cuda",
        "CRITIC_BATCH_SIZE": "8",
    }.items():
        assert environment[name] == f"${{{name}:-{default}}}", name


def test_volumes_keep_the_data(compose: dict[str, Any], services: dict[str, Any]) -> None:
    assert {"postgres-data", "redis-data", "media", "model-cache"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    redis = services["redis"]
    assert "redis-data:/data" in redis["volumes"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    critic = services["critic"]
    assert f"model-cache:{critic['environment']['HF_HOME']}" in critic["volumes"]
    assert any(v.endswith(":/models:ro") for v in critic["volumes"])  # converted checkpoints, read-only


def test_flower_is_behind_the_monitoring_profile(services: dict[str, Any]) -> None:
    flower = services["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert flower["command"][:4] == ["celery", "-A", "webapp", "flower"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    assert all(port.startswith("127.0.0.1:") for port in services["web"]["ports"])
    assert all("profiles" not in s for n, s in services.items() if n != "flower")


def test_the_web_image_installs_no_model_stack() -> None:
    dockerfile = (ROOT / "docker/web.Dockerfile").read_text()
    installs = re.findall(r"pip install (.+)", dockerfile)
    assert installs == ["-r requirements/web.txt"]
    assert "FROM python:3.11-slim" in dockerfile
    assert "USER critic" in dockerfile
    assert "collectstatic" in dockerfile
    web = requirement_names(ROOT / "requirements/web.txt")
    assert {"django", "gunicorn", "whitenoise", "celery", "flower"} <= web
    assert not web & set(MODEL_PACKAGES)
    assert not {name for name in web if name.startswith(("nvidia-", "cuda"))}


def test_the_critic_image_installs_the_model_stack_with_pinned_torch() -> None:
    dockerfile = (ROOT / "docker/critic.Dockerfile").read_text()
    assert "pip install -r requirements/critic.txt" in dockerfile
    assert "! pip show torchvision" in dockerfile  # the build fails if anything pulled torchvision in
    critic = requirement_names(ROOT / "requirements/critic.txt")
    assert {"torch", "transformers", "bitsandbytes"} <= critic
    assert "torchvision" not in critic
    pinned = re.search(r"^torch==(\S+)$", (ROOT / "requirements/critic.txt").read_text(), re.MULTILINE)
    assert pinned
    assert f"ARG TORCH_VERSION={pinned.group(1)}" in dockerfile
    assert f"torch=={pinned.group(1)}" in (ROOT / "requirements/constraints.txt").read_text()


def test_the_images_default_commands_are_the_compose_commands(services: dict[str, Any]) -> None:
    assert dockerfile_cmd(ROOT / "docker/web.Dockerfile") == services["web"]["command"]
    assert dockerfile_cmd(ROOT / "docker/critic.Dockerfile") == services["critic"]["command"]


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "var/", "models/"} <= ignored


def test_env_example_lists_every_setting() -> None:
    """Every variable the settings, gunicorn's config or the compose file read is in .env.example."""
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    read: set[str] = set()
    sources = [*(ROOT / "webapp/settings").glob("*.py"), ROOT / "webapp/gunicorn_conf.py"]
    for path in sources:
        if path.name != "test.py":
            read |= set(re.findall(r'(?:environ\.get|env_int|env_bool|env_list)\(\s*"([A-Z0-9_]+)"', path.read_text()))
    read |= set(re.findall(r"\$\{([A-Z0-9_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert {"CRITIC_MODEL", "POSTGRES_PASSWORD"} <= read  # the patterns find what they should
    assert read - listed == set()
