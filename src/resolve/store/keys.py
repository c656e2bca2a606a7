"""The trial key: one 256-bit secret, kept outside the database, from which the
allocation sequence, the audit chain's HMAC and the identity hashes are derived.

A database reader without the key can neither compute a future allocation nor
forge or re-chain audit events. The key lives in a file created with mode 0600
(in a 0700 folder) that must not sit in the database's folder, or in the
environment variable :data:`KEY_ENV` (hex), e.g. filled from a secret store.

Sub-keys are HKDF-SHA256 derivations with a fixed label per use, so no two uses
share key material. The database stores only a *fingerprint* of the key (to
refuse a wrong key with a clear message), never the key.

**Demo mode.** :func:`TrialKey.insecure_from_seed` derives a reproducible key
from an integer seed, for tests and demonstrations only; such a trial stores
its seed in the database and is labelled insecure everywhere.

Examples
--------
>>> k = TrialKey.insecure_from_seed(7)
>>> len(k.subkey("audit")), k.subkey("audit") != k.subkey("allocation")
(32, True)
>>> k.fingerprint == TrialKey.insecure_from_seed(7).fingerprint
True
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from hashlib import sha256
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from resolve.errors import ResolveError

__all__ = [
    "KEY_DIR_ENV",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "TrialKey",
    "TrialKeyError",
    "create_key_file",
    "default_key_path",
    "read_key_file",
]

#: Environment variable holding the key itself (64 hex digits).
KEY_ENV = "RESOLVE_TRIAL_KEY"
#: Environment variable naming the key file.
KEY_FILE_ENV = "RESOLVE_TRIAL_KEY_FILE"
#: Environment variable naming the folder of default key files.
KEY_DIR_ENV = "RESOLVE_KEY_DIR"

_HEADER = "resolve-trial-key-v1"


class TrialKeyError(ResolveError, RuntimeError):
    """The trial key is missing, unreadable, too open, or not this trial's."""


@dataclass(frozen=True)
class TrialKey:
    """A trial's 32-byte secret (never printed: ``repr`` shows the fingerprint only)."""

    secret: bytes = field(repr=False)
    insecure_seed: int | None = None

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise TrialKeyError("a trial key has 32 bytes (64 hex digits)")

    @classmethod
    def generate(cls) -> TrialKey:
        """A new random key (``secrets.token_bytes(32)``)."""
        return cls(secrets.token_bytes(32))

    @classmethod
    def insecure_from_seed(cls, seed: int) -> TrialKey:
        """A reproducible key for tests and demonstrations (insecure by design)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise TrialKeyError(f"the demo seed must be an integer >= 0; got {seed!r}")
        digest = sha256(f"resolve insecure demo key {seed}".encode()).digest()
        return cls(digest, insecure_seed=seed)

    @classmethod
    def from_hex(cls, text: str, source: str) -> TrialKey:
        """Parse 64 hex digits (the key file's payload or :data:`KEY_ENV`)."""
        value = text.strip()
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise TrialKeyError(f"{source}: not a trial key (expected 64 hex digits)")
        return cls(raw)

    def subkey(self, label: str) -> bytes:
        """A 32-byte key for one use (HKDF-SHA256 with ``label`` as info)."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"resolve trial key v1",
            info=label.encode("utf-8"),
        )
        return hkdf.derive(self.secret)

    @property
    def fingerprint(self) -> str:
        """16 hex digits identifying the key (stored in the database; reveals nothing)."""
        return hmac.new(self.subkey("fingerprint"), b"fingerprint", sha256).hexdigest()[:16]

    @property
    def entropy(self) -> int:
        """The allocation sequence's 256-bit entropy (for ``numpy.random.SeedSequence``)."""
        return int.from_bytes(self.subkey("allocation"), "big")

    def mac(self, label: str, message: bytes) -> str:
        """HMAC-SHA256 (hex) of ``message`` under the sub-key ``label``."""
        return hmac.new(self.subkey(label), message, sha256).hexdigest()

    def hex(self) -> str:
        """The key as 64 hex digits (only for writing the key file)."""
        return self.secret.hex()


def default_key_path(trial_uid: str) -> Path:
    """Where a trial's key file lives by default: ``$RESOLVE_KEY_DIR/<uid>.key``.

    Without :data:`KEY_DIR_ENV`, ``$XDG_CONFIG_HOME/resolve/keys`` (or
    ``~/.config/resolve/keys``).
    """
    folder = os.environ.get(KEY_DIR_ENV)
    if folder:
        base = Path(folder)
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".config") / "resolve" / "keys"
    return base / f"{trial_uid}.key"


def create_key_file(path: Path, key: TrialKey, *, database_folder: Path | None = None) -> Path:
    """Write ``key`` to a new file with mode 0600 (its folder 0700 when created).

    Raises
    ------
    TrialKeyError
        The file exists (a key is never overwritten), or it would sit in the
        database's own folder.
    """
    path = Path(path).expanduser()
    if database_folder is not None and path.resolve().parent == database_folder.resolve():
        raise TrialKeyError(
            f"{path}: the trial key must not sit beside the database it protects; "
            "choose a key file in another folder"
        )
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise TrialKeyError(f"{path}: a key file exists already; it is never overwritten") from None
    except OSError as exc:
        raise TrialKeyError(f"{path}: cannot create the key file ({exc.strerror})") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(f"{_HEADER}\n{key.hex()}\n")
    return path


def read_key_file(path: Path) -> TrialKey:
    """Read a key file; refuse one that others can read or that is malformed."""
    path = Path(path).expanduser()
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise TrialKeyError(f"{path}: no trial key file here") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrialKeyError(f"{path}: cannot read the trial key ({exc})") from None
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TrialKeyError(
            f"{path}: the trial key file is readable by others (mode {stat.S_IMODE(mode):o}); "
            "make it private (chmod 600)"
        )
    lines = text.split()
    if len(lines) != 2 or lines[0] != _HEADER:
        raise TrialKeyError(f"{path}: not a resolve trial key file")
    return TrialKey.from_hex(lines[1], str(path))
