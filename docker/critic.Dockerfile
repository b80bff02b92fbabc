# The critic image: one GPU worker on the `critic` queue, one model per container. CUDA torch, transformers and
# bitsandbytes on top of the web requirements (requirements/critic.txt). Never torchvision.
FROM python:3.11-slim

# Linux x86-64 torch wheels on PyPI are CUDA builds that carry their own CUDA libraries: the host needs only the
# NVIDIA driver and nvidia-container-toolkit. To pick another CUDA build of the same version, pass a PyTorch wheel
# index, e.g. --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128
ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=webapp.settings.production \
    MEDIA_ROOT=/data/media \
    CRITIC_DESK_VAR=/data/var \
    HF_HOME=/cache/huggingface

WORKDIR /app
COPY requirements/web.txt requirements/critic.txt requirements/
RUN pip install "torch==${TORCH_VERSION}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} \
 && pip install -r requirements/critic.txt \
 && ! pip show torchvision >/dev/null 2>&1

COPY . .
RUN useradd --system --uid 10001 --home-dir /app critic \
 && mkdir -p /data/media /data/var /cache/huggingface /models \
 && chown -R critic /data /cache

USER critic
CMD ["celery", "-A", "webapp", "worker", "-Q", "critic", "--pool=threads", "--concurrency=1", \
     "--hostname", "critic@%h", "--without-mingle", "--without-gossip"]
