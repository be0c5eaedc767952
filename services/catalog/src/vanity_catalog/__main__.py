from vanity_common.cli import service_main

from vanity_catalog.app import create_app
from vanity_catalog.images.store import setup_command
from vanity_catalog.seed import seed
from vanity_catalog.settings import load_settings

main = service_main(
    load_settings,
    create_app,
    "vanity_catalog",
    seed=seed,
    extra_commands={"images-setup": setup_command},  # the image folder or bucket (versioning on)
)

if __name__ == "__main__":
    main()
