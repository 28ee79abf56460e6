"""Tests for explorer.data.digits: bundled sample, IDX parsing, MNIST download, augmentation, drawings."""

import gzip
import hashlib
import os
import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch
from recording_job import RecordingJob

from explorer.data.digits import (
    MNIST_FILES,
    CorruptFileError,
    DataError,
    DownloadError,
    EmptyDrawingError,
    TooSmallDrawingError,
    augment,
    default_cache_dir,
    download_mnist,
    drawing_to_digit,
    load_mnist,
    load_sample,
    parse_idx,
)
from explorer.serving.tasks import DownloadProgress, download

NAMES = list(MNIST_FILES)  # train images, train labels, test images, test labels


# ---- bundled sample ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def test_sample_shapes_dtypes_and_class_balance(sample):
    train, test = sample
    assert train.images.shape == (4000, 28, 28) and test.images.shape == (1000, 28, 28)
    assert train.images.dtype == test.images.dtype == np.uint8
    assert train.labels.dtype == test.labels.dtype == np.int64
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.labels, minlength=10).tolist() == [400] * 10
    assert np.bincount(test.labels, minlength=10).tolist() == [100] * 10


def test_sample_train_and_test_share_no_image(sample):
    train, test = sample
    seen = {image.tobytes() for image in train.images}
    assert not any(image.tobytes() in seen for image in test.images)


def test_sample_tensors_are_unit_range_floats(sample):
    images, labels = sample[1].tensors()
    assert images.shape == (1000, 28, 28) and images.dtype == torch.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert labels.dtype == torch.int64 and labels.tolist() == sample[1].labels.tolist()


def test_load_sample_missing_or_corrupt(tmp_path):
    with pytest.raises(DataError, match="nope.npz"):
        load_sample(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(CorruptFileError, match="junk.npz"):
        load_sample(junk)
    wrong = tmp_path / "wrong.npz"
    np.savez(
        wrong,
        train_images=np.zeros((3, 28, 27), np.uint8),
        train_labels=np.zeros(3, np.uint8),
        test_images=np.zeros((1, 28, 28), np.uint8),
        test_labels=np.zeros(1, np.uint8),
    )
    with pytest.raises(CorruptFileError, match=r"wrong.npz.*\(N, 28, 28\)"):
        load_sample(wrong)


# ---- IDX ----------------------------------------------------------------------------------------


def write_idx(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (independent of the parser under test)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("shape", [(7,), (5, 28, 28), (2, 3, 4, 5), (0, 28, 28)])
def test_parse_idx_round_trip(shape):
    array = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    parsed = parse_idx(write_idx(array))
    assert parsed.dtype == np.uint8 and parsed.shape == shape
    np.testing.assert_array_equal(parsed, array)


GOOD = write_idx(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"\x01\x00" + GOOD[2:], "magic"),
        (b"", "magic"),
        (GOOD[:2] + b"\x0d" + GOOD[3:], "data type"),
        (GOOD[:6], "header"),
        (GOOD[:-1], "needs 12 bytes"),
        (GOOD + b"\x00", "needs 12 bytes"),
    ],
)
def test_parse_idx_rejects_bad_files(data, reason):
    with pytest.raises(CorruptFileError, match=f"labels.idx.*{reason}"):
        parse_idx(data, "labels.idx")


# ---- download -----------------------------------------------------------------------------------


@dataclass
class TinyMnist:
    """A 20 + 10 digit MNIST in the four standard gzipped IDX files."""

    arrays: list[np.ndarray]
    blobs: dict[str, bytes]

    @property
    def md5(self) -> dict[str, str]:
        return {name: hashlib.md5(blob).hexdigest() for name, blob in self.blobs.items()}


@pytest.fixture(scope="module")
def mnist():
    rng = np.random.default_rng(1)
    arrays = [
        rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        np.arange(20, dtype=np.uint8) % 10,
        rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        np.arange(10, dtype=np.uint8),
    ]
    return TinyMnist(arrays, {name: gzip.compress(write_idx(a), mtime=0) for name, a in zip(NAMES, arrays)})


@dataclass
class Server:
    """Routes of a local HTTP server: path -> (body, declared Content-Length); records every GET."""

    base: str
    routes: dict = field(default_factory=dict)
    hits: list = field(default_factory=list)

    def mirror(self, prefix: str, blobs: dict[str, bytes], extra_length: int = 0) -> str:
        """Serve `blobs` under /prefix/, claiming `extra_length` more bytes than are sent."""
        for name, blob in blobs.items():
            self.routes[f"/{prefix}/{name}"] = (blob, len(blob) + extra_length)
        return f"{self.base}/{prefix}/"


@pytest.fixture
def server():
    state = Server(base="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state.hits.append(self.path)
            if self.path not in state.routes:
                self.send_error(404)
                return
            body, length = state.routes[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def dead_mirror():
    with socket.socket() as s:  # a port that was just free: nothing listens there now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def test_download_then_load(server, mnist, tmp_path):
    calls = []
    cache = download_mnist(
        tmp_path / "cache",
        mirrors=[server.mirror("good", mnist.blobs)],
        files=mnist.md5,
        on_progress=lambda *args: calls.append(args),
        timeout=5,
    )
    assert sorted(os.listdir(cache)) == sorted(NAMES)
    for name, blob in mnist.blobs.items():
        assert (cache / name).read_bytes() == blob
        assert [c for c in calls if c[0] == name][-1] == (name, len(blob), len(blob))

    train, test = load_mnist(cache, files=mnist.md5)
    for got, want in zip([train.images, train.labels, test.images, test.labels], mnist.arrays):
        np.testing.assert_array_equal(got, want)
    assert train.labels.dtype == np.int64

    hits = len(server.hits)
    download_mnist(cache, mirrors=[server.mirror("good", mnist.blobs)], files=mnist.md5, timeout=5)
    assert len(server.hits) == hits  # everything was cached and valid: nothing fetched again


def test_download_job_reports_every_file_to_the_job(server, mnist, tmp_path):
    job = RecordingJob()
    cache = download(job, cache_dir=tmp_path, mirrors=[server.mirror("good", mnist.blobs)], files=mnist.md5, timeout=5)
    assert sorted(os.listdir(cache)) == sorted(NAMES)
    assert all(isinstance(p, DownloadProgress) for p in job.snapshot())
    last = {p.name: (p.done, p.total) for p in job.snapshot()}
    assert last == {name: (len(blob), len(blob)) for name, blob in mnist.blobs.items()}
    fractions = [p.fraction for p in job.snapshot()]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and job.fraction() == 1.0


def test_download_falls_through_dead_and_missing_mirrors(server, mnist, dead_mirror, tmp_path):
    mirrors = [dead_mirror, f"{server.base}/missing/", server.mirror("good", mnist.blobs)]
    cache = download_mnist(tmp_path, mirrors=mirrors, files=mnist.md5, timeout=5)
    assert sorted(os.listdir(cache)) == sorted(NAMES)
    assert sum(hit.startswith("/missing/") for hit in server.hits) == 4


def test_download_rejects_bad_copies_and_leaves_no_trace(server, mnist, tmp_path):
    other = {name: gzip.compress(blob + b"x") for name, blob in mnist.blobs.items()}
    truncated = {name: blob[: len(blob) // 2] for name, blob in mnist.blobs.items()}
    mirrors = [
        server.mirror("wrong", other),
        server.mirror("truncated", truncated),
        server.mirror("short", mnist.blobs, extra_length=100),
    ]
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, mirrors=mirrors, files=mnist.md5, timeout=5)
    message = str(info.value)
    assert NAMES[0] in message
    assert message.count("checksum mismatch") == 2 and "truncated download" in message
    assert all(f"{mirror}{NAMES[0]}" in message for mirror in mirrors)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "corrupt, reason",
    [(lambda blob: blob[:-8], "gzip"), (lambda blob: gzip.compress(b"\x07" + gzip.decompress(blob)[1:]), "magic")],
)
def test_download_verifies_contents_beyond_checksum(server, mnist, tmp_path, corrupt, reason):
    bad = {name: corrupt(blob) for name, blob in mnist.blobs.items()}
    files = {name: hashlib.md5(blob).hexdigest() for name, blob in bad.items()}  # checksums "match"
    with pytest.raises(DownloadError) as info:
        download_mnist(tmp_path, mirrors=[server.mirror("bad", bad)], files=files, timeout=5)
    assert NAMES[0] in str(info.value) and reason in str(info.value)
    assert os.listdir(tmp_path) == []


def test_download_replaces_corrupt_cached_file(server, mnist, tmp_path):
    for name, blob in mnist.blobs.items():
        (tmp_path / name).write_bytes(blob)
    (tmp_path / NAMES[2]).write_bytes(b"garbage left by an old crash")
    download_mnist(tmp_path, mirrors=[server.mirror("good", mnist.blobs)], files=mnist.md5, timeout=5)
    assert (tmp_path / NAMES[2]).read_bytes() == mnist.blobs[NAMES[2]]
    assert server.hits == [f"/good/{NAMES[2]}"]  # the valid cached files were kept


def test_load_mnist_says_what_is_missing(mnist, tmp_path):
    (tmp_path / NAMES[0]).write_bytes(mnist.blobs[NAMES[0]])
    with pytest.raises(DataError, match=f"{NAMES[1]}.*download_mnist"):
        load_mnist(tmp_path, files=mnist.md5)


def test_default_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNN_EXPLORER_CACHE", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("RNN_EXPLORER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "rnn-explorer" / "mnist"


# ---- augmentation ---------------------------------------------------------------------------------


def centre_of_mass(images: torch.Tensor) -> torch.Tensor:
    """(B, 2) row/col intensity-weighted centres."""
    idx = torch.arange(images.shape[-1], dtype=images.dtype)
    mass = images.sum(dim=(1, 2))
    return torch.stack([(images.sum(2) @ idx) / mass, (images.sum(1) @ idx) / mass], dim=1)


@pytest.fixture(scope="module")
def digits(sample):
    return sample[1].tensors()[0][:64]


def test_augment_is_reproducible_and_changes_images(digits):
    a = augment(digits, torch.Generator().manual_seed(3))
    b = augment(digits, torch.Generator().manual_seed(3))
    c = augment(digits, torch.Generator().manual_seed(4))
    assert a.shape == digits.shape and a.dtype == digits.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert (a - digits).abs().amax(dim=(1, 2)).min() > 0.1  # every image moved
    assert a.min() >= 0.0 and a.max() <= 1.0


def test_augment_without_motion_is_identity(digits):
    out = augment(digits, torch.Generator().manual_seed(0), max_shift=0.0, max_rotate=0.0, scale=(1.0, 1.0))
    torch.testing.assert_close(out, digits, atol=1e-5, rtol=0)


def test_augment_shift_is_in_pixels(digits):
    out = augment(digits, torch.Generator().manual_seed(0), max_shift=2.0, max_rotate=0.0, scale=(1.0, 1.0))
    moved = (centre_of_mass(out) - centre_of_mass(digits)).abs()
    assert moved.max() <= 2.05 and moved.max() > 1.0


def test_augment_roughly_preserves_mass(digits):
    mass = digits.sum(dim=(1, 2))
    small = dict(max_shift=2.0, max_rotate=10.0)  # moves small enough that no stroke leaves the frame
    rigid = augment(digits, torch.Generator().manual_seed(0), scale=(1.0, 1.0), **small).sum(dim=(1, 2))
    torch.testing.assert_close(rigid, mass, rtol=0.03, atol=0)
    for s in (0.9, 1.1):  # area, hence mass, scales as s^2 (up to digits nudged against the frame)
        scaled = augment(digits, torch.Generator().manual_seed(0), scale=(s, s), **small).sum(dim=(1, 2))
        torch.testing.assert_close(scaled, mass * s**2, rtol=0.05, atol=0)
        assert (scaled / (mass * s**2)).mean() == pytest.approx(1.0, abs=0.01)


# ---- drawings -------------------------------------------------------------------------------------


def canvas(mask: np.ndarray, convention: str) -> np.ndarray:
    """An RGBA drawing of `mask` (H, W) in [0, 1] in one of the canvas conventions."""
    ink = (mask * 255).astype(np.uint8)
    rgba = np.zeros(mask.shape + (4,), dtype=np.uint8)
    if convention == "white on transparent":
        rgba[..., :3], rgba[..., 3] = 255, ink
    elif convention == "black on transparent":
        rgba[..., 3] = ink
    else:  # white on opaque black
        rgba[..., :3], rgba[..., 3] = ink[..., None], 255
    return rgba


def off_centre_blob() -> np.ndarray:
    """(200, 200) ellipse, 60 tall by 24 wide, near the top-right corner."""
    rows, cols = np.mgrid[:200, :200]
    return (((rows - 40) / 30) ** 2 + ((cols - 150) / 12) ** 2 <= 1).astype(np.float32)


@pytest.mark.parametrize("convention", ["white on transparent", "black on transparent", "white on black"])
def test_drawing_is_boxed_and_centred_like_mnist(convention):
    digit = drawing_to_digit(canvas(off_centre_blob(), convention))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0.0 and digit.max() == pytest.approx(1.0)
    com = centre_of_mass(torch.from_numpy(digit)[None])[0]
    assert (com - 14.0).abs().max() <= 1.0
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    assert rows[-1] - rows[0] + 1 == 20  # the longer side fills the 20 px box
    assert 6 <= cols[-1] - cols[0] + 1 <= 10  # aspect ratio kept: 24/60 * 20 = 8


def test_faint_drawing_reaches_full_intensity():
    faint = drawing_to_digit(canvas(0.6 * off_centre_blob(), "white on transparent"))
    full = drawing_to_digit(canvas(off_centre_blob(), "white on transparent"))
    # Compare sorted intensities: the symmetric blob's centre sits on a rounding tie, so the
    # two may be pasted one pixel apart.
    np.testing.assert_allclose(np.sort(faint.ravel()), np.sort(full.ravel()), atol=0.01)


def test_upscaled_mnist_digit_comes_back(sample):
    for image in sample[1].images[:10]:
        big = np.kron(image / 255.0, np.ones((10, 10)))  # as if drawn on a 280x280 canvas
        digit = drawing_to_digit(canvas(big, "white on transparent"))
        assert np.corrcoef(digit.ravel(), image.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("convention", ["white on transparent", "white on black"])
def test_a_dot_is_too_small_to_read(convention):
    """A dot scaled up to 20 x 20 would be read as some digit with high confidence: it is refused instead."""
    dot = np.zeros((224, 224), dtype=np.float32)
    dot[100:118, 100:118] = 1.0  # one touch of an 18-px pen: 8% of the canvas
    with pytest.raises(TooSmallDrawingError, match="draw a larger digit"):
        drawing_to_digit(canvas(dot, convention))
    stroke = dot.copy()
    stroke[60:118, 100:118] = 1.0  # a short vertical stroke, 26% of the canvas: a "1"
    assert drawing_to_digit(canvas(stroke, convention)).max() == pytest.approx(1.0)


@pytest.mark.parametrize("convention", ["white on transparent", "white on black"])
def test_empty_drawing_raises(convention):
    specks = np.zeros((100, 100), dtype=np.float32)
    specks[10, 10] = specks[50, 70] = 0.02  # below the ink threshold
    with pytest.raises(EmptyDrawingError):
        drawing_to_digit(canvas(specks, convention))
