"""What reading a file once found out, kept on disk between server runs: one small JSON file per fact.

A restarted server lists the checkpoints and links the Watch page's models without reading a checkpoint's
tensors or importing torch (a second of a cold server's first page) when it has seen the same file version
before. Each fact is keyed by the file's version (its path, inode, modification time and size: a changed or
replaced file is a new version) and by a digest of the source code that derived it (a new release derives it
again). Entries are files named by the SHA-256 of that key, written atomically, so every server process that
shares the folder reads and adds to them without a lock; the least recently used beyond `keep` are deleted.
A folder that cannot be written is only a cache that stays empty.
"""

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

SUFFIX = ".json"


def source_digest(*paths: Path, extra: str = "") -> str:
    """SHA-256 of the bytes of these files (and `extra`): what a fact derived by their code depends on."""
    digest = hashlib.sha256(extra.encode())
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_version(path: Path) -> str:
    """The key of a file's current version; OSError if it cannot be stat'ed."""
    stat = path.stat()
    return f"{path}|{stat.st_ino}|{stat.st_mtime_ns}|{stat.st_size}"


class Catalog:
    """Facts (JSON values) kept in `folder`, each under a string key, valid for the code digest `code`."""

    def __init__(self, folder: Path, code: str, keep: int = 2000):
        self.folder, self.code, self.keep = Path(folder), code, keep

    def _path(self, key: str) -> Path:
        return self.folder / (hashlib.sha256(f"{self.code}\0{key}".encode()).hexdigest() + SUFFIX)

    def get(self, key: str):
        """The fact kept for `key`, or None (never kept, pruned, or unreadable)."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:  # a hash collision, or a file not ours
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return entry.get("value")

    def put(self, key: str, value) -> None:
        """Keep `value` (a JSON value) for `key`; a folder that cannot be written keeps nothing."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"key": key, "value": value}, f, separators=(",", ":"))
            os.replace(temp, self._path(key))
        except (OSError, TypeError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(temp)
            return
        self._prune()

    def _prune(self) -> None:
        """Delete the least recently used entries beyond `keep`."""
        entries = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.folder):
                with contextlib.suppress(OSError):
                    if entry.name.endswith(SUFFIX):
                        entries.append((entry.stat().st_mtime_ns, entry.path))
        for _, path in sorted(entries)[: max(len(entries) - self.keep, 0)]:
            with contextlib.suppress(OSError):
                os.unlink(path)
