"""Identity's pure rules: e-mail normalisation, password policy, roles and permissions, address
fields, and the lifetime of refresh and reset tokens. No I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email
from vanity_common.types import control_characters

CUSTOMER = "customer"
ADMIN = "admin"
ROLES = frozenset({CUSTOMER, ADMIN})
# Fine-grained admin permissions (the `perms` claim of docs/auth.md).
PERMISSIONS = ("catalog", "inventory", "orders", "users", "payments")
MAX_ADDRESSES_PER_USER = 20
MAX_PASSWORD_LENGTH = 256

# A short list of passwords every guessing attack tries first; longer lists belong in a breach
# corpus check (NIST SP 800-63B 5.1.1.2), which this policy leaves to a later iteration.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "password1234",
        "passw0rd",
        "p@ssw0rd",
        "qwertyuiop",
        "qwerty123",
        "qwerty1234",
        "1234567890",
        "0987654321",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "iloveyou12",
        "letmein123",
        "welcome123",
        "admin12345",
        "administrator",
        "changeme123",
        "sunshine12",
        "football12",
        "baseball12",
        "trustno1234",
        "superman123",
        "princess12",
        "dragon1234",
        "monkey1234",
        "abc1234567",
        "abcdefghij",
        "vanity1234",
        "vanityshop",
        "vanity.shop",
    }
)


class EmailInvalid(ValueError):
    pass


def fold_email(raw: str) -> str:
    """Compatibility-fold and case-fold (NFKC, casefold, NFKC again as Unicode recommends for
    identifiers): fullwidth letters (U+FF21..), ligatures and `ß` become the plain letters they look
    like, so look-alike addresses collide on the unique index."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", raw).casefold())


# UTS 39's "highly restrictive" level: one script, or Latin with the scripts Chinese, Japanese
# and Korean mix with it. Python's unicodedata has no Script property, so a letter's script is
# read from its character name ("LATIN SMALL LETTER A", "CYRILLIC SMALL LETTER A").
_NAME_SCRIPTS = {"CJK": "Han", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana"}
_ALLOWED_SCRIPT_MIXES = (
    frozenset({"LATIN", "Han", "Hiragana", "Katakana"}),
    frozenset({"LATIN", "Han", "BOPOMOFO"}),
    frozenset({"LATIN", "Han", "HANGUL"}),
)


def letter_scripts(text: str) -> frozenset[str]:
    scripts = set()
    for char in text:
        if unicodedata.category(char).startswith("L"):
            first_word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
            scripts.add(_NAME_SCRIPTS.get(first_word, first_word))
    return frozenset(scripts)


def is_mixed_script(text: str) -> bool:
    """Letters from scripts that are not normally written together: "paypal" spelled with a
    Cyrillic U+0430 for its first "a" is mixed; "müller", a Cyrillic-only or a Japanese name
    (kanji with kana) are not."""
    scripts = letter_scripts(text)
    return len(scripts) > 1 and not any(scripts <= mix for mix in _ALLOWED_SCRIPT_MIXES)


def normalise_email(raw: str) -> str:
    """The canonical form used for uniqueness and look-ups: trimmed, NFKC- and case-folded,
    with the domain IDNA-normalised. Raises EmailInvalid for anything that is not an address
    and for a local part mixing scripts (a look-alike of another address)."""
    candidate = fold_email((raw or "").strip())
    if not candidate or len(candidate) > 254:
        raise EmailInvalid("not a valid e-mail address")
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise EmailInvalid(str(exc)) from exc
    if is_mixed_script(result.local_part):
        raise EmailInvalid("the part before the @ mixes letters of different scripts")
    return fold_email(result.normalized)


def lookup_email(raw: str) -> str:
    """Like normalise_email, but never fails: used on login and reset, where a malformed address
    must be answered exactly like an unknown one."""
    try:
        return normalise_email(raw)
    except EmailInvalid:
        return fold_email((raw or "").strip())[:254]


def password_problems(
    password: str, *, min_length: int, email: str = "", name: str = ""
) -> list[str]:
    """Why a new password is refused (empty when acceptable)."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        problems.append("must not be blank")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        problems.append("is too common")
    if len(set(password)) < 4:
        problems.append("must use at least 4 different characters")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 4 and local in lowered:
        problems.append("must not contain your e-mail address")
    if name and len(name.strip()) >= 4 and name.strip().lower() == lowered:
        problems.append("must not be your name")
    return problems


def validate_roles(roles: list[str], perms: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Checked roles and permissions. A non-admin holds no admin permission."""
    role_set = frozenset(roles)
    unknown = role_set - ROLES
    if unknown or not role_set:
        raise ValueError(f"roles must be a non-empty subset of {sorted(ROLES)}")
    perm_set = frozenset(perms)
    if perm_set - set(PERMISSIONS):
        raise ValueError(f"permissions must be a subset of {list(PERMISSIONS)}")
    if ADMIN not in role_set and perm_set:
        raise ValueError("only admins hold admin permissions")
    return role_set, perm_set


def token_class(roles: frozenset[str] | set[str]) -> str:
    """docs/auth.md: an admin's token is signed under `admin.<key-id>`, every other one under
    `customer.<key-id>`."""
    return "admin" if ADMIN in roles else "customer"


class RefreshOutcome(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REUSED = "reused"
    REVOKED = "revoked"


@dataclass(frozen=True)
class RefreshTokenState:
    expires_at: datetime
    used_at: datetime | None
    session_revoked_at: datetime | None


def judge_refresh(state: RefreshTokenState | None, now: datetime) -> RefreshOutcome:
    """A presented refresh token: a rotated (used) token is reuse, which revokes the family."""
    if state is None:
        return RefreshOutcome.UNKNOWN
    if state.session_revoked_at is not None:
        return RefreshOutcome.REVOKED
    if state.used_at is not None:
        return RefreshOutcome.REUSED
    if state.expires_at <= now:
        return RefreshOutcome.EXPIRED
    return RefreshOutcome.OK


@dataclass(frozen=True)
class EndedSession:
    """A sign-in that ended before its refresh token expired: its access tokens are refused."""

    session_id: str
    user_id: str
    ended_at: datetime
    reason: str


def reset_token_usable(expires_at: datetime, used_at: datetime | None, now: datetime) -> bool:
    return used_at is None and expires_at > now


def expiry(now: datetime, seconds: int) -> datetime:
    return now + timedelta(seconds=seconds)


ADDRESS_LIMITS = {
    "label": 50,
    "full_name": 200,
    "line1": 200,
    "line2": 200,
    "city": 100,
    "region": 100,
    "postal_code": 20,
    "country": 2,
    "phone": 40,
}
ADDRESS_REQUIRED = ("full_name", "line1", "city", "postal_code", "country")


def address_problems(values: dict[str, object], *, partial: bool) -> dict[str, str]:
    """Field -> why, for a new address (partial=False) or a patch (partial=True)."""
    problems: dict[str, str] = {}
    for name, limit in ADDRESS_LIMITS.items():
        if name not in values:
            if not partial and name in ADDRESS_REQUIRED:
                problems[name] = "required"
            continue
        value = values[name]
        if value is None:
            if name in ADDRESS_REQUIRED:
                problems[name] = "required"
            continue
        text = str(value).strip()
        if control_characters(text):
            problems[name] = "must not contain control characters"
        elif name in ADDRESS_REQUIRED and not text:
            problems[name] = "required"
        elif len(text) > limit:
            problems[name] = f"at most {limit} characters"
    country = values.get("country")
    if (
        isinstance(country, str)
        and "country" not in problems
        and (
            len(country.strip()) != 2
            or not country.strip().isascii()
            or not country.strip().isalpha()
        )
    ):
        problems["country"] = "ISO 3166-1 alpha-2 code, e.g. FR"
    return problems


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    roles: frozenset[str]
    permissions: frozenset[str]
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


@dataclass(frozen=True)
class Address:
    id: str
    user_id: str
    label: str
    full_name: str
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str
    is_default_shipping: bool
    is_default_billing: bool
    created_at: datetime
    updated_at: datetime


def encode_set(values: frozenset[str] | set[str]) -> str:
    """Comma-framed storage form (",admin,customer,"), so one role is found with LIKE."""
    return f",{','.join(sorted(values))}," if values else ""


def decode_set(stored: str | None) -> frozenset[str]:
    return frozenset(v for v in (stored or "").split(",") if v)
