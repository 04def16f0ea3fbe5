"""Per-epoch callbacks: watch training from outside the trainer.

The trainer calls each callback with a copy of the epoch's history record (``epoch``,
``train_loss``, ``train_rmse``, ``val_loss``, ``val_rmse``, ``val_user_rmse``, ``seconds``,
``lr``) once the epoch is done and checkpointed. A callback only reads the record, so it cannot
change a result; it may raise to stop training (the tuner's pruning does).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aerec.extras import require

EpochCallback = Callable[[dict], None]


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a history column: ``val_rmse`` -> ``rmse/val``, so that the
    train and validation curves of one metric sit together; other keys keep their name."""
    split, _, metric = key.partition("_")
    return f"{metric}/{split}" if split in ("train", "val") and metric else key


class TensorBoardLogger:
    """Writes every number of each epoch's record as a TensorBoard scalar (step = epoch).

    Creating one only checks that TensorBoard is installed (so a missing extra fails before
    any work); the event file is made at the first epoch. Use it as a context manager so the
    file is closed. It flushes after every epoch, so ``tensorboard --logdir`` shows a run's
    curves while it trains; a resumed run adds a second event file to the same folder.
    """

    def __init__(self, log_dir: str | Path) -> None:
        self._summary_writer = require("tensorboard", "--tensorboard").SummaryWriter
        self.log_dir = Path(log_dir)
        self.writer = None

    def __call__(self, record: dict) -> None:
        if self.writer is None:
            self.writer = self._summary_writer(log_dir=str(self.log_dir))
        for key, value in record.items():
            if key != "epoch" and isinstance(value, int | float):
                self.writer.add_scalar(scalar_tag(key), value, global_step=record["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
