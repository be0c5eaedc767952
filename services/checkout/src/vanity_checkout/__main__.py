import asyncio

from vanity_common.cli import service_main

from vanity_checkout.app import create_app
from vanity_checkout.bootstrap import build_container
from vanity_checkout.settings import CheckoutSettings, load_settings


def recover(settings: CheckoutSettings, _args: list[str]) -> int:
    """`python -m vanity_checkout recover`: one recovery sweep now (what the beat job does):
    resumes or compensates every saga whose lease lapsed or whose retry or wait came due."""

    async def sweep() -> int:
        async with build_container(settings, pool_size=2) as services:
            return await services.saga.recover_expired_leases()

    print(f"claimed {asyncio.run(sweep())} saga(s)")
    return 0


main = service_main(
    load_settings, create_app, "vanity_checkout", extra_commands={"recover": recover}
)

if __name__ == "__main__":
    main()
