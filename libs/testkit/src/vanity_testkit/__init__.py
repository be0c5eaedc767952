"""Test plumbing for every Vanity test folder (a dev-only package, never in a service image).

- `vanity_testkit.plugin`: the pytest plugin the root conftest.py enables (`database_url`,
  `mariadb_url`, `sqlite_url`, `token_minter`).
- `mariadb`: throwaway MariaDB databases for tests and benchmarks (`scratch_databases`).
- `TokenMinter`: access tokens in identity's format signed by a temporary key pair.
- `TcpProxy`: a loopback forwarder a test cuts and restores to inject an outage.
- `FakeClock`: an injected `now()` that tests move instead of sleeping.
"""

from vanity_testkit.clock import T0, FakeClock
from vanity_testkit.mariadb import mariadb_reachable, require_mariadb, scratch_databases
from vanity_testkit.tcp_proxy import TcpProxy
from vanity_testkit.tokens import TokenMinter

__all__ = [
    "T0",
    "FakeClock",
    "TcpProxy",
    "TokenMinter",
    "mariadb_reachable",
    "require_mariadb",
    "scratch_databases",
]
