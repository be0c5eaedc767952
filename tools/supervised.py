"""The whole shop under supervisord, for load and chaos runs: a process that dies (or is killed
with SIGKILL) is restarted by supervisor while the rest keeps serving, where honcho (`make run`,
the e2e suite) stops everything when one process exits.

The processes and their environment are tools.suite's (`process_commands`, `Layout.env`,
`prepare`); this module only adds the supervisor, the databases (SQLite files, or one fresh
MariaDB database per service with a private Redis for Celery and the gateway) and the controls a
chaos run needs (kill -9, stop/start, pause/resume a process, cut a service's database link).

    with SupervisedSuite(Layout(tmp, offset=3000), database="mariadb") as suite:
        suite.wait_ready()
        suite.kill("checkout")          # SIGKILL; supervisor brings it back
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import xmlrpc.client
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from supervisor.xmlrpc import SupervisorTransport

from tools.suite import ROOT, SERVICES, Layout, prepare, process_commands, wait_ready

MARIADB_URL = os.environ.get("LOAD_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306")
REDIS_SERVER = "redis-server"
# Shorter than the shop's defaults so a run of a few minutes sees reservations expire,
# abandoned 3-D Secure payments time out and the sweeps run several times.
LOAD_SETTINGS = {
    "LOG_JSON": "true",
    "LOG_LEVEL": "WARNING",
    "CHECKOUT_RESERVATION_TTL_SECONDS": "60",
    "CHECKOUT_PAYMENT_WAIT_MARGIN_SECONDS": "20",
    "CHECKOUT_SAGA_RECOVERY_INTERVAL_SECONDS": "5",
    "CHECKOUT_SAGA_LEASE_SECONDS": "10",
    "INVENTORY_EXPIRY_INTERVAL_S": "5",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_database_name(service: str) -> str:
    return f"vanity_load_{service}"


def recreate_mariadb_databases(server_url: str = MARIADB_URL) -> None:
    """Drops and creates `vanity_load_<service>` for every service (a fresh run each time)."""
    import pymysql

    parts = urlsplit(server_url)
    connection = pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
    )
    try:
        with connection.cursor() as cursor:
            for service in SERVICES:
                name = load_database_name(service)
                cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    finally:
        connection.close()


class ProxyThread:
    """vanity_testkit.TcpProxy on an event loop of its own thread, so a synchronous runner can
    cut and restore a service's database connection."""

    def __init__(self, host: str, port: int) -> None:
        from vanity_testkit import TcpProxy

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.proxy = self._run(TcpProxy(host, port).start())

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    @property
    def port(self) -> int:
        return self.proxy.port

    def cut(self) -> None:
        self._run(self.proxy.cut())

    def restore(self) -> None:
        self._run(self.proxy.restore())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class SupervisedSuite:
    layout: Layout
    database: str = "sqlite"  # or "mariadb" (+ a private Redis)
    proxied_service: str | None = None  # its database link goes through a TcpProxy (chaos)
    extra_env: dict[str, str] = field(default_factory=dict)
    redis_port: int | None = None
    db_proxy: ProxyThread | None = None
    process: subprocess.Popen | None = None

    @property
    def run_dir(self) -> Path:
        return self.layout.data_dir / "supervisor"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "supervisor.sock"

    def log_path(self, program: str) -> Path:
        return self.run_dir / f"{program}.log"

    def database_url(self, service: str) -> str:
        if self.database == "mariadb":
            url = f"{MARIADB_URL}/{load_database_name(service)}"
            if service == self.proxied_service and self.db_proxy is not None:
                parts = urlsplit(MARIADB_URL)
                url = url.replace(
                    f"{parts.hostname}:{parts.port}", f"127.0.0.1:{self.db_proxy.port}"
                )
            return url
        return f"sqlite+aiosqlite:///{self.layout.data_dir / service}.db"

    def env(self) -> dict[str, str]:
        env = {**self.layout.env(), **LOAD_SETTINGS}
        for service in SERVICES:
            env[f"{service.upper()}_DATABASE_URL"] = self.database_url(service)
        if self.redis_port:
            env["REDIS_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        env.update(self.extra_env)
        return env

    def programs(self) -> dict[str, str]:
        programs = dict(process_commands())
        if self.database == "mariadb":
            programs["redis"] = (
                f"{REDIS_SERVER} --port {self.redis_port} --bind 127.0.0.1 --save '' "
                "--appendonly no --protected-mode yes"
            )
        return programs

    def _config(self) -> Path:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        sections = [
            f"[unix_http_server]\nfile={self.socket_path}\n",
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n",
            f"[supervisorctl]\nserverurl=unix://{self.socket_path}\n",
            f"[supervisord]\nnodaemon=true\nlogfile={self.run_dir / 'supervisord.log'}\n"
            f"pidfile={self.run_dir / 'supervisord.pid'}\nchildlogdir={self.run_dir}\n"
            "loglevel=info\n",
        ]
        for name, command in self.programs().items():
            sections.append(
                f"[program:{name}]\ncommand={command}\ndirectory={ROOT}\n"
                # started by start() once the databases are prepared, Redis first
                "autostart=false\nautorestart=true\nstartsecs=1\nstartretries=1000\n"
                "stopsignal=TERM\nstopwaitsecs=10\nstopasgroup=true\nkillasgroup=true\n"
                f"redirect_stderr=true\nstdout_logfile={self.log_path(name)}\n"
                "stdout_logfile_maxbytes=50MB\nstdout_logfile_backups=0\n"
            )
        path = self.run_dir / "supervisord.conf"
        path.write_text("\n".join(sections))
        return path

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> SupervisedSuite:
        self.layout.data_dir.mkdir(parents=True, exist_ok=True)
        if self.database == "mariadb":
            self.redis_port = free_port()
            recreate_mariadb_databases()
            if self.proxied_service:
                parts = urlsplit(MARIADB_URL)
                self.db_proxy = ProxyThread(parts.hostname or "127.0.0.1", parts.port or 3306)
        env = {**os.environ, **self.env()}
        config = self._config()
        self.process = subprocess.Popen(
            [str(ROOT / ".venv/bin/supervisord"), "-c", str(config)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_for_supervisor()
        if self.database == "mariadb":
            self.rpc.supervisor.startProcess("redis", True)
        outer = dict(os.environ)
        try:
            os.environ.update(self.env())
            prepare(self.layout, quiet=True)
        finally:
            os.environ.clear()
            os.environ.update(outer)
        for name in process_commands():
            self.rpc.supervisor.startProcess(name, False)
        return self

    def _wait_for_supervisor(self, within: float = 20.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, xmlrpc.client.Fault):
                if self.rpc.supervisor.getState()["statename"] == "RUNNING":
                    return
            time.sleep(0.1)
        raise RuntimeError(f"supervisord did not start: see {self.run_dir / 'supervisord.log'}")

    @property
    def rpc(self) -> xmlrpc.client.ServerProxy:
        transport = SupervisorTransport(None, None, f"unix://{self.socket_path}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def wait_ready(self, within: float = 120.0) -> dict[str, bool]:
        status = asyncio.run(wait_ready(self.layout, within=within))
        if not all(status.values()):
            failing = ", ".join(k for k, ok in status.items() if not ok)
            raise RuntimeError(f"suite not ready after {within}s: {failing}; see {self.run_dir}")
        return status

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError, xmlrpc.client.Fault):
            self.rpc.supervisor.stopAllProcesses(True)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self.process = None
        if self.db_proxy is not None:
            self.db_proxy.close()

    def __enter__(self) -> SupervisedSuite:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---------------------------------------------------------------- chaos controls

    def pid(self, program: str) -> int:
        return int(self.rpc.supervisor.getProcessInfo(program)["pid"])

    def state(self, program: str) -> str:
        return self.rpc.supervisor.getProcessInfo(program)["statename"]

    def kill(self, program: str) -> int:
        """SIGKILL to the program's process (not via supervisor, as a crash would be)."""
        pid = self.pid(program)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop_program(self, program: str) -> None:
        self.rpc.supervisor.stopProcess(program, True)

    def start_program(self, program: str) -> None:
        self.rpc.supervisor.startProcess(program, True)

    def restart_program(self, program: str) -> None:
        self.stop_program(program)
        self.start_program(program)

    def pause(self, program: str) -> None:
        """SIGSTOP: the process keeps its sockets (connections are accepted by the kernel) but
        answers nothing: every caller's deadline runs out, as with a hung dependency."""
        os.kill(self.pid(program), signal.SIGSTOP)

    def resume(self, program: str) -> None:
        os.kill(self.pid(program), signal.SIGCONT)

    def database_urls(self) -> dict[str, str]:
        """What tools.audit reads (directly, not through a chaos proxy)."""
        if self.database == "mariadb":
            return {s: f"{MARIADB_URL}/{load_database_name(s)}" for s in SERVICES}
        return {s: self.database_url(s) for s in SERVICES}
