from vanity_common.migrations import run_env

from vanity_checkout.tables import metadata

run_env(metadata)
