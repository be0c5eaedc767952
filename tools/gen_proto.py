"""Generates the Python gRPC stubs for proto/ into libs/contracts/src (`make proto`).

With --check it generates into a temporary folder and fails when the committed stubs differ, so
a contract change without regenerated stubs cannot land.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTO_DIR = ROOT / "proto"
OUT_DIR = ROOT / "libs" / "contracts" / "src"


def generate(out: Path) -> None:
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Namespace-free packages: an __init__.py in every generated folder.
    for folder in [out / "vanity", *(p for p in (out / "vanity").rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()


def differences(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right, ignore=["__pycache__"])
    found = [str(right / n) for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.common_dirs:
        found += differences(left / sub, right / sub)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="fail when committed stubs are stale")
    ns = parser.parse_args()
    if ns.check:
        with tempfile.TemporaryDirectory() as tmp:
            generate(Path(tmp))
            stale = differences(Path(tmp) / "vanity", OUT_DIR / "vanity")
        if stale:
            print("gRPC stubs are stale; run `make proto`:\n  " + "\n  ".join(stale))
            return 1
        print("gRPC stubs are up to date")
        return 0
    shutil.rmtree(OUT_DIR / "vanity", ignore_errors=True)
    generate(OUT_DIR)
    print(f"generated stubs into {OUT_DIR / 'vanity'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
