from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import yaml
from vanity_gateway.render import render
from vanity_testkit.gateway import KONG_YML, FixedClock
from vanity_testkit.tokens import generate_key

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def echo_upstream():
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "echo_upstream.py")], stdout=subprocess.PIPE, text=True
    )
    port = int(proc.stdout.readline())
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "echo upstream did not start"
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_key(d)
    return d


@pytest.fixture(scope="session")
def other_keys_dir(tmp_path_factory):
    """A key pair the gateway does not know (for 'Invalid signature')."""
    d = tmp_path_factory.mktemp("otherkeys")
    generate_key(d)
    return d


@pytest.fixture
def doc(keys_dir):
    """The committed kong.yml rendered with the test keys (a fresh copy per test)."""
    from vanity_gateway.render import public_keys

    return render(yaml.safe_load(KONG_YML.read_text()), public_keys(keys_dir))


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as s:
        yield s
