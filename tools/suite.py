"""The whole shop as processes: prepare (migrate, seed, keys, gateway config), a Procfile for
honcho, readiness polling, and a `Suite` that starts and stops it all (for e2e tests and
measurements). `make run` (tools.run_local) uses the same pieces.

Ports can be shifted by an offset so a test suite can run beside a developer's `make run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SERVICES = {
    "identity": (8001, 50051),
    "catalog": (8002, 50052),
    "inventory": (8003, 50053),
    "cart": (8004, 50054),
    "checkout": (8005, 50055),
    "payments": (8006, 50056),
}
GATEWAY_PORT = 8000
GATEWAY_STATUS_PORT = 8100
# The identity the suite's own tools (readiness polling, e2e checks) call gRPC with.
TOOLS_IDENTITY = "vanity-tools"
# The web app's static upstream (web/static_server.py serving web/dist, built by `make web`);
# the gateway routes the home page and the app's sections to it (service `web` in gateway/kong.yml).
WEB_PORT = 8007


@functools.cache
def grpc_callers() -> dict[str, list[str]]:
    """service -> the services whose code calls it over gRPC (read from the code, as the
    NetworkPolicies are: tools.check_k8s.grpc_call_graph)."""
    from tools.check_k8s import grpc_call_graph

    graph = grpc_call_graph()
    return {name: sorted(c for c, peers in graph.items() if name in peers) for name in SERVICES}


@dataclass(frozen=True)
class Layout:
    data_dir: Path
    offset: int = 0

    def http(self, service: str) -> int:
        return SERVICES[service][0] + self.offset

    def grpc(self, service: str) -> int:
        return SERVICES[service][1] + self.offset

    @property
    def web(self) -> int:
        return WEB_PORT + self.offset

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{GATEWAY_PORT + self.offset}"

    @property
    def tls_dir(self) -> Path:
        """Development CA and certificates for gRPC mutual TLS (tools.local_setup makes them)."""
        return self.data_dir / "tls"

    def grpc_channel(self, service: str):
        """A mutual-TLS channel to `service`'s gRPC port, as the suite's tools (async with)."""
        import grpc
        from vanity_common.tls import GrpcTls

        tls = GrpcTls(
            ca_pem=(self.tls_dir / "ca.pem").read_bytes(),
            cert_pem=(self.tls_dir / f"{TOOLS_IDENTITY}.pem").read_bytes(),
            key_pem=(self.tls_dir / f"{TOOLS_IDENTITY}-key.pem").read_bytes(),
        )
        return grpc.aio.secure_channel(f"127.0.0.1:{self.grpc(service)}", tls.channel_credentials())

    def ports(self) -> list[int]:
        """Every TCP port the suite listens on."""
        ports = [self.http(s) for s in SERVICES] + [self.grpc(s) for s in SERVICES]
        return [*ports, GATEWAY_PORT + self.offset, GATEWAY_STATUS_PORT + self.offset, self.web]

    def env(self) -> dict[str, str]:
        env = {
            "ENV": os.environ.get("ENV", "development"),
            "DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",  # log lines reach honcho (and tests reading them) at once
            "GATEWAY_PORT": str(GATEWAY_PORT + self.offset),
            "GATEWAY_STATUS_PORT": str(GATEWAY_STATUS_PORT + self.offset),
            "GATEWAY_UPSTREAMS": str(self.data_dir / "upstreams.yml"),
            "GATEWAY_CONFIG": str(self.data_dir / "gateway" / "kong.yml"),
            "KEYS_DIR": str(self.data_dir / "keys"),
            # The gateway stand-in reaches the services from 127.0.0.1: its X-Forwarded-For
            # names the real client (identity's per-IP throttles key on it). Other peers' are
            # ignored.
            "TRUSTED_PROXIES": "127.0.0.1",
            "WEB_HTTP_PORT": str(self.web),
            # Internal gRPC is mutual TLS, as in a deployment: every service (and the Celery
            # worker's tasks, which read the same per-service names) shows its own certificate.
            "GRPC_TLS_CA_FILE": str(self.tls_dir / "ca.pem"),
        }
        for name in SERVICES:
            env[f"{name.upper()}_HTTP_PORT"] = str(self.http(name))
            env[f"{name.upper()}_GRPC_PORT"] = str(self.grpc(name))
            env[f"{name.upper()}_GRPC_TARGET"] = f"127.0.0.1:{self.grpc(name)}"
            env[f"{name.upper()}_GRPC_TLS_CERT_FILE"] = str(self.tls_dir / f"{name}.pem")
            env[f"{name.upper()}_GRPC_TLS_KEY_FILE"] = str(self.tls_dir / f"{name}-key.pem")
            # Only the services whose code calls it (health answers anyone with a certificate).
            callers = grpc_callers()[name] or ["none"]
            env[f"{name.upper()}_GRPC_ALLOWED_CALLERS"] = ",".join(callers)
        return env

    def write_upstreams(self) -> Path:
        path = self.data_dir / "upstreams.yml"
        lines = ["# generated by tools/suite.py: Kong service name -> local URL"]
        lines += [f"{name}: http://127.0.0.1:{self.http(name)}" for name in SERVICES]
        lines.append(f"web: http://127.0.0.1:{self.web}")
        path.write_text("\n".join(lines) + "\n")
        return path


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_offset(first: int, step: int = 20, tries: int = 40) -> int:
    """The first offset from `first` (in steps) at which every port of the suite is free: a
    test run must not fail, or talk to someone else's processes, because a developer's suite, a
    benchmark or another program already holds a port of the usual block."""
    for offset in range(first, first + step * tries, step):
        if all(port_free(port) for port in Layout(Path("."), offset).ports()):
            return offset
    raise RuntimeError(f"no free block of ports for the suite from offset {first}")


def process_commands() -> dict[str, str]:
    """Process name -> command line of every process of the suite (honcho's Procfile and
    tools.supervised's supervisord programs are both made from it)."""
    queues = ",".join(SERVICES)
    commands = {s: f"{PYTHON} -m vanity_{s} serve" for s in SERVICES}
    commands["gateway"] = f"{PYTHON} -m vanity_gateway"
    commands["web"] = f"{PYTHON} {ROOT / 'web' / 'static_server.py'}"  # port: WEB_HTTP_PORT
    # One worker for every service's queue on one machine; one per service in Kubernetes.
    commands["worker"] = (
        f"{PYTHON} -m celery -A tools.local_worker worker -B --pool=solo "
        f"-Q {queues} --loglevel=INFO"
    )
    return commands


def procfile(layout: Layout) -> Path:
    lines = [f"{name}: {command}" for name, command in process_commands().items()]
    path = layout.data_dir / "Procfile"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _migrate_and_seed(quiet: bool) -> None:
    from vanity_common.migrations import migrate

    for service in SERVICES:
        settings = importlib.import_module(f"vanity_{service}.settings").load_settings()
        await migrate(f"vanity_{service}", settings.database_url)
        if importlib.util.find_spec(f"vanity_{service}.seed") is not None:
            await importlib.import_module(f"vanity_{service}.seed").seed(settings)
        if not quiet:
            kind = settings.database_url.split("://")[0]
            print(f"  {service:<10} migrated and seeded ({kind})", flush=True)


def prepare(layout: Layout, quiet: bool = False) -> None:
    """Everything before the processes start. Runs in this process with layout.env() applied."""
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    os.environ.update(layout.env())
    from tools import local_setup

    # first: seeding builds service containers, whose channel pools load the certificates
    local_setup.prepare_grpc_certificates(layout.tls_dir, [*SERVICES, TOOLS_IDENTITY])
    asyncio.run(_migrate_and_seed(quiet))
    local_setup.prepare_keys_and_gateway(layout.data_dir)
    layout.write_upstreams()


async def _http_ok(client, url: str) -> bool:
    import httpx

    try:
        return (await client.get(url, timeout=1.0)).status_code == 200
    except httpx.HTTPError:
        return False


async def _grpc_serving(layout: Layout, service: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with layout.grpc_channel(service) as channel:
        try:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
    return answer.status == health_pb2.HealthCheckResponse.SERVING


async def wait_ready(layout: Layout, within: float = 120.0) -> dict[str, bool]:
    """Polls every /readyz, every gRPC health check and a route through the gateway."""
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient() as client:
        while True:
            names = [f"{s} http" for s in SERVICES] + [f"{s} grpc" for s in SERVICES]
            checks = [
                _http_ok(client, f"http://127.0.0.1:{layout.http(s)}/readyz") for s in SERVICES
            ]
            checks += [_grpc_serving(layout, s) for s in SERVICES]
            names.append("gateway")
            checks.append(_http_ok(client, f"{layout.gateway}/api/v1/products?limit=1"))
            status = dict(zip(names, await asyncio.gather(*checks), strict=True))
            if all(status.values()) or time.monotonic() > deadline:
                return status
            await asyncio.sleep(0.25)


def process_tree(pid: int) -> list[psutil.Process]:
    """The process `pid` and every process below it (empty when it is gone)."""
    try:
        top = psutil.Process(pid)
        return [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def rss_kib(pid: int) -> int:
    try:
        return psutil.Process(pid).memory_info().rss // 1024
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def running(process: psutil.Process) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's reaping is left)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class Suite:
    """Starts the whole shop under honcho in its own session; `stop()` is Ctrl-C."""

    def __init__(self, layout: Layout, log_path: Path | None = None) -> None:
        self.layout = layout
        self.log_path = log_path or layout.data_dir / "suite.log"
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> Suite:
        self.started_at = time.monotonic()
        outer_environment = dict(os.environ)
        try:
            prepare(self.layout, quiet=True)
        finally:
            # prepare() applies the layout's environment to this process; a test session goes
            # on here, and its in-process services must not inherit the suite's ports, gRPC
            # certificates or allow lists (the suite's processes get them below).
            os.environ.clear()
            os.environ.update(outer_environment)
        env = {**os.environ, **self.layout.env()}
        honcho = str(ROOT / ".venv" / "bin" / "honcho")
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [honcho, "start", "-f", str(procfile(self.layout)), "-d", str(ROOT)],
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 120.0) -> float:
        status = asyncio.run(wait_ready(self.layout, within=timeout))
        if not all(status.values()):
            failing = ", ".join(k for k, ok in status.items() if not ok)
            raise RuntimeError(
                f"suite not ready after {timeout}s: {failing}; the end of {self.log_path}:\n"
                + self.log_tail()
            )
        return time.monotonic() - self.started_at

    def log_tail(self, lines: int = 60) -> str:
        """The last lines the suite's processes printed (why it did not start, in a CI log)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no log: {error})"
        return "\n".join(text.splitlines()[-lines:])

    def processes(self) -> set[int]:
        return {p.pid for p in process_tree(self.process.pid)} if self.process else set()

    def stop(self, timeout: float = 30.0) -> set[int]:
        """Sends Ctrl-C (SIGINT) to honcho; returns the processes still alive afterwards."""
        if self.process is None:
            return set()
        tracked = process_tree(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(running(p) for p in tracked):
            time.sleep(0.1)
        leftovers = [p for p in tracked if running(p)]
        for process in leftovers:  # never leave a test machine dirty, but report it
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.log_file.close()
        self.process = None
        return {p.pid for p in leftovers}


if __name__ == "__main__":
    sys.exit("use `make run` (tools.run_local) or `python -m tools.measure_suite`")
