"""The backup CronJob's dump script (deploy/k8s/overlays/production/backup-cronjob.yaml), run as
written against a scratch MariaDB with binary logging: it dumps every vanity_* database and
nothing else, records each dump's binlog position, and writes a manifest that tools/backup.py
verifies and restores from."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools.backup import binlog_position_of, restore_backup, verify_backup  # noqa: E402
from tools.dr_drill import ScratchMariaDB  # noqa: E402

CRONJOB = ROOT / "deploy" / "k8s" / "overlays" / "production" / "backup-cronjob.yaml"

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mariadb-install-db", "mariadb-dump", "mariadb"))
    or not (shutil.which("mariadbd") or Path("/usr/sbin/mariadbd").exists()),
    reason="MariaDB server and client tools are not installed",
)


def dump_script() -> str:
    docs = list(yaml.safe_load_all(CRONJOB.read_text()))
    job = next(d for d in docs if d["kind"] == "CronJob")
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return next(c for c in pod["initContainers"] if c["name"] == "dump")["args"][0]


@pytest.fixture
def scratch(tmp_path):
    server = ScratchMariaDB(tmp_path / "mariadb")
    server.root.mkdir()
    try:
        server.install()
        server.start()
        yield server
    finally:
        server.stop()


def test_the_cronjob_dumps_every_service_database_with_its_binlog_position(scratch, tmp_path):
    scratch.sql("CREATE DATABASE vanity_alpha")
    scratch.sql("CREATE TABLE vanity_alpha.items (id INT PRIMARY KEY) ENGINE=InnoDB")
    scratch.sql("INSERT INTO vanity_alpha.items VALUES (1), (2), (3)")
    scratch.sql("CREATE DATABASE vanity_beta")
    scratch.sql("CREATE DATABASE unrelated")
    out = tmp_path / "backup"
    out.mkdir()
    env = dict(
        os.environ,
        MARIADB_HOST="127.0.0.1",
        MARIADB_PORT=str(scratch.port),
        MARIADB_USER="root",
        MARIADB_PASSWORD="",
    )
    proc = subprocess.run(
        ["/bin/bash", "-ceu", dump_script().replace("/backup", str(out))],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr

    folder = out / (out / "STAMP").read_text().strip()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["binlog_enabled"] is True
    assert [d["database"] for d in manifest["databases"]] == ["vanity_alpha", "vanity_beta"]
    for dump in manifest["databases"]:
        position = binlog_position_of(folder / dump["file"])
        assert (dump["binlog_file"], dump["binlog_position"]) == position
        assert dump["binlog_position"] > 0
    assert verify_backup(folder) == []

    scratch.sql("DROP DATABASE vanity_alpha")
    restore_backup(scratch.server, folder)
    assert scratch.sql("SELECT COUNT(*) FROM vanity_alpha.items") == [(3,)]
