"""Errors a user can cause and fix.

The CLI prints any :class:`AerecError` as one line (``error: ...``) and exits non-zero;
anything else is a bug and keeps its traceback.
"""


class AerecError(Exception):
    """An error caused by input or options the user can fix; the message says how."""


class DataError(AerecError):
    """Malformed, missing or unverifiable data files."""


class ConfigError(AerecError):
    """An invalid option or configuration value."""


class TrainingError(ConfigError):
    """Training failed with this configuration (it diverged before any usable epoch)."""


class CheckpointError(AerecError):
    """A missing, corrupt or foreign run folder or checkpoint."""


class RunBusyError(AerecError):
    """A run folder another live process holds the lock of."""

    def __init__(self, message: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class DiskFullError(AerecError):
    """The disk filled up while writing; what was written before is intact."""
