"""Consistent per-service logical backups of MariaDB (`make backup`, `python -m tools.backup`).

Every `vanity_*` database (one per service) is dumped on its own with `mariadb-dump
--single-transaction --master-data=2`: one InnoDB snapshot per database, and the binary-log
file/position of that snapshot written into the dump as a comment. MariaDB reads the position
from the same snapshot (`binlog_snapshot_file/position`), so no global read lock is held while
the shop keeps writing. Services never share a transaction, so a snapshot per database is all the
consistency there is to have; point-in-time recovery replays each database's binary log from its
own position (tools/dr_drill.py, docs/operations.md).

The backup is a timestamped folder under .data/backups with one `<database>.sql` per database
and `manifest.json`: server, databases, binlog positions, sha256 and size of every file.
`python -m tools.backup verify <folder>` re-checks the checksums; `restore` loads a backup.

The password, if any, comes from MARIADB_PASSWORD and reaches the client tools through their
environment (MYSQL_PWD), never their command line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / ".data" / "backups"
DATABASE_PATTERN = "vanity\\_%"
# `-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000001', MASTER_LOG_POS=1234;`
_POSITION = re.compile(r"MASTER_LOG_FILE='([^']+)',\s*MASTER_LOG_POS=(\d+)")


@dataclass(frozen=True)
class Server:
    """Where a MariaDB answers; every client tool gets exactly these (no option files)."""

    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    socket: str | None = None

    def client_args(self) -> list[str]:
        # --no-defaults must come first: no ~/.my.cnf or /etc/mysql may redirect the tool.
        args = ["--no-defaults", f"--user={self.user}"]
        if self.socket:
            return [*args, f"--socket={self.socket}", "--protocol=SOCKET"]
        return [*args, f"--host={self.host}", f"--port={self.port}", "--protocol=TCP"]

    def client_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MYSQL_PWD", None)
        if self.password:
            env["MYSQL_PWD"] = self.password
        return env

    def connect(self, database: str | None = None) -> pymysql.Connection:
        kwargs = {"unix_socket": self.socket} if self.socket else {}
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            connect_timeout=5,
            **kwargs,
        )

    def describe(self) -> str:
        return self.socket or f"{self.host}:{self.port}"


@dataclass
class DatabaseDump:
    database: str
    file: str
    sha256: str
    bytes: int
    binlog_file: str | None
    binlog_position: int | None
    seconds: float


@dataclass
class Manifest:
    created_at: str
    server: str
    server_version: str
    binlog_enabled: bool
    dumps: list[DatabaseDump] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": 1,
                "tool": "mariadb-dump --single-transaction --master-data=2",
                "created_at": self.created_at,
                "server": self.server,
                "server_version": self.server_version,
                "binlog_enabled": self.binlog_enabled,
                "databases": [d.__dict__ for d in self.dumps],
            },
            indent=2,
        )

    @classmethod
    def load(cls, folder: Path) -> Manifest:
        raw = json.loads((folder / "manifest.json").read_text())
        return cls(
            created_at=raw["created_at"],
            server=raw["server"],
            server_version=raw["server_version"],
            binlog_enabled=raw["binlog_enabled"],
            dumps=[DatabaseDump(**d) for d in raw["databases"]],
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def service_databases(server: Server) -> list[str]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW DATABASES LIKE %s", (DATABASE_PATTERN,))
            return sorted(row[0] for row in cur.fetchall())
    finally:
        conn.close()


def _server_facts(server: Server) -> tuple[str, bool]:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION(), @@log_bin")
            version, log_bin = cur.fetchone()
        return str(version), bool(int(log_bin))
    finally:
        conn.close()


def binlog_position_of(dump: Path) -> tuple[str | None, int | None]:
    """The position mariadb-dump wrote near the top of the dump (--master-data=2)."""
    with dump.open(encoding="utf-8", errors="replace") as f:
        for _, line in zip(range(200), f, strict=False):
            match = _POSITION.search(line)
            if match:
                return match.group(1), int(match.group(2))
    return None, None


def dump_database(server: Server, database: str, folder: Path, binlog: bool) -> DatabaseDump:
    target = folder / f"{database}.sql"
    args = [
        "mariadb-dump",
        *server.client_args(),
        "--single-transaction",  # one InnoDB snapshot, no table locks
        "--quick",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        "--databases",  # CREATE DATABASE + USE: the dump restores on its own
        database,
    ]
    if binlog:
        args.insert(-2, "--master-data=2")  # the snapshot's binlog position, as a comment
    started = time.perf_counter()
    with target.open("wb") as out:
        proc = subprocess.run(args, stdout=out, stderr=subprocess.PIPE, env=server.client_env())
    if proc.returncode != 0:
        raise RuntimeError(f"mariadb-dump {database} failed: {proc.stderr.decode().strip()}")
    seconds = time.perf_counter() - started
    binlog_file, position = binlog_position_of(target) if binlog else (None, None)
    if binlog and position is None:
        raise RuntimeError(f"{target}: mariadb-dump wrote no binlog position")
    return DatabaseDump(
        database=database,
        file=target.name,
        sha256=sha256_of(target),
        bytes=target.stat().st_size,
        binlog_file=binlog_file,
        binlog_position=position,
        seconds=round(seconds, 3),
    )


def take_backup(
    server: Server, out_dir: Path = DEFAULT_OUT, databases: list[str] | None = None
) -> tuple[Path, Manifest]:
    """Dumps `databases` (default: every vanity_* database) into a new timestamped folder."""
    if shutil.which("mariadb-dump") is None:
        raise RuntimeError("mariadb-dump is missing (Debian: apt-get install mariadb-client)")
    databases = databases if databases is not None else service_databases(server)
    if not databases:
        raise RuntimeError(
            f"no vanity_* databases on {server.describe()} (the services create them when "
            "their *_DATABASE_URL points at MariaDB: README, 'Running against MySQL/MariaDB')"
        )
    version, binlog = _server_facts(server)
    now = datetime.now(UTC)
    folder = out_dir / now.strftime("%Y%m%dT%H%M%S.%fZ")
    folder.mkdir(parents=True)
    manifest = Manifest(
        created_at=now.isoformat(),
        server=server.describe(),
        server_version=version,
        binlog_enabled=binlog,
    )
    try:
        for database in databases:
            manifest.dumps.append(dump_database(server, database, folder, binlog))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # never leave a half backup that looks whole
        raise
    (folder / "manifest.json").write_text(manifest.to_json())
    return folder, manifest


def verify_backup(folder: Path) -> list[str]:
    """Problems with a backup folder (missing files, checksum mismatches); empty when sound."""
    manifest = Manifest.load(folder)
    problems = []
    for dump in manifest.dumps:
        path = folder / dump.file
        if not path.exists():
            problems.append(f"{dump.file}: missing")
        elif sha256_of(path) != dump.sha256:
            problems.append(f"{dump.file}: sha256 differs from the manifest")
    return problems


def restore_backup(server: Server, folder: Path, databases: list[str] | None = None) -> Manifest:
    """Loads the dumps (each recreates its database) after checking their checksums."""
    problems = verify_backup(folder)
    if problems:
        raise RuntimeError("backup is damaged: " + "; ".join(problems))
    manifest = Manifest.load(folder)
    for dump in manifest.dumps:
        if databases is not None and dump.database not in databases:
            continue
        with (folder / dump.file).open("rb") as source:
            proc = subprocess.run(
                ["mariadb", *server.client_args(), "--binary-mode"],
                stdin=source,
                stderr=subprocess.PIPE,
                env=server.client_env(),
            )
        if proc.returncode != 0:
            raise RuntimeError(f"restoring {dump.database} failed: {proc.stderr.decode().strip()}")
    return manifest


def _server_from(ns: argparse.Namespace) -> Server:
    return Server(
        host=ns.host,
        port=ns.port,
        user=ns.user,
        password=os.environ.get("MARIADB_PASSWORD", ""),
        socket=ns.socket,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.backup", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "command", nargs="?", default="backup", choices=["backup", "verify", "restore"]
    )
    parser.add_argument("folder", nargs="?", type=Path, help="backup folder (verify, restore)")
    parser.add_argument("--host", default=os.environ.get("MARIADB_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("MARIADB_PORT", "3306")))
    parser.add_argument("--user", default=os.environ.get("MARIADB_USER", "root"))
    parser.add_argument("--socket", default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="parent folder of backups")
    parser.add_argument("--database", action="append", help="only these (default: vanity_*)")
    ns = parser.parse_args(argv)
    server = _server_from(ns)
    if ns.command == "backup":
        try:
            folder, manifest = take_backup(server, ns.out, ns.database)
        except (RuntimeError, pymysql.Error) as exc:
            print(f"backup failed: {exc}", file=sys.stderr)
            return 1
        print(f"backup of {server.describe()} (MariaDB {manifest.server_version}) in {folder}")
        for d in manifest.dumps:
            where = f"{d.binlog_file}:{d.binlog_position}" if d.binlog_file else "no binlog"
            print(f"  {d.database:22} {d.bytes:>10} bytes  {d.seconds:6.2f} s  {where}")
        if not manifest.binlog_enabled:
            print("warning: binary logging is off: no point-in-time recovery past this backup")
        return 0
    if ns.folder is None:
        parser.error(f"{ns.command} needs the backup folder")
    if ns.command == "verify":
        problems = verify_backup(ns.folder)
        for problem in problems:
            print(problem, file=sys.stderr)
        print("backup is sound" if not problems else "backup is damaged")
        return 1 if problems else 0
    manifest = restore_backup(server, ns.folder, ns.database)
    print(f"restored {len(manifest.dumps)} database(s) into {server.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
