# The web image: Django under gunicorn, the one-shot migrations and the CPU worker (imports, exports, metrics, the
# sweeper). requirements/web.txt only: no torch, no transformers, no CUDA, so it stays small and starts fast.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=webapp.settings.production \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media \
    CRITIC_DESK_VAR=/data/var

WORKDIR /app
COPY requirements/web.txt requirements/web.txt
RUN pip install -r requirements/web.txt

COPY . .
# Static files are collected (hashed, compressed) once, here; the build-time key and host only satisfy the
# production settings' checks and are not kept.
RUN DJANGO_SECRET_KEY=collectstatic-only DJANGO_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --noinput \
 && useradd --system --uid 10001 --home-dir /app critic \
 && mkdir -p /data/media /data/var \
 && chown -R critic /data

USER critic
EXPOSE 8000
CMD ["gunicorn", "--config", "python:webapp.gunicorn_conf", "webapp.wsgi"]
