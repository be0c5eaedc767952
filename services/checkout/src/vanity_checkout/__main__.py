from vanity_common.cli import service_main

from vanity_checkout.app import create_app
from vanity_checkout.settings import load_settings

main = service_main(load_settings, create_app, "vanity_checkout")

if __name__ == "__main__":
    main()
