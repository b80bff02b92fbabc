"""gunicorn's configuration (`gunicorn --config python:webapp.gunicorn_conf webapp.wsgi`): the web service in
docker-compose.yml and the deployment smoke test both run exactly that command."""

from __future__ import annotations

import os

from webapp.logging import json_logging_config

bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))  # large uploads: imports are checked in the background
accesslog = "-"  # the access log on stdout, as JSON lines like every other log
logconfig_dict = json_logging_config(level=os.environ.get("LOG_LEVEL", "INFO"))
# No runtime control socket: nothing here uses it, and several servers on one host would share its path.
control_socket_disable = True
