"""Every service's command line: `python -m vanity_<name> [serve|migrate|seed]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from vanity_common.app import serve
from vanity_common.logging import configure_logging
from vanity_common.migrations import migrate
from vanity_common.outbox import outbox_command
from vanity_common.settings import ServiceSettings


def service_main(
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], FastAPI],
    package: str,
    seed: Callable[[ServiceSettings], Awaitable[None]] | None = None,
    extra_commands: dict[str, Callable[[ServiceSettings, list[str]], int]] | None = None,
) -> Callable[[], int]:
    def main(argv: list[str] | None = None) -> int:
        parser = argparse.ArgumentParser(prog=package)
        commands = ["serve", "migrate", "seed", "outbox", *(extra_commands or {})]
        parser.add_argument("command", nargs="?", default="serve", choices=commands)
        parser.add_argument("args", nargs=argparse.REMAINDER)
        ns = parser.parse_args(argv)
        settings = settings_factory()
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        if ns.command == "serve":
            serve(app_factory(settings), settings)
        elif ns.command == "migrate":
            settings.check_production()
            asyncio.run(migrate(package, settings.database_url))
        elif ns.command == "seed":
            if seed is not None:
                asyncio.run(seed(settings))
        elif ns.command == "outbox":  # dead messages: list and requeue (vanity_common.outbox)
            return outbox_command(settings.database_url, ns.args)
        else:
            return extra_commands[ns.command](settings, ns.args)
        return 0

    return lambda: sys.exit(main())
