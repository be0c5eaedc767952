"""`python -m vanity_cart [serve|migrate|seed|outbox|expire-guest-carts]`."""

from __future__ import annotations

import asyncio
import json

from vanity_common.cli import service_main

from vanity_cart.app import create_app
from vanity_cart.bootstrap import build_container
from vanity_cart.settings import CartSettings, load_settings


def expire_guest_carts(settings: CartSettings, _args: list[str]) -> int:
    """What the beat job does, now: deletes the abandoned guest carts."""

    async def run() -> int:
        async with build_container(settings, pool_size=2) as services:
            return await services.cart.expire_guest_carts(settings.guest_expiry_batch)

    print(json.dumps({"expired": asyncio.run(run())}))
    return 0


main = service_main(
    load_settings,
    create_app,
    "vanity_cart",
    extra_commands={"expire-guest-carts": expire_guest_carts},
)

if __name__ == "__main__":
    main()
