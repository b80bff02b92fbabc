"""Settings come from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

from webapp.celery import CRITIC_QUEUE, DEFAULT_QUEUE, app


def run_django(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = run_django({"DJANGO_SETTINGS_MODULE": "webapp.settings.production", "DJANGO_ALLOWED_HOSTS": "x"}, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    result = run_django(
        {"DJANGO_SETTINGS_MODULE": "webapp.settings.production", "DJANGO_SECRET_KEY": "k" * 50}, "check"
    )
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must be set" in result.stderr


def test_debug_off_needs_a_secret_key_in_any_settings() -> None:
    result = run_django({"DJANGO_SETTINGS_MODULE": "webapp.settings.base", "DJANGO_DEBUG": "false"}, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_bad_values_are_named() -> None:
    result = run_django({"CRITIC_QUANTIZATION": "fp3"}, "check")
    assert "CRITIC_QUANTIZATION must be nf4, int8 or none" in result.stderr
    result = run_django({"CRITIC_BATCH_SIZE": "many"}, "check")
    assert "CRITIC_BATCH_SIZE must be an integer" in result.stderr


def test_production_settings_pass_the_deploy_check() -> None:
    env = {
        "DJANGO_SETTINGS_MODULE": "webapp.settings.production",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-0123456789-abcdefghijklmnop",
        "DJANGO_ALLOWED_HOSTS": "critic.example.org",
    }
    result = run_django(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr


def test_critic_work_is_routed_to_the_critic_queue() -> None:
    route = app.amqp.router.route({}, "critic_worker.tasks.judge_batch")
    assert route["queue"].name == CRITIC_QUEUE
    assert app.amqp.router.route({}, "annotations.tasks.anything")["queue"].name == DEFAULT_QUEUE
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1


PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "webapp.settings.production",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-0123456789-abcdefghijklmnop",
    "DJANGO_ALLOWED_HOSTS": "critic.example.org",
}


def test_production_logs_are_json_lines_on_stdout() -> None:
    code = (
        "import logging\n"
        "log = logging.getLogger('annotations.services.imports')\n"
        "log.info('imported %d items', 12, extra={'dataset': 'demo'})\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError:\n    logging.getLogger('celery.worker').exception('batch failed')\n"
    )
    result = run_django(PRODUCTION, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["level"] == "INFO"
    assert lines[0]["logger"] == "annotations.services.imports"
    assert lines[0]["message"] == "imported 12 items"
    assert lines[0]["dataset"] == "demo"
    assert lines[0]["time"].endswith("+00:00")
    assert lines[1]["level"] == "ERROR"
    assert lines[1]["logger"] == "celery.worker"
    assert "ZeroDivisionError" in lines[1]["exception"]


def test_production_serves_hashed_compressed_static_files() -> None:
    code = "from django.conf import settings; print(settings.STORAGES['staticfiles']['BACKEND'], settings.MIDDLEWARE)"
    result = run_django(PRODUCTION, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("whitenoise.storage.CompressedManifestStaticFilesStorage ")
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in result.stdout


def test_healthz_needs_no_login_and_reports_a_database_that_does_not_answer() -> None:
    code = (
        "from django.test import Client\n"
        "r = Client().get('/healthz', HTTP_HOST='critic.example.org', secure=True)\n"
        "print(r.status_code, r.content.decode().strip())\n"
    )
    db = settings.DATABASES["default"]
    up = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    result = run_django(PRODUCTION | {"DATABASE_URL": up}, "shell", "--no-imports", "-c", code)
    assert result.stdout.splitlines()[-1] == "200 ok", result.stderr
    down = "postgres://postgres@127.0.0.1:1/nothing"  # nothing listens on port 1
    result = run_django(PRODUCTION | {"DATABASE_URL": down}, "shell", "--no-imports", "-c", code)
    assert result.stdout.splitlines()[-1] == "503 database unavailable", result.stderr
