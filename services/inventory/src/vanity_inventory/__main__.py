from vanity_common.cli import service_main

from vanity_inventory.app import create_app
from vanity_inventory.seed import seed
from vanity_inventory.settings import load_settings

main = service_main(load_settings, create_app, "vanity_inventory", seed=seed)

if __name__ == "__main__":
    main()
