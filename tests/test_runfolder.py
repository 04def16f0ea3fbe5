"""Run folders shared by several processes: the lock, what counts as a run folder, sweeping,
and the default thread count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from aerec import runfolder
from aerec.errors import ConfigError, RunBusyError
from aerec.runfolder import LOCK, ProcessSlot, RunLock, check_out, default_threads, sweep

SRC = str(Path(runfolder.__file__).parents[1])


def _holder(code: str) -> subprocess.Popen:
    """A Python process that runs ``code``, prints ``ready`` and sleeps."""
    script = textwrap.dedent(code) + "\nprint('ready', flush=True)\nimport time; time.sleep(60)\n"
    env = os.environ | {"PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_a_lock_is_exclusive_and_names_its_holder(tmp_path):
    folder = tmp_path / "run"
    with RunLock(folder) as lock:
        assert lock.created and (folder / LOCK).read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunBusyError, match=f"in use by process {os.getpid()}") as info:
            RunLock(folder).__enter__()
        assert info.value.pid == os.getpid()
    assert not (folder / LOCK).exists()  # released: nothing left behind
    with RunLock(folder) as again:
        assert not again.created


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    proc = _holder(f"from aerec.runfolder import RunLock; RunLock({str(folder)!r}).__enter__()")
    with pytest.raises(RunBusyError, match=f"process {proc.pid}"):
        RunLock(folder).__enter__()
    _kill(proc)  # kill -9: the lock file stays, with the dead holder's pid
    assert (folder / LOCK).read_text().strip() == str(proc.pid)
    with RunLock(folder) as lock:
        assert lock.stale_pid == proc.pid
        assert (folder / LOCK).read_text() == f"{os.getpid()}\n"


def test_waiting_for_a_lock_gets_it_when_the_holder_dies(tmp_path):
    folder = tmp_path / "run"
    proc = _holder(f"from aerec.runfolder import RunLock; RunLock({str(folder)!r}).__enter__()")
    subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -9 {proc.pid}"])
    with RunLock(folder, wait=True):
        assert proc.wait() == -signal.SIGKILL


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"notes.txt": "mine"}, "holds 'notes.txt'"),
        ({"config.toml": "# my config\n", "data.csv": "u,i,r\n"}, "holds 'data.csv'"),
        ({"config.toml": "# my config, commented\n[model]\n"}, "aerec did not write"),
        ({"history.json": "[]"}, "no config.toml"),
    ],
)
def test_a_folder_that_is_not_a_run_folder_is_refused(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=message):
        check_out(tmp_path)


def test_empty_folders_and_run_folders_are_accepted(tmp_path):
    from aerec.config import dumps_toml
    from aerec.runs import RunConfig

    check_out(tmp_path / "missing")
    check_out(tmp_path)
    (tmp_path / ".config.toml.abc.tmp").write_text("")  # a leftover of a killed write
    (tmp_path / "config.toml").write_text(dumps_toml(RunConfig.from_dict({}).to_dict()))
    check_out(tmp_path)
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "checkpoint").mkdir()
    check_out(tmp_path)
    with pytest.raises(ConfigError, match="is a file"):
        check_out(tmp_path / "metrics.json")


def test_sweep_removes_temporary_files_and_a_finished_runs_checkpoint(tmp_path):
    for sub in ("", "model", "checkpoint"):
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / ".model.safetensors.x1y2.tmp").write_text("half")
        (tmp_path / sub / ".tmpAb12Cd").write_text("safetensors' own")
    (tmp_path / "model" / "model.safetensors").write_text("kept")
    sweep(tmp_path, finished=False)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "checkpoint",
        "model",
        "model.safetensors",
    ]
    sweep(tmp_path, finished=True)
    assert not (tmp_path / "checkpoint").exists() and (tmp_path / "model").is_dir()


def test_default_threads_share_the_cores_with_other_aerec_processes(monkeypatch):
    monkeypatch.setattr(runfolder, "cores", lambda: 4)
    assert default_threads() == 4
    with ProcessSlot():  # this process's own slot does not count
        assert default_threads() == 4
    proc = _holder("from aerec.runfolder import ProcessSlot; ProcessSlot().__enter__()")
    try:
        assert default_threads() == 2
    finally:
        _kill(proc)
    assert default_threads() == 4  # the killed process's slot is stale, and swept
    assert list(Path(os.environ["AEREC_RUNTIME_DIR"]).iterdir()) == []


def test_a_run_follows_its_share_as_other_processes_come_and_go(monkeypatch):
    from aerec import recommender

    calls, share = [], iter([1, 1, 2])
    monkeypatch.setattr(runfolder, "default_threads", lambda: next(share))
    monkeypatch.setattr(recommender, "set_threads", calls.append)
    callback = runfolder.ThreadShare(2)
    for epoch in (1, 2, 3):
        callback({"epoch": epoch})
    assert calls == [1, 2] and callback.threads == 2


def test_an_unwritable_runtime_folder_does_not_stop_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("AEREC_RUNTIME_DIR", str(tmp_path / "file" / "sub"))
    with ProcessSlot():
        assert default_threads() >= 1
