"""Run folders shared by several processes: what counts as one, a lock per run, sweeping.

A run folder (see :mod:`aerec.runs`) holds only the files aerec writes there. While a process
trains or changes a run, it holds ``RUN_DIR/.aerec.lock``: an exclusive ``flock`` on that
file, which names the holder's pid. The kernel frees the lock when its holder dies, even by
``kill -9``, so a lock left by a killed process is stale at once and the next process takes
it over. Under the lock, a process sweeps what a killed one left: temporary files of
interrupted atomic writes, and the ``checkpoint/`` of a run that had already finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from aerec.config import dumps_toml, read_toml
from aerec.errors import AerecError, ConfigError, RunBusyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking (documented)
    fcntl = None  # type: ignore[assignment]

LOCK = ".aerec.lock"
RUN_FILES = frozenset(
    {
        "config.toml",
        "history.json",
        "history.csv",
        "metrics.json",
        "loss.png",
        "rmse.png",
        "model",
        "checkpoint",
        "reused_from.txt",
        "selection",
        LOCK,
    }
)
"""Every name aerec writes into a run folder."""


def is_temporary(name: str) -> bool:
    """A temporary file of an interrupted write: ``.NAME.XXXX.tmp`` (:mod:`aerec.io`) or
    ``.tmpXXXXXX`` (safetensors)."""
    return name.startswith(".") and (name.endswith(".tmp") or name.startswith(".tmp"))


def check_out(out: Path, option: str = "--out") -> None:
    """Refuse an ``out`` that is a file, or a folder that is not empty and not a run folder,
    so that no file of the user's is ever overwritten."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out} is a file; give a folder for the run")
    if not out.is_dir():
        return
    names = {p.name for p in out.iterdir()} - {LOCK}
    names = {n for n in names if not is_temporary(n)}
    if not names:
        return
    foreign = sorted(n for n in names if n not in RUN_FILES)
    if foreign or "config.toml" not in names:
        what = f"it holds {foreign[0]!r}" if foreign else "it has no config.toml"
        raise ConfigError(
            f"{option} {out} is not empty and not an aerec run folder ({what}); "
            "give a new or empty folder"
        )
    if names == {"config.toml"} and not _written_by_aerec(out / "config.toml"):
        raise ConfigError(
            f"{option} {out} holds a config.toml that aerec did not write (a file of yours?); "
            "give a new or empty folder"
        )


def _written_by_aerec(path: Path) -> bool:
    """Whether ``path`` is a run config exactly as aerec dumps it (no comments, its order)."""
    from aerec.runs import RunConfig

    try:
        text = path.read_text(encoding="utf-8")
        return text == dumps_toml(RunConfig.from_dict(read_toml(path)).to_dict())
    except (AerecError, OSError, UnicodeDecodeError):
        return False


def sweep(folder: Path, finished: bool) -> None:
    """Remove what an interrupted process left in ``folder`` (hold its lock): temporary
    files, and the checkpoint of a ``finished`` run."""
    for sub in (folder, folder / "model", folder / "checkpoint"):
        if sub.is_dir():
            for path in sub.iterdir():
                if is_temporary(path.name) and path.is_file():
                    path.unlink(missing_ok=True)
    if finished:
        shutil.rmtree(folder / "checkpoint", ignore_errors=True)


class RunLock:
    """Hold the lock of run folder ``folder`` (created if missing) in a ``with`` block.

    wait: block until the holder lets go; otherwise a held lock raises
        :class:`~aerec.errors.RunBusyError` naming the holder's pid.
    created: whether this lock created the folder; made: the folders it created (the
        folder and missing parents, deepest first). stale_pid: the pid a killed holder left.
    """

    def __init__(self, folder: str | Path, wait: bool = False) -> None:
        self.folder, self.wait = Path(folder), wait
        self.created, self.made, self.stale_pid, self._fd = False, [], None, None

    def __enter__(self) -> RunLock:
        path = self.folder / LOCK
        while True:
            self.made = [p for p in (self.folder, *self.folder.parents) if not p.exists()]
            self.created = bool(self.made)
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                _flock(fd, self.wait)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise RunBusyError(
                    f"{self.folder} is in use by process {pid or '?'}; wait for it to finish "
                    "(or stop it) and run again",
                    pid,
                ) from None
            if _same_file(fd, path):
                break
            os.close(fd)  # the holder removed the file as we waited: lock the new one
        self.stale_pid = _read_pid(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        (self.folder / LOCK).unlink(missing_ok=True)  # still held: no one else has it
        os.close(self._fd)  # lets go of the lock
        self._fd = None

    def remove_made(self) -> None:
        """Remove what this lock created: the folder (with all in it) and the parents it
        made, as far as they are empty (hold the lock)."""
        shutil.rmtree(self.folder, ignore_errors=True)
        for parent in self.made[1:]:
            try:
                parent.rmdir()
            except OSError:  # another process put something there
                break


def _flock(fd: int, wait: bool) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


# -- threads ---------------------------------------------------------------------------------
def _slots_dir() -> Path:
    """Where training processes register: ``$AEREC_RUNTIME_DIR`` or a folder per user in
    the temporary folder (processes sharing cores must share it)."""
    if os.environ.get("AEREC_RUNTIME_DIR"):
        return Path(os.environ["AEREC_RUNTIME_DIR"])
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"aerec-{uid}-processes"


class ProcessSlot:
    """Registers this process as a training aerec process while the block runs, so that
    :func:`default_threads` in other processes can share the cores with it."""

    def __enter__(self) -> ProcessSlot:
        self._path = _slots_dir() / f"{os.getpid()}-{id(self)}"
        self._fd = None
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # no writable temporary folder: train unregistered
            return self
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            self._path.unlink(missing_ok=True)
            os.close(self._fd)


def other_processes() -> int:
    """How many other aerec processes are training now (stale slots are removed)."""
    folder, mine, count = _slots_dir(), f"{os.getpid()}-", 0
    if fcntl is None or not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if path.name.startswith(mine):
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)  # nobody holds it: its process is gone
        except BlockingIOError:
            count += 1
        finally:
            os.close(fd)
    return count


def cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads() -> int:
    """The CPU threads a run takes when none are given: its share of the cores among the
    aerec processes training now, so that concurrent runs do not oversubscribe them."""
    return max(1, cores() // (1 + other_processes()))


class ThreadShare:
    """An epoch callback that keeps a run at its share of the cores as other aerec
    processes start and end (for runs not given a thread count)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def __call__(self, record: dict) -> None:
        from aerec.recommender import set_threads

        threads = default_threads()
        if threads != self.threads:
            set_threads(threads)
            self.threads = threads
