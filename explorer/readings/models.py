"""Sentences about a saved model: its accuracy, data, how its training ended, when it was made."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a type only: Watch it read writes point_note without importing training (torch)
    from ..training.metadata import Recorded


def accuracy_text(rec: "Recorded") -> str:
    """The recorded test accuracy as a percentage, or a dash when there is no valid one."""
    return "—" if rec.test_accuracy is None else f"{100 * rec.test_accuracy:.1f}%"


def data_text(rec: "Recorded") -> str:
    """Where a checkpoint's training digits came from, in words (only validated numbers and fixed words)."""
    name = {"sample": "the bundled MNIST sample", "mnist": "full MNIST", None: "unrecorded data"}[rec.data_source]
    text = f"{rec.train_digits:,} training digits from {name}" if rec.train_digits else name
    text += ", augmented" if rec.augmented else ""
    return text + (f"; tested on {rec.test_digits:,}" if rec.test_digits else "")


def how_it_ended(rec: "Recorded", tested: int | None = None) -> str:
    """Finished, or stopped: then which weights were kept."""
    if not rec.stopped:
        return "finished"
    if rec.epoch == 0 or rec.partial_epoch:
        part = f" and tested on the first {tested:,} test digits there was time for" if tested else ""
        return f"stopped during epoch 1; the weights as they were at the stop{part}"
    return "stopped early; the best weights so far" + ("" if rec.epoch is None else f", from epoch {rec.epoch}")


def created_text(rec: "Recorded") -> str:
    return "—" if rec.created is None else rec.created.strftime("%Y-%m-%d %H:%M UTC")


def point_note(point) -> str:
    """What a point of training scored (explorer.model.snapshots.Point): its test accuracy and training loss."""
    acc = "test accuracy unrecorded" if point.test_accuracy is None else f"test accuracy {point.test_accuracy:.1%}"
    loss = "" if point.loss is None else f", training loss {point.loss:.3f}"
    return f"{acc}{loss}, after {point.step:,} optimizer steps"
