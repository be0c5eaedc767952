"""deploy/docker/web.Dockerfile (the storefront's image) passes `make docker-check`
(tools/check_dockerfiles.py: hadolint + the project's rules), and each web rule catches the
mistake it exists for."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools import check_dockerfiles  # noqa: E402

WEB = check_dockerfiles.WEB_DOCKERFILE


def broken(tmp_path: Path, old: str, new: str) -> list[str]:
    text = WEB.read_text()
    assert old in text, old
    path = tmp_path / "web.Dockerfile"
    path.write_text(text.replace(old, new))
    return check_dockerfiles.check_web_dockerfile(path)


def test_the_web_dockerfile_follows_every_rule_and_hadolint():
    assert check_dockerfiles.check_web_dockerfile() == []
    assert check_dockerfiles.hadolint(WEB) == []
    assert check_dockerfiles.check_tree() == []  # `make docker-check` includes it


def test_the_web_image_serves_what_the_k8s_manifest_expects():
    stages = check_dockerfiles.parse(WEB.read_text())
    env = check_dockerfiles._env_values(stages[-1])
    manifest = (ROOT / "deploy" / "k8s" / "base" / "web" / "web.yaml").read_text()
    assert f'value: "{env["WEB_HTTP_PORT"]}"' in manifest  # WEB_HTTP_PORT
    assert f"containerPort: {env['WEB_HTTP_PORT']}" in manifest
    assert f"runAsUser: {check_dockerfiles.UID}" in manifest


def test_npm_install_or_no_build_is_caught(tmp_path):
    found = broken(tmp_path, "npm ci --no-audit", "npm install --no-audit")
    assert any("does not install with `npm ci`" in p for p in found)
    assert any("runs `npm install`" in p for p in found)
    found = broken(tmp_path, "RUN npm run build\n", "")
    assert any("does not run `npm run build`" in p for p in found)


def test_unpinned_or_missing_node_stage_is_caught(tmp_path):
    found = broken(tmp_path, "node:20.20.2-bookworm-slim", "node:lts-slim")
    assert any("'node:lts-slim' is not pinned" in p for p in found)
    found = broken(
        tmp_path, "FROM node:20.20.2-bookworm-slim AS build", "FROM debian:12.9 AS build"
    )
    assert any("no node build stage" in p for p in found)


def test_a_runtime_not_on_the_services_python_is_caught(tmp_path):
    found = broken(
        tmp_path,
        "FROM python:3.11.14-slim-bookworm AS runtime",
        "FROM python:3.12.8-slim-bookworm AS runtime",
    )
    assert any("is not the services' Python" in p for p in found)


def test_server_packages_outside_the_lock_are_caught(tmp_path):
    found = broken(tmp_path, "--constraint /tmp/uv-lock.txt", "")
    assert any("without the exported lock as --constraint" in p for p in found)
    found = broken(tmp_path, "uv export --frozen", "uv export")
    assert any("do not come from uv.lock" in p for p in found)


def test_root_context_copies_and_missing_settings_are_caught(tmp_path):
    found = broken(tmp_path, "USER 10001:10001", "USER root")
    assert any("USER 'root' is not numeric" in p for p in found)
    found = broken(tmp_path, "COPY --from=build /web/dist /app/dist", "COPY web/dist /app/dist")
    assert any("copies from the build context" in p for p in found)
    assert any("does not copy the build (dist/) from the node stage" in p for p in found)
    found = broken(tmp_path, "    WEB_HOST=0.0.0.0 \\\n", "")
    assert any("WEB_HOST is not 0.0.0.0" in p for p in found)
    found = broken(tmp_path, "WEB_HTTP_PORT=8080", "WEB_HTTP_PORT=8007")
    assert any("WEB_HTTP_PORT is not 8080" in p for p in found)
    found = broken(tmp_path, "EXPOSE 8080", "EXPOSE 8007")
    assert any("does not EXPOSE 8080" in p for p in found)
    found = broken(
        tmp_path,
        'ENTRYPOINT ["python", "/app/static_server.py"]',
        "ENTRYPOINT python /app/static_server.py",
    )
    assert any("ENTRYPOINT is not the exec form" in p for p in found)


def test_a_missing_web_dockerfile_and_a_context_without_web_are_caught(tmp_path):
    for name in (".dockerignore", "deploy/docker/service.Dockerfile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((ROOT / name).read_text())
    assert "deploy/docker/web.Dockerfile: missing (the storefront's image)" in (
        check_dockerfiles.check_tree(tmp_path)
    )
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("*\n!libs\n!services\n")
    found = check_dockerfiles.check_dockerignore(ignore)
    assert ".dockerignore: does not let web/ in (web.Dockerfile builds it)" in found
    assert ".dockerignore: does not keep node_modules out of the context" in found
    assert ".dockerignore: does not keep web/dist out of the context" in found


def test_hadolint_reports_generic_findings_in_the_web_dockerfile(tmp_path):
    path = tmp_path / "web.Dockerfile"
    path.write_text(
        WEB.read_text().replace("WORKDIR /web\n", "RUN cd /web && npm install -g vite\n")
    )
    found = check_dockerfiles.hadolint(path)
    assert any("DL3003" in p for p in found), found  # cd instead of WORKDIR
    assert any("DL3016" in p for p in found), found  # npm package without a version
