# syntax=docker/dockerfile:1
# The storefront and admin console (vanity/web): the Vite build of web/ served by
# web/static_server.py (Starlette + uvicorn). Build from the repository root:
#   docker build -f deploy/docker/web.Dockerfile -t vanity/web:$(git rev-parse --short HEAD) .
# deploy/k8s/base/web/web.yaml runs it as uid 10001 on a read-only root filesystem, behind Kong's
# `web` upstream. Nothing in it calls anybody: the browser calls /api through the gateway.

# ---- build: exactly the committed package-lock.json (npm ci), then `vite build` into dist/
FROM node:20.20.2-bookworm-slim AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --loglevel=error
COPY web/index.html web/vite.config.ts web/tsconfig.json ./
COPY web/public/ public/
COPY web/src/ src/
RUN npm run build

# ---- server: Starlette and uvicorn at the versions of uv.lock (its export is the constraint
# file), nothing else of the workspace; uv needs every member's pyproject.toml to read the lock.
FROM python:3.11.14-slim-bookworm AS server
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY gateway/pyproject.toml gateway/pyproject.toml
COPY web/static_server.py /app/static_server.py
RUN --mount=type=cache,target=/root/.cache/uv \
    uv export --frozen --no-dev --all-packages --no-emit-workspace --no-hashes \
      --output-file /tmp/uv-lock.txt \
 && uv venv /app/.venv --python /usr/local/bin/python3.11 \
 && uv pip install --python /app/.venv/bin/python --constraint /tmp/uv-lock.txt \
      starlette uvicorn uvloop httptools

# ---- runtime: the same pinned Python as the services, the venv, the server and the build
FROM python:3.11.14-slim-bookworm AS runtime
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_HOST=0.0.0.0 \
    WEB_HTTP_PORT=8080 \
    WEB_ROOT=/app/dist
RUN groupadd --system --gid 10001 vanity \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vanity
COPY --from=server /app /app
COPY --from=build /web/dist /app/dist
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# exec form: Python is PID 1 and receives the signals (uvicorn shuts down gracefully on TERM)
ENTRYPOINT ["python", "/app/static_server.py"]
