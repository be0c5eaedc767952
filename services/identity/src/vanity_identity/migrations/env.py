from vanity_common.migrations import run_env

from vanity_identity.tables import metadata

run_env(metadata)
