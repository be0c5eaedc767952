from vanity_common.cli import service_main

from vanity_identity.app import create_app
from vanity_identity.cli import COMMANDS
from vanity_identity.seed import seed
from vanity_identity.settings import load_settings

main = service_main(
    load_settings, create_app, "vanity_identity", seed=seed, extra_commands=COMMANDS
)

if __name__ == "__main__":
    main()
