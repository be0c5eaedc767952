# syntax=docker/dockerfile:1
# One image per service, all from this file. Build from the repository root (the uv workspace):
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=catalog \
#     -t vanity/catalog:$(git rev-parse --short HEAD) .
# Runs `python -m vanity_<SERVICE> serve`; the same image runs `migrate`, `seed` and the Celery
# worker/beat (`celery -A vanity_<SERVICE>.worker ...`). Configuration comes from the environment only.

# ---- builder: resolve the locked dependencies into /app/.venv (no dev group, no editables)
FROM python:3.11.14-slim-bookworm AS builder
ARG SERVICE
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install uv==0.13.9
WORKDIR /src
# uv needs every workspace member's pyproject.toml to read the lock; only the members
# vanity-<SERVICE> depends on are built and installed.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY gateway/pyproject.toml gateway/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable \
      --package "vanity-${SERVICE:?build with --build-arg SERVICE=<name>}"

# ---- runtime: the same pinned Python, the virtualenv only, a numeric non-root user
FROM python:3.11.14-slim-bookworm AS runtime
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VANITY_SERVICE=${SERVICE} \
    ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    GRPC_HOST=0.0.0.0 \
    GRPC_PORT=50051 \
    DATA_DIR=/tmp/vanity
RUN groupadd --system --gid 10001 vanity \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vanity
COPY --from=builder /app/.venv /app/.venv
WORKDIR /app
USER 10001:10001
EXPOSE 8080 50051
# An exec-form ENTRYPOINT cannot expand a variable: sh expands it once and `exec`s Python (PID 1,
# receives the signals); the CMD or the pod's args arrive as "$@".
ENTRYPOINT ["/bin/sh", "-c", "exec python -m \"vanity_${VANITY_SERVICE}\" \"$@\"", "vanity"]
CMD ["serve"]
