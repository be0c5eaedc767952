"""tools.suite's process bookkeeping (psutil): what `Suite.stop()` relies on to report and clean
up every process the suite left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tools/ is a package at the repository root

from tools.suite import process_tree, rss_kib, running  # noqa: E402


def test_process_tree_reaches_grandchildren():
    shell = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True
    )
    try:
        grandchild = int(shell.stdout.readline())
        tree = process_tree(shell.pid)
        assert tree[0].pid == shell.pid
        assert grandchild in {p.pid for p in tree}
        assert rss_kib(shell.pid) > 0
    finally:
        for process in process_tree(shell.pid)[::-1]:
            process.kill()
        shell.wait()
        shell.stdout.close()
    assert process_tree(shell.pid) == []
    assert rss_kib(shell.pid) == 0


def test_a_zombie_is_not_running():
    child = subprocess.Popen(["sleep", "60"])
    process = psutil.Process(child.pid)
    assert running(process)
    child.kill()
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert process.status() == psutil.STATUS_ZOMBIE
    assert not running(process)
    child.wait()
    assert not running(process)
