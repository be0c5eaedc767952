from vanity_common.cli import service_main

from vanity_cart.app import create_app
from vanity_cart.settings import load_settings

main = service_main(load_settings, create_app, "vanity_cart")

if __name__ == "__main__":
    main()
