"""tools/backup.py against the MariaDB on 3306, in a throwaway database: a dump restores the
rows it was taken with, its manifest catches a damaged file, and restoring refuses one.
(The whole point-in-time recovery runs on a scratch server: `make dr-drill`.)"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools.backup import (  # noqa: E402
    Server,
    binlog_position_of,
    restore_backup,
    take_backup,
    verify_backup,
)

pytestmark = [
    pytest.mark.mariadb,
    pytest.mark.skipif(shutil.which("mariadb-dump") is None, reason="mariadb-dump is missing"),
]


@pytest.fixture
def database(mariadb_url) -> tuple[Server, str]:
    url = make_url(mariadb_url)
    server = Server(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
    )
    conn = server.connect(url.database)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40)) ENGINE=InnoDB")
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, f"item {i}") for i in range(50)])
    conn.close()
    return server, url.database


def rows(server: Server, database: str) -> list[tuple]:
    conn = server.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, name FROM items ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def test_a_backup_restores_the_rows_it_was_taken_with(database, tmp_path):
    server, name = database
    before = rows(server, name)
    folder, manifest = take_backup(server, tmp_path, [name])

    written = json.loads((folder / "manifest.json").read_text())
    assert [d["database"] for d in written["databases"]] == [name]
    assert verify_backup(folder) == []
    if manifest.binlog_enabled:  # the position is the dump's own, read back from its header
        dump = manifest.dumps[0]
        assert (dump.binlog_file, dump.binlog_position) == binlog_position_of(folder / dump.file)
        assert dump.binlog_position > 0

    conn = server.connect()
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{name}`")  # lost
    conn.close()
    restore_backup(server, folder)
    assert rows(server, name) == before


def test_a_damaged_dump_is_reported_and_never_restored(database, tmp_path):
    server, name = database
    folder, manifest = take_backup(server, tmp_path, [name])
    dump = folder / manifest.dumps[0].file
    dump.write_text(dump.read_text().replace("item 7", "item X"))

    assert verify_backup(folder) == [f"{dump.name}: sha256 differs from the manifest"]
    conn = server.connect(name)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM items WHERE id = 7")
    conn.close()
    with pytest.raises(RuntimeError, match="damaged"):
        restore_backup(server, folder)
    assert len(rows(server, name)) == 49  # nothing was loaded


def test_the_binlog_position_is_read_from_the_dump_header(tmp_path):
    dump = tmp_path / "x.sql"
    dump.write_text(
        "-- MariaDB dump\n--\n-- Position to start replication or point-in-time recovery from\n"
        "--\n\n-- CHANGE MASTER TO MASTER_LOG_FILE='drill-bin.000002', MASTER_LOG_POS=4711;\n"
    )
    assert binlog_position_of(dump) == ("drill-bin.000002", 4711)
    dump.write_text("-- MariaDB dump without a position\n")
    assert binlog_position_of(dump) == (None, None)
