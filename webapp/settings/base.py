"""Settings shared by every environment. Every value comes from the environment (12-factor); the defaults
run the embedded demo: SQLite and a file-system Celery broker under var/, no server needed."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from webapp.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CRITIC_DESK_VAR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-for-debug"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "annotations.admin_apps.CriticDeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "ninja",
    "annotations",
    "critic_worker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "webapp.middleware.RefuseNulCharacters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page and API call needs a login; the few public views opt out with @login_not_required.
    # An htmx request whose session expired is sent to the login page as a whole page (not swapped in).
    "webapp.middleware.HtmxLoginRedirect",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "webapp.urls"
# A stale CSRF token (logged out and in from another tab) gets a page that says so, in the layout.
CSRF_FAILURE_VIEW = "webapp.errors.csrf_failure"

# Content-Security-Policy (django-csp): only the app's own scripts, styles, images and fonts; no inline script,
# style or handler anywhere (pages set computed styles from data attributes in annotations/static/.../app.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # data: for the empty favicon
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
WSGI_APPLICATION = "webapp.wsgi.application"
ASGI_APPLICATION = "webapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'critic-desk.sqlite3'}"),
        conn_max_age=600,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # JIT compiles queries whose estimated cost is high; the review desk's per-item subqueries are estimated so
    # (each probe costed as if it ran for every item) and a 0.4 ms query then spent 130 ms compiling.
    # Prepared statements (psycopg prepares a statement on its fifth run on a connection; Django leaves this off
    # for the sake of connection poolers in transaction mode, where DATABASE_PREPARED_STATEMENTS=false): the desk's
    # queries took longer to plan (~1 ms) than to run (~0.2 ms); PostgreSQL's CPU per desk request 1.75 -> 1.15 ms.
    prepared = env_bool("DATABASE_PREPARED_STATEMENTS", True)
    DATABASES["default"]["OPTIONS"] = {
        "options": "-c jit=off",
        "server_side_binding": prepared,
        "prepare_threshold": 5 if prepared else None,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the workers write at once: WAL plus IMMEDIATE transactions avoid "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "webapp.cache.RedisCache", "LOCATION": REDIS_URL}}
    # Sessions read from the shared cache, written through to the database: one query less on every request.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dataset-list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Uploaded images are private evaluation data: MEDIA_ROOT is never served by URL, only through the
# access-checked image view. Set MEDIA_ACCEL_REDIRECT_PREFIX (e.g. "/protected-media/") behind nginx to have
# the web server send the bytes after the view said yes (X-Accel-Redirect).
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/unused-media-url/"
MEDIA_ACCEL_REDIRECT_PREFIX = os.environ.get("MEDIA_ACCEL_REDIRECT_PREFIX", "")

# Limits on uploaded images: bytes per file, and decoded pixels (a decompression bomb is refused unopened).
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 20 * 1024 * 1024)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 40_000_000)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Celery: the broker is only a wake-up call; the database holds every job's state. Queues and routes are
# named in webapp/celery.py.
# A host named, though the file-system transport reads none: kombu warns "No hostname was supplied" otherwise.
EMBEDDED_BROKER_URL = "filesystem://localhost"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", EMBEDDED_BROKER_URL)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 4 * 3600}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS.update(
        data_folder_in=str(_broker_dir / "queue"),
        data_folder_out=str(_broker_dir / "queue"),
        processed_folder=str(_broker_dir / "processed"),
        control_folder=str(_broker_dir / "control"),  # kombu's default is ./control, in whatever folder runs it
        store_processed=False,
    )
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3900)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# The critic (read by critic_worker; the web process never loads it).
CRITIC_MODEL = os.environ.get("CRITIC_MODEL", "")
CRITIC_QUANTIZATION = os.environ.get("CRITIC_QUANTIZATION", "nf4")
if CRITIC_QUANTIZATION not in {"nf4", "int8", "none"}:
    raise ImproperlyConfigured(f"CRITIC_QUANTIZATION must be nf4, int8 or none, not {CRITIC_QUANTIZATION!r}")
CRITIC_DEVICE = os.environ.get("CRITIC_DEVICE", "auto")
CRITIC_BATCH_SIZE = env_int("CRITIC_BATCH_SIZE", 8)
CRITIC_MAX_NEW_TOKENS = env_int("CRITIC_MAX_NEW_TOKENS", 512)
# Retraining: where child checkpoints (adapters, merged weights) are written, and a run's time limit.
RETRAIN_ROOT = Path(os.environ.get("RETRAIN_ROOT") or VAR_DIR / "checkpoints")
RETRAIN_TIME_LIMIT = env_int("RETRAIN_TIME_LIMIT", 24 * 3600)

# One handler, on the root (webapp/logging.py): every line once; production writes JSON lines instead.
LOGGING = logging_config(level=os.environ.get("LOG_LEVEL", "INFO"), json_lines=False)
# A verdict running (or queued) longer than this is taken to be lost (a dead worker, a lost message) and is
# queued again by the sweeper. Longer than the hard time limit, so a live worker is never robbed.
CRITIC_STUCK_AFTER = env_int("CRITIC_STUCK_AFTER", CELERY_TASK_TIME_LIMIT + 60)
# A running verdict's worker stamps it every CRITIC_HEARTBEAT_EVERY seconds; silent for CRITIC_HEARTBEAT_TIMEOUT,
# the worker is taken to be dead (SIGKILL, out of memory, a lost machine) and the sweeper hands the verdict on.
CRITIC_HEARTBEAT_EVERY = env_int("CRITIC_HEARTBEAT_EVERY", 30)
CRITIC_HEARTBEAT_TIMEOUT = env_int("CRITIC_HEARTBEAT_TIMEOUT", 120)
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-verdicts": {
        "task": "critic_worker.tasks.sweep_stuck_verdicts",
        "schedule": float(env_int("CRITIC_SWEEP_EVERY", 60)),
    },
}

# Imports: the largest image archive (expanded) and data file accepted, and how many problems a report lists.
IMPORT_MAX_ARCHIVE_BYTES = env_int("IMPORT_MAX_ARCHIVE_BYTES", 4 * 1024**3)
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 2 * 1024**3)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
