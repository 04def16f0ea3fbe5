"""Training: configs, the trainer, losses, corruption, batches and predictions."""

from aerec.training.config import RunOptions, TrainConfig
from aerec.training.trainer import Trainer, TrainState

__all__ = ["RunOptions", "TrainConfig", "TrainState", "Trainer"]
