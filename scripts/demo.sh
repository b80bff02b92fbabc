#!/usr/bin/env bash
# The embedded demo: SQLite and a file-system Celery broker under var/, the demo data, a real worker process
# and the web server on 127.0.0.1:8000. Ctrl-C stops both. Running it again adds nothing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

export DJANGO_SETTINGS_MODULE=webapp.settings.base
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
unset DATABASE_URL CELERY_BROKER_URL REDIS_URL
PY=.venv/bin/python
var="${CRITIC_DESK_VAR:-var}"
mkdir -p "$var"

$PY manage.py migrate --noinput | grep -v "^  No migrations" || true
$PY manage.py load_demo

workers=()
stop() {
  trap - INT TERM EXIT
  [ ${#workers[@]} -gt 0 ] && kill "${workers[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "Stopped the web server and the worker."
}
trap stop INT TERM EXIT

$PY -m celery -A webapp worker -Q default --pool=solo --hostname "default@%h" --loglevel INFO \
  >"$var/worker-default.log" 2>&1 &
workers+=($!)
echo "Worker on the 'default' queue started (log: $var/worker-default.log)."
port="${DEMO_PORT:-8000}"
echo "Critic Desk: http://127.0.0.1:$port/  (Ctrl-C stops it)"
$PY manage.py runserver "127.0.0.1:$port" --noreload
