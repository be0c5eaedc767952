"""Signing keys in KEYS_DIR (docs/auth.md): `<key-id>.private.pem`, `<key-id>.public.pem` and
`active` (the signing key id). Every public key in the folder verifies; only the active one signs.

Rotation without downtime: `rotate` writes a new pair and then repoints `active` (an atomic
rename); running processes notice the change with one `stat` every few seconds, while the old
public key stays published until `retire` removes it, once no token it signed can still be valid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from vanity_common.auth import KeySource, key_id_for, public_jwk

PRIVATE_SUFFIX = ".private.pem"
PUBLIC_SUFFIX = ".public.pem"
ACTIVE_FILE = "active"
log = logging.getLogger(__name__)
# Clock skew allowed by verifiers (TokenVerifier's leeway) plus a margin.
RETIRE_MARGIN_SECONDS = 60


class KeysUnavailableError(RuntimeError):
    """No usable signing key, and this environment may not generate one."""


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    _write_exclusive(tmp, data, mode)
    os.replace(tmp, path)


def generate_key_pair(folder: Path) -> str:
    """A new P-256 pair in `folder` (private key 0600); returns its key id. Does not activate."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_key = private_key.public_key()
    key_id = key_id_for(public_key)
    _write_exclusive(
        folder / f"{key_id}{PRIVATE_SUFFIX}",
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write_atomic(
        folder / f"{key_id}{PUBLIC_SUFFIX}",
        public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    return key_id


def activate(folder: Path, key_id: str) -> None:
    folder = Path(folder)
    if not (folder / f"{key_id}{PRIVATE_SUFFIX}").is_file():
        raise KeysUnavailableError(f"no private key {key_id}{PRIVATE_SUFFIX} in {folder}")
    _write_atomic(folder / ACTIVE_FILE, f"{key_id}\n".encode())


def active_key_id(folder: Path) -> str | None:
    try:
        return (Path(folder) / ACTIVE_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def rotate(folder: Path, *, activate_now: bool = True) -> str:
    """A new key pair; made the signing key unless `activate_now` is False (staged: published for
    verification first, activated later with `activate`)."""
    key_id = generate_key_pair(folder)
    if activate_now:
        activate(folder, key_id)
    return key_id


@dataclass(frozen=True)
class RetirePlan:
    removable: list[str]
    wait_seconds: int


def plan_retire(folder: Path, max_token_lifetime: int, now: float | None = None) -> RetirePlan:
    """Every key but the active one can go once the active one has signed for longer than the
    longest token lifetime: tokens signed by older keys have all expired by then."""
    folder = Path(folder)
    active = active_key_id(folder)
    if active is None:
        raise KeysUnavailableError(f"no active key in {folder}")
    now = time.time() if now is None else now
    since = now - (folder / ACTIVE_FILE).stat().st_mtime
    removable = sorted(
        pem.name.removesuffix(PUBLIC_SUFFIX)
        for pem in folder.glob(f"*{PUBLIC_SUFFIX}")
        if pem.name.removesuffix(PUBLIC_SUFFIX) != active
    )
    wait = max(0, int(max_token_lifetime + RETIRE_MARGIN_SECONDS - since + 0.999))
    return RetirePlan(removable=removable, wait_seconds=wait)


def retire(folder: Path, key_ids: list[str]) -> None:
    folder = Path(folder)
    if active_key_id(folder) in key_ids:
        raise ValueError("the active key cannot be retired")
    for key_id in key_ids:
        for suffix in (PUBLIC_SUFFIX, PRIVATE_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{key_id}{suffix}").unlink()


class KeyStore:
    """Identity's view of KEYS_DIR: the signing key and every published verification key."""

    def __init__(self, folder: Path, *, reload_seconds: float = 5.0) -> None:
        self.folder = Path(folder)
        self.reload_seconds = reload_seconds
        self._checked_at = 0.0
        self._signature: tuple = ()
        self._active_id: str | None = None
        self._private: ec.EllipticCurvePrivateKey | None = None
        self._public: dict[str, ec.EllipticCurvePublicKey] = {}

    def ensure(self, *, allow_generate: bool) -> None:
        """Loads the keys; in development/test generates the first pair when there is none.
        Production never generates: a missing or unusable key refuses to start."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        active = active_key_id(self.folder)
        usable = active is not None and (self.folder / f"{active}{PRIVATE_SUFFIX}").is_file()
        if not usable:
            if not allow_generate:
                raise KeysUnavailableError(
                    f"no active signing key in {self.folder} (expected '{ACTIVE_FILE}' naming a "
                    f"<key-id>{PRIVATE_SUFFIX}); production never generates keys"
                )
            rotate(self.folder)
        self._load()

    def _folder_signature(self) -> tuple:
        stats = []
        for path in sorted(self.folder.iterdir()):
            if path.name.endswith((PUBLIC_SUFFIX, PRIVATE_SUFFIX)) or path.name == ACTIVE_FILE:
                st = path.stat()
                stats.append((path.name, st.st_mtime_ns, st.st_size))
        return tuple(stats)

    def _load(self) -> None:
        signature = self._folder_signature()
        public: dict[str, ec.EllipticCurvePublicKey] = {}
        for pem in self.folder.glob(f"*{PUBLIC_SUFFIX}"):
            key = serialization.load_pem_public_key(pem.read_bytes())
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
                continue
            key_id = pem.name.removesuffix(PUBLIC_SUFFIX)
            if key_id_for(key) != key_id:
                raise KeysUnavailableError(f"{pem.name}: file name is not the key's thumbprint id")
            public[key_id] = key
        active = active_key_id(self.folder)
        if active is None:
            raise KeysUnavailableError(f"no '{ACTIVE_FILE}' file in {self.folder}")
        private = serialization.load_pem_private_key(
            (self.folder / f"{active}{PRIVATE_SUFFIX}").read_bytes(), password=None
        )
        if not isinstance(private, ec.EllipticCurvePrivateKey):
            raise KeysUnavailableError(f"{active}{PRIVATE_SUFFIX} is not an EC key")
        if key_id_for(private.public_key()) != active:
            raise KeysUnavailableError(f"{active}{PRIVATE_SUFFIX} does not match its key id")
        public[active] = private.public_key()
        self._public, self._private, self._active_id = public, private, active
        self._signature = signature
        self._checked_at = time.monotonic()

    def refresh(self, force: bool = False) -> None:
        """Re-reads the folder when it changed (checked at most every `reload_seconds`)."""
        if not force and time.monotonic() - self._checked_at < self.reload_seconds:
            return
        self._checked_at = time.monotonic()
        try:
            if force or self._folder_signature() != self._signature:
                self._load()
        except (OSError, ValueError, KeysUnavailableError) as exc:
            # Keep signing with what we had: a half-written rotation must not take logins down.
            log.warning("keeping current keys: %s", exc)

    def signing_key(self) -> tuple[str, ec.EllipticCurvePrivateKey]:
        self.refresh()
        if self._private is None or self._active_id is None:
            raise KeysUnavailableError("keys not loaded")
        return self._active_id, self._private

    def public_keys(self) -> dict[str, ec.EllipticCurvePublicKey]:
        self.refresh()
        return dict(self._public)

    def jwks(self) -> dict:
        return {"keys": [public_jwk(key, kid) for kid, key in sorted(self.public_keys().items())]}


class StoreKeys(KeySource):
    """The chassis verifier's key source, answered from identity's own key store."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    async def get(self, key_id: str):
        # public_keys() re-checks the folder at most every reload_seconds, so unknown key ids
        # sent by a client cannot make every request re-read the folder.
        return self.store.public_keys().get(key_id)
