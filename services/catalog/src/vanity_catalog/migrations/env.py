from vanity_common.migrations import run_env

from vanity_catalog.tables import metadata

run_env(metadata)
