"""The checkpoint library: save, import, list, find and delete checkpoints, each with its owner.

Owners and names. Every checkpoint has an owner: "shipped" (the repo's `checkpoints/`, read-only),
"local" (files directly in `user_dir()`, e.g. written by the command line on the server; read-only in
the app), or a visitor's owner id (16 hex digits), whose files live in `user_dir()/<owner id>/` and
only that visitor may replace or delete. A checkpoint's name in a listing is unique and stable (pages
keep it in the URL): the file stem for shipped and local files ("stem (local)" if a shipped one has
that stem), and "<first 8 digits of the owner id>/stem" for a visitor's."""

import functools
import logging
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .catalog import Catalog, file_version, source_digest
from .config import ModelConfig
from .header import CheckpointError, check_tensors, decode_metadata, read_header, recorded_accuracy, snapshot_meta

if TYPE_CHECKING:
    from .network import SequenceClassifier

SUFFIX = ".safetensors"


SHIPPED, LOCAL = "shipped", "local"  # owners that are not visitors


OWNER_PATTERN = re.compile(r"[0-9a-f]{16}")


NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckpointInfo:
    """A checkpoint found on disk, known from its header only (no tensors loaded)."""

    name: str  # unique in a listing (see the module docstring)
    path: Path
    owner: str  # SHIPPED, LOCAL or a visitor's owner id
    config: ModelConfig
    meta: dict

    @property
    def shipped(self) -> bool:
        return self.owner == SHIPPED

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def accuracy(self) -> float | None:
        return recorded_accuracy(self.meta)


SHIPPED_DIR = Path(__file__).resolve().parents[2] / "checkpoints"


def shipped_dir() -> Path:
    """The repo's read-only `checkpoints/` folder."""
    return SHIPPED_DIR


def home_dir() -> Path:
    """$RNN_EXPLORER_HOME, or ~/.rnn-explorer: the visitors' checkpoints and sweeps, the job table, logs."""
    home = os.environ.get("RNN_EXPLORER_HOME")
    return Path(home).expanduser() if home else Path.home() / ".rnn-explorer"


def user_dir() -> Path:
    """$RNN_EXPLORER_HOME/checkpoints, or ~/.rnn-explorer/checkpoints; never inside shipped_dir()."""
    return _outside(home_dir() / "checkpoints", shipped_dir())


@functools.lru_cache(maxsize=16)
def _outside(folder: Path, shipped: Path) -> Path:
    """`folder`, checked once per pair (resolving both paths is most of listing the checkpoints, which every
    page open does) not to lie inside `shipped`; CheckpointError (not cached) if it does."""
    if folder.resolve().is_relative_to(shipped.resolve()):
        raise CheckpointError(
            f"the user checkpoint folder {folder} is inside the shipped checkpoints folder; "
            "set RNN_EXPLORER_HOME somewhere else"
        )
    return folder


def check_owner(owner: str) -> str:
    """A visitor's owner id (16 hex digits), or CheckpointError: it names a folder, so nothing else may pass."""
    if not isinstance(owner, str) or not OWNER_PATTERN.fullmatch(owner):
        raise CheckpointError("invalid owner id")
    return owner


def owner_dir(owner: str) -> Path:
    """The folder of one visitor's checkpoints."""
    return user_dir() / check_owner(owner)


def user_path(name: str, owner: str) -> Path:
    """Where the visitor `owner` saves a checkpoint called `name`; refuses unsafe names and shipped names."""
    if not NAME_PATTERN.fullmatch(name):
        raise CheckpointError(
            "invalid checkpoint name: use up to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if (shipped_dir() / (name + SUFFIX)).exists():
        raise CheckpointError("that name belongs to a shipped checkpoint; choose another")
    return owner_dir(owner) / (name + SUFFIX)


def _write_atomically(path: Path, blob: bytes) -> None:
    """Write blob to path via a temp file + os.replace, so readers never see a half-written file."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(delete=False, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp") as f:
            tmp = Path(f.name)
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # NamedTemporaryFile creates 0600
        os.replace(tmp, path)
    except OSError as e:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise CheckpointError(f"could not save {path.name}: {e.strerror or e}") from e


def save_checkpoint(path: str | Path, model: "SequenceClassifier", **fields) -> Path:
    """Write model weights, snapshots and metadata (serialize's fields) to path atomically (parent dirs created);
    return the path."""
    from .checkpoint_file import serialize  # torch: imported by what writes or loads tensors, not by listings

    path = Path(path)
    _write_atomically(path, serialize(model, **fields))
    return path


def import_checkpoint(blob: bytes, name: str, owner: str) -> CheckpointInfo:
    """Validate uploaded bytes and store them as the visitor's checkpoint `name` (replacing their own only)."""
    from .checkpoint_file import read_checkpoint

    read_checkpoint(blob)
    path = user_path(name, owner)
    _write_atomically(path, bytes(blob))
    return _info(path, owner, listed_name(owner, name))


# The modules whose code decides what a header check finds (a new release checks every file again).
HEADER_CODE = ("header.py", "config.py", "snapshots.py", "checkpoint_file.py", "network.py", "mincells.py")


@functools.lru_cache(maxsize=4)
def _headers(home: Path) -> Catalog:
    """What checking each file version's header found, kept in home_dir()/cache/headers/ across server runs."""
    here = Path(__file__).resolve().parent
    return Catalog(home / "cache" / "headers", source_digest(*(here / name for name in HEADER_CODE)))


def _checked_header(path: Path) -> tuple[ModelConfig, dict]:
    """The header of the file at path, checked in full (framing, metadata, tensor names, shapes and dtypes)."""
    try:
        with path.open("rb") as f:

            def read(offset: int, n: int) -> bytes:
                f.seek(offset)
                return f.read(n)

            entries, metadata = read_header(path.stat().st_size, read)
    except OSError as e:
        raise CheckpointError(f"could not read {path.name}: {e.strerror or e}") from None
    config, meta = decode_metadata(metadata)
    snapshot_meta(meta, check_tensors(entries, config))
    return config, meta


def _info(path: Path, owner: str, name: str | None = None) -> CheckpointInfo:
    """Header-only view of a checkpoint file: framing, metadata and tensor shapes checked, no tensors read; what
    the check found (or why the file is refused) is kept per file version (catalog), so a file is checked once."""
    try:
        version = file_version(path)
    except OSError as e:
        raise CheckpointError(f"could not read {path.name}: {e.strerror or e}") from None
    headers = _headers(home_dir())
    found = headers.get(version)
    if found is None:
        try:
            config, meta = _checked_header(path)
        except CheckpointError as e:
            headers.put(version, {"error": str(e)})
            raise
        headers.put(version, {"config": config.to_dict(), "meta": meta})
    elif "error" in found:
        raise CheckpointError(found["error"])
    else:
        config, meta = ModelConfig.from_dict(found["config"]), found["meta"]
    return CheckpointInfo(name=name or path.stem, path=path, owner=owner, config=config, meta=meta)


def _log_skipped(path: Path, error: CheckpointError) -> None:
    log.warning("skipping checkpoint %s: %s", path, error)


def listed_name(owner: str, stem: str) -> str:
    """A visitor's checkpoint's name in listings: '<first 8 digits of the owner id>/<stem>'."""
    return f"{owner[:8]}/{stem}"


def list_checkpoints(
    include_user: bool = True, on_error: Callable[[Path, CheckpointError], None] = _log_skipped
) -> list[CheckpointInfo]:
    """Shipped checkpoints by name, then local ones, then visitors' (by owner, then name).

    Broken user files go to on_error and are skipped; a broken shipped file raises CheckpointError
    (naming the file): it is a bug in the repo.
    """
    infos = []
    for path in sorted(shipped_dir().glob("*" + SUFFIX)):
        try:
            infos.append(_info(path, SHIPPED))
        except CheckpointError as e:
            raise CheckpointError(f"shipped checkpoint {path.name}: {e}") from None
    if not include_user:
        return infos
    taken = {info.name for info in infos}
    found = [
        (LOCAL, path, f"{path.stem} (local)" if path.stem in taken else path.stem)
        for path in sorted(user_dir().glob("*" + SUFFIX))
    ]
    folders = sorted(p for p in user_dir().glob("*") if p.is_dir() and OWNER_PATTERN.fullmatch(p.name))
    found += [
        (folder.name, path, listed_name(folder.name, path.stem))
        for folder in folders
        for path in sorted(folder.glob("*" + SUFFIX))
    ]
    for owner, path, name in found:
        try:
            infos.append(_info(path, owner, name))
        except CheckpointError as e:
            on_error(path, e)
    return infos


def find_checkpoint(name: str) -> CheckpointInfo:
    """The listed checkpoint called name (see list_checkpoints for how names are made unique)."""
    for info in list_checkpoints(on_error=lambda path, error: None):
        if info.name == name:
            return info
    raise CheckpointError(f"no checkpoint named {name!r}")


def delete_checkpoint(info: CheckpointInfo, owner: str) -> None:
    """Delete one of the visitor `owner`'s own checkpoints; every other checkpoint is read-only to them."""
    path = info.path.resolve()
    if info.shipped or path.is_relative_to(shipped_dir().resolve()):
        raise CheckpointError("shipped checkpoints are read-only")
    if info.owner != check_owner(owner) or path.parent != owner_dir(owner).resolve():
        raise CheckpointError("only its owner can delete a checkpoint; this one is not yours")
    try:
        path.unlink(missing_ok=True)
    except OSError as e:
        raise CheckpointError(f"could not delete {info.name}: {e.strerror or e}") from None
