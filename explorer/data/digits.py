"""Digits for the explorer: the bundled sample, full MNIST (download + IDX), augmentation, drawings.

Full MNIST is fetched and parsed here rather than with torchvision.datasets.MNIST: torchvision from PyPI
does not import beside the pinned CPU torch ("operator torchvision::nms does not exist"), and mirrors,
MD5 checks, an atomic cache and IDX parsing are a hundred tested lines.
"""

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the functions that make tensors: reading digits needs no torch
    import torch

T = 28  # timesteps: one image row per step
SAMPLE_PATH = Path(__file__).resolve().parents[2] / "data" / "mnist_sample.npz"

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# Order matters to load_mnist: train images, train labels, test images, test labels.
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
CHUNK = 1 << 16

ProgressFn = Callable[[str, int, int | None], None]  # (filename, bytes done, bytes total or None)


class DataError(Exception):
    """Digits could not be loaded: a missing or unreadable file."""


class CorruptFileError(DataError):
    """A data file exists but its contents are wrong (checksum, gzip, IDX header or shape)."""


class DownloadError(DataError):
    """No mirror delivered a valid copy of a file."""


class EmptyDrawingError(DataError):
    """A drawing has no ink to read."""


class TooSmallDrawingError(DataError):
    """A drawing's ink is too small to be a digit (a dot scaled up to 20 x 20 reads as anything)."""


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is ambiguous
class Digits:
    """A set of 28x28 digit images with their labels."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def tensors(self) -> tuple["torch.Tensor", "torch.Tensor"]:
        """Images as float32 in [0, 1] (N, 28, 28) and labels as int64 (N,)."""
        import torch

        images = torch.from_numpy(self.images.astype(np.float32) / 255.0)
        return images, torch.from_numpy(self.labels.astype(np.int64))


def check_digits(images: np.ndarray, labels: np.ndarray, source: str) -> Digits:
    """Wrap arrays as Digits, raising CorruptFileError naming `source` if they are not MNIST-shaped."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise CorruptFileError(
            f"{source}: expected uint8 images of shape (N, 28, 28), found {images.dtype} {images.shape}"
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise CorruptFileError(f"{source}: expected {len(images)} labels, found shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or not np.isin(labels, np.arange(10)).all():
        raise CorruptFileError(f"{source}: labels must be integers 0..9")
    return Digits(images, labels.astype(np.int64))


def load_sample(path: str | os.PathLike = SAMPLE_PATH) -> tuple[Digits, Digits]:
    """Load the bundled 4,000/1,000 train/test sample."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"Bundled sample {path} is missing; rebuild it with `python scripts/build_sample.py`.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in ("train_images", "train_labels", "test_images", "test_labels")}
    except KeyError as e:
        raise CorruptFileError(f"{path}: missing array {e}") from e
    except (OSError, ValueError, EOFError, zlib.error) as e:  # BadZipFile is an OSError
        raise CorruptFileError(f"{path}: not a readable .npz file ({e})") from e
    return (
        check_digits(arrays["train_images"], arrays["train_labels"], f"{path} (train)"),
        check_digits(arrays["test_images"], arrays["test_labels"], f"{path} (test)"),
    )


# ---- full MNIST ------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Where full MNIST is kept: $RNN_EXPLORER_CACHE, else $XDG_CACHE_HOME/rnn-explorer/mnist."""
    if os.environ.get("RNN_EXPLORER_CACHE"):
        return Path(os.environ["RNN_EXPLORER_CACHE"])
    cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache_home) / "rnn-explorer" / "mnist"


def parse_idx(data: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode an uncompressed IDX file (magic 0 0 dtype ndim, big-endian uint32 dims, then values)."""
    if len(data) < 4 or data[:2] != b"\x00\x00":
        raise CorruptFileError(f"{name}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:  # MNIST only uses unsigned bytes
        raise CorruptFileError(f"{name}: unsupported IDX data type 0x{dtype_code:02x} (only 0x08 uint8)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise CorruptFileError(f"{name}: IDX header truncated ({len(data)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise CorruptFileError(f"{name}: IDX shape {dims} needs {expected} bytes of data, found {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def read_idx_gz(path: Path) -> np.ndarray:
    """Read a gzipped IDX file, raising CorruptFileError naming the file on any defect."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise CorruptFileError(f"{path.name}: not a valid gzip file ({e})") from e
    return parse_idx(data, path.name)


def verify_file(path: Path, md5: str) -> None:
    """Raise CorruptFileError unless the file has the expected MD5 and decodes as gzipped IDX."""
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    if digest != md5:
        raise CorruptFileError(f"{path.name}: checksum mismatch (md5 {digest}, expected {md5})")
    read_idx_gz(path)


def _fetch(url: str, dest: Path, name: str, on_progress: ProgressFn | None, timeout: float) -> None:
    """Stream `url` into `dest`, reporting progress; raise CorruptFileError if it arrives short."""
    with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            done += len(chunk)
            if on_progress:
                on_progress(name, done, total)
    if total is not None and done != total:
        raise CorruptFileError(f"{name}: truncated download ({done} of {total} bytes)")


def _describe_failure(error: Exception) -> str:
    """A short human reason for one mirror's failure."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)  # e.g. "[Errno 111] Connection refused"
    return str(error) or type(error).__name__


def _download_file(
    name: str, md5: str, cache: Path, mirrors: Sequence[str], on_progress: ProgressFn | None, timeout: float
) -> None:
    """Try each mirror in turn until one delivers a verified copy of `name` into `cache`."""
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        # A temp file in the same directory makes the final rename atomic: the cache only ever
        # holds complete, verified files.
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=f".{name}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp)
        try:
            _fetch(url, tmp, name, on_progress, timeout)
            verify_file(tmp, md5)
            os.replace(tmp, cache / name)
            return
        except (OSError, ValueError, http.client.HTTPException, DataError) as e:
            failures.append(f"  {url}: {_describe_failure(e)}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"Could not download {name}; every mirror failed:\n" + "\n".join(failures))


def download_mnist(
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = MIRRORS,
    files: Mapping[str, str] = MNIST_FILES,
    on_progress: ProgressFn | None = None,
    timeout: float = 30,
) -> Path:
    """Download and verify the MNIST files not already valid in the cache; return the cache dir."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"Cannot create the MNIST cache directory {cache}: {e}") from e
    for name, md5 in files.items():
        target = cache / name
        if target.exists():
            try:
                verify_file(target, md5)
                continue
            except CorruptFileError:
                target.unlink()  # a bad cached copy must never be served; fetch it again
        _download_file(name, md5, cache, mirrors, on_progress, timeout)
    return cache


DATA_SOURCES = ("sample", "mnist")
SOURCE_SIZES = {"sample": (4000, 1000), "mnist": (60000, 10000)}  # (train, test) digits of each source


def mnist_downloaded() -> bool:
    """Whether the four full-MNIST files are in the cache (load_mnist checks their contents)."""
    return all((default_cache_dir() / name).exists() for name in MNIST_FILES)


def load_digits(source: str) -> tuple[Digits, Digits]:
    """(train, test) digits of a data source: "sample" (bundled) or "mnist" (downloaded)."""
    if source not in DATA_SOURCES:
        raise ValueError(f"data source must be one of {DATA_SOURCES}, got {source!r}")
    return load_sample() if source == "sample" else load_mnist()


def provenance(source: str, train_set: Digits, test_set: Digits, augmented: bool) -> dict:
    """A checkpoint's "data" metadata: which digits, how many, augmented or not."""
    return {"name": source, "train": len(train_set), "test": len(test_set), "augment": augmented}


def load_mnist(
    cache_dir: str | os.PathLike | None = None, files: Mapping[str, str] = MNIST_FILES
) -> tuple[Digits, Digits]:
    """Load full MNIST (train, test) from downloaded files, named in `files` in MNIST_FILES order."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    paths = [cache / name for name in files]
    if len(paths) != 4:
        raise ValueError(f"files must name 4 files in MNIST_FILES order, got {len(paths)}")
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise DataError(
            f"Full MNIST is not downloaded: {', '.join(missing)} missing from {cache}. Call download_mnist() first."
        )
    train_images, train_labels, test_images, test_labels = (read_idx_gz(p) for p in paths)
    return (
        check_digits(train_images, train_labels, f"{paths[0].name} + {paths[1].name}"),
        check_digits(test_images, test_labels, f"{paths[2].name} + {paths[3].name}"),
    )


# ---- augmentation ----------------------------------------------------------------------------


def augment(
    images: "torch.Tensor",
    generator: "torch.Generator",
    max_shift: float = 3.0,
    max_rotate: float = 15.0,
    scale: tuple[float, float] = (0.85, 1.15),
) -> "torch.Tensor":
    """Apply a small random shift (px), rotation (degrees) and isotropic scale to each image."""
    import torch
    import torch.nn.functional as F

    B, H, W = images.shape
    u = torch.rand(B, 4, generator=generator, device=generator.device).to(images)  # (B, 4) in [0, 1)
    angle = torch.deg2rad((2 * u[:, 0] - 1) * max_rotate)  # (B,)
    s = scale[0] + (scale[1] - scale[0]) * u[:, 1]  # (B,)
    # Shifts in pixels -> normalized grid units (the image spans [-1, 1], i.e. 2/W per pixel).
    tx = (2 * u[:, 2] - 1) * max_shift * 2 / W  # (B,)
    ty = (2 * u[:, 3] - 1) * max_shift * 2 / H  # (B,)
    # affine_grid maps *output* coordinates to where to sample the input, so it needs the inverse
    # of "scale by s, rotate by angle, then shift": x_in = R(-angle) (x_out - t) / s.
    cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
    theta = torch.stack(
        [
            torch.stack([cos, sin, -(cos * tx + sin * ty)], dim=1),
            torch.stack([-sin, cos, -(-sin * tx + cos * ty)], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3)
    grid = F.affine_grid(theta, (B, 1, H, W), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(
        images.unsqueeze(1), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )  # (B, 1, H, W)
    return out.squeeze(1).clamp(0.0, 1.0)


# ---- drawings ----------------------------------------------------------------------------------

INK_THRESHOLD = 0.1  # faint anti-aliasing fringe and canvas noise are not ink
MIN_EXTENT = 0.15  # the ink's bounding box must span this share of the canvas, in height or width
BOX = 20  # MNIST digits were fitted into a 20x20 box ...
CENTRE = 14.0  # ... then pasted into 28x28 with their centre of mass at pixel (14, 14)


def _extract_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink intensity in [0, 1] (H, W) of an RGBA drawing, on a transparent or an opaque dark canvas."""
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an RGBA image of shape (H, W, 4), got {rgba.shape}")
    rgba = rgba.astype(np.float32) / 255.0
    alpha = rgba[..., 3]
    luminance = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    # Strokes on a transparent canvas are marked by alpha whatever their colour; an opaque
    # canvas (alpha 1 everywhere) marks them by brightness instead. Taking max(alpha, luminance)
    # pixelwise would turn an opaque black canvas into solid ink.
    return alpha if alpha.min() < 1.0 else luminance


def drawing_to_digit(rgba: np.ndarray) -> np.ndarray:
    """Turn a canvas drawing (H, W, 4) uint8 into a (28, 28) float32 MNIST-style digit in [0, 1]."""
    import torch
    import torch.nn.functional as F

    ink = _extract_ink(rgba)
    ink = np.where(ink >= INK_THRESHOLD, ink, 0.0)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0:
        raise EmptyDrawingError("The drawing is empty: draw a digit first.")
    extent = max((rows[-1] - rows[0] + 1) / ink.shape[0], (cols[-1] - cols[0] + 1) / ink.shape[1])
    if extent < MIN_EXTENT:
        raise TooSmallDrawingError(
            f"The drawing spans {extent:.0%} of the canvas: draw a larger digit, most of the canvas tall."
        )
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # the ink's bounding box

    h, w = crop.shape
    size = (max(1, round(h * BOX / max(h, w))), max(1, round(w * BOX / max(h, w))))
    # Antialiased bilinear averages when shrinking (like 'area') and interpolates when a tiny
    # drawing has to grow.
    digit = (
        F.interpolate(
            torch.from_numpy(crop)[None, None], size=size, mode="bilinear", antialias=True, align_corners=False
        )[0, 0]
        .clamp(0, 1)
        .numpy()
    )
    digit = digit / digit.max()  # MNIST strokes peak at full intensity however lightly drawn

    cy, cx = centre_of_mass(digit)
    top = int(np.clip(round(CENTRE - cy), 0, 28 - size[0]))
    left = int(np.clip(round(CENTRE - cx), 0, 28 - size[1]))
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + size[0], left : left + size[1]] = digit
    return out


def checked_digit(values) -> np.ndarray:
    """A (28, 28) float32 digit from untrusted numbers (a drawing a browser made MNIST-like): a list of 784
    finite numbers in [0, 1], row by row. ValueError for anything else."""
    if not isinstance(values, list | tuple) or len(values) != 28 * 28:
        raise ValueError("a digit is a list of 784 numbers")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise ValueError("a digit's pixels must be numbers")
    a = np.asarray(values, dtype=np.float64)
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
        raise ValueError("a digit's pixels must be finite numbers in [0, 1]")
    return a.reshape(28, 28).astype(np.float32)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) intensity-weighted centre of a 2-D image, in pixel-index coordinates."""
    mass = image.sum()
    rows, cols = np.arange(image.shape[0]), np.arange(image.shape[1])
    return float(image.sum(axis=1) @ rows / mass), float(image.sum(axis=0) @ cols / mass)
