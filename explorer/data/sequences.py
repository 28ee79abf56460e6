"""Sequence tasks: what a digit becomes as a sequence of rows, with an optional delay of blank or noise rows.

"row-MNIST" here means the digit read one 28-pixel row per step (T = 28), as the source tutorials do; it is
not pixel-by-pixel MNIST (T = 784), whose numbers in papers are not comparable. A delay adds D rows after the
digit (the classifier must remember the ink across them) or before it (the state must survive D steps of
input first): blank rows (zeros: no input at all) or noise rows, each pixel drawn from a normal distribution
with the mean and spread of MNIST's pixels (0.13, 0.31), clipped to [0, 1] (input the model must learn to
ignore). Noise is drawn from a generator: training draws fresh noise for every batch; evaluation uses fixed
noise per digit, so every model is tested on the same sequences.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

if TYPE_CHECKING:  # torch is imported where a sequence is made: reading a model's task needs no torch
    import torch

ROWS = 28  # image rows: one per step
TaskKind = Literal["rows", "blank", "noise"]
DelayAt = Literal["after", "before"]
TASKS: tuple[str, ...] = get_args(TaskKind)
NOISE_MEAN, NOISE_STD = 0.13, 0.31  # of MNIST's pixels
MAX_DELAY = 100
EVAL_NOISE_SEED = 20_231_129  # fixed noise for evaluation: the same test sequences for every model


@dataclass(frozen=True)
class SequenceTask:
    """A digit's 28 rows, with `delay` blank or noise rows after or before them."""

    kind: TaskKind = "rows"
    delay: int = 0
    at: DelayAt = "after"

    def __post_init__(self):
        if self.kind not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.kind!r}")
        if self.at not in get_args(DelayAt):
            raise ValueError(f"the delay goes 'after' or 'before' the digit, got {self.at!r}")
        if not 0 <= self.delay <= MAX_DELAY or (self.kind == "rows") != (self.delay == 0):
            raise ValueError(
                f"delay must be 1..{MAX_DELAY} rows for blank or noise rows, and 0 for plain rows; "
                f"got {self.delay} for {self.kind!r}"
            )

    @property
    def T(self) -> int:
        """Steps per sequence."""
        return ROWS + self.delay

    @property
    def digit_rows(self) -> range:
        """Steps (0-based) that read the digit's rows."""
        start = self.delay if self.at == "before" else 0
        return range(start, start + ROWS)

    @property
    def name(self) -> str:
        """e.g. 'row-MNIST + 20 blank rows after (T = 48)'."""
        if self.kind == "rows":
            return "row-MNIST (T = 28)"
        return f"row-MNIST + {self.delay} {self.kind} rows {self.at} (T = {self.T})"

    def apply(
        self, images: "torch.Tensor", generator: "torch.Generator | None" = None, indices: "torch.Tensor | None" = None
    ) -> "torch.Tensor":
        """Images (B, 28, 28) in [0, 1] -> sequences (B, T, 28).

        Noise comes from `generator` (training); without one it is fixed per digit: digit `indices[b]` (default
        0..B-1, e.g. test-set numbers) always gets the same noise, whatever batch it is evaluated in.
        """
        if self.kind == "rows":
            return images
        import torch

        B = images.shape[0]
        if self.kind == "blank":
            pad = images.new_zeros(B, self.delay, ROWS)
        else:
            if generator is not None:
                noise = torch.randn(B, self.delay, ROWS, generator=generator, device=generator.device)
            else:
                indices = torch.arange(B) if indices is None else indices
                noise = torch.stack(
                    [
                        torch.randn(self.delay, ROWS, generator=torch.Generator().manual_seed(EVAL_NOISE_SEED + int(i)))
                        for i in indices
                    ]
                )
            pad = (NOISE_MEAN + NOISE_STD * noise).clamp(0.0, 1.0).to(images)
        return torch.cat([images, pad] if self.at == "after" else [pad, images], dim=1)


ROW_MNIST = SequenceTask()


def digit_sequence(task: SequenceTask, image, index: int = -1):
    """One digit (28, 28) as the sequence (T, 28) a model of `task` reads (digit number `index` fixes the noise)."""
    import torch

    x = torch.as_tensor(image, dtype=torch.float32)[None]
    return task.apply(x, indices=torch.tensor([index]))[0].numpy()


def trained_task(train_config) -> SequenceTask:
    """The sequence task a checkpoint's training config (its "train_config" metadata) records; row-MNIST for
    anything else."""
    if not isinstance(train_config, dict):
        return ROW_MNIST
    try:
        return SequenceTask(
            train_config.get("task", "rows"), train_config.get("delay", 0), train_config.get("delay_at", "after")
        )
    except (ValueError, TypeError):
        return ROW_MNIST
