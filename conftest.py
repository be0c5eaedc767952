# Shared fixtures for every test folder: throwaway databases (SQLite, MariaDB) and token minting.
pytest_plugins = ["vanity_common.testing"]
