#!/usr/bin/env bash
# The embedded demo: SQLite and a file-system Celery broker under var/, the demo data, real worker processes
# (the CPU worker and a critic worker) and the web server on 127.0.0.1:8000. Ctrl-C stops them all.
# Running it again adds nothing twice.
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

if [ -z "${CRITIC_MODEL:-}" ]; then
  # No real critic configured: a tiny random-weight one, built here offline, so the whole pipeline runs.
  export CRITIC_MODEL="$var/tiny-critic"
  [ -f "$CRITIC_MODEL/config.json" ] || $PY manage.py build_tiny_critic "$CRITIC_MODEL"
  echo "CRITIC_MODEL is not set: using the random-weight demo critic in $CRITIC_MODEL (its verdicts mean nothing)."
  # Random weights never stop by themselves: short answers, and one thread (a model this small gains nothing
  # from more, and they fight the web server and the other worker for the cores).
  export CRITIC_MAX_NEW_TOKENS="${CRITIC_MAX_NEW_TOKENS:-96}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
fi

workers=()
stop() {
  trap - INT TERM EXIT
  [ ${#workers[@]} -gt 0 ] && kill "${workers[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  echo "Stopped the web server and the workers."
}
trap stop INT TERM EXIT

# The CPU worker (with the sweeper's schedule) and one critic worker: one model per process.
$PY -m celery -A webapp worker -Q default --pool=solo --hostname "default@%h" --loglevel INFO \
  --beat --schedule "$var/celerybeat-schedule" >"$var/worker-default.log" 2>&1 &
workers+=($!)
$PY -m celery -A webapp worker -Q critic --pool=threads --concurrency=1 --hostname "critic@%h" --loglevel INFO \
  >"$var/worker-critic.log" 2>&1 &
workers+=($!)
echo "Workers started on the 'default' and 'critic' queues (logs: $var/worker-*.log)."
$PY manage.py judge --dataset "Demo: shapes, counts and charts" --only-missing
port="${DEMO_PORT:-8000}"
echo "Critic Desk: http://127.0.0.1:$port/  (Ctrl-C stops it)"
$PY manage.py runserver "127.0.0.1:$port" --noreload
