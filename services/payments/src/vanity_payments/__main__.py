from vanity_common.cli import service_main

from vanity_payments.app import create_app
from vanity_payments.settings import load_settings

main = service_main(load_settings, create_app, "vanity_payments")

if __name__ == "__main__":
    main()
