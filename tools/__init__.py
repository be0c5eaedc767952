"""Developer tools (codegen, local runner, checks): a package, run from the repository root as
`.venv/bin/python -m tools.<name>` (the Makefile does), imported as `from tools import ...`."""
