# Shared fixtures for every test folder: throwaway databases (SQLite, MariaDB) and token minting,
# from the test-only package libs/testkit (vanity_testkit).


pytest_plugins = ["vanity_testkit.plugin"]
