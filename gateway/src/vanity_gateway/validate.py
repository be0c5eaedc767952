"""`python -m vanity_gateway.validate FILE...`: the strict checker (exit 1 naming every problem)."""

from __future__ import annotations

import sys

import yaml

from .schema import check


def main(argv: list[str] | None = None) -> int:
    files = argv if argv is not None else sys.argv[1:]
    failed = False
    for path in files:
        with open(path, encoding="utf-8") as fh:
            _, errors = check(yaml.safe_load(fh))
        if errors:
            failed = True
            print(f"{path}: INVALID", file=sys.stderr)
            for e in errors:
                print(f"  {e}", file=sys.stderr)
        else:
            print(f"{path}: OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
