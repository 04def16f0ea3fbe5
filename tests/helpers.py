"""Small data builders shared by tests (no MovieLens files: everything is generated)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aerec.data.types import EncodedData, RatingsData, encode


def toy_ratings(
    n_users: int = 120,
    n_items: int = 80,
    seed: int = 0,
    rank: int = 3,
    min_per_user: int = 20,
    max_per_user: int = 50,
) -> RatingsData:
    """Low-rank ratings 1..5 with noise, user demographics and item genres."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    frames = []
    for u in range(n_users):
        size = rng.integers(min_per_user, min(max_per_user, n_items) + 1)
        items = rng.choice(n_items, size=size, replace=False)
        score = 3.6 + 0.7 * p[u] @ q[items].T + rng.normal(0, 0.3, len(items))
        frames.append(
            pd.DataFrame(
                {"user": u + 1, "item": items + 1, "rating": np.clip(np.rint(score), 1, 5)}
            )
        )
    ratings = pd.concat(frames, ignore_index=True)
    ratings["rating"] = ratings["rating"].astype(np.float32)
    ratings["timestamp"] = rng.integers(9e8, 1e9, len(ratings)).astype(np.int64)
    users = pd.DataFrame(
        {
            "gender": np.where(p[:, 0] > 0, "M", "F"),
            "age": rng.choice([1, 18, 25, 35, 45, 50, 56], n_users),
            "occupation": rng.integers(0, 21, n_users),
        },
        index=pd.Index(np.arange(1, n_users + 1), name="user"),
    )
    genres = np.array(["Action", "Comedy"])
    items = pd.DataFrame(
        {
            "title": [f"Item {i} (1999)" for i in range(1, n_items + 1)],
            "genres": ["|".join(genres[q[i, :2] > 0]) or "Drama" for i in range(n_items)],
        },
        index=pd.Index(np.arange(1, n_items + 1), name="item"),
    )
    return RatingsData("toy", ratings, users=users, items=items)


def toy_encoded(**kwargs) -> EncodedData:
    return encode(toy_ratings(**kwargs))


def read_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every TensorBoard scalar of the event files in ``log_dir``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def history_scalars(history: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """What :func:`read_scalars` should find for a run's history (event files hold float32)."""
    from aerec.training.callbacks import scalar_tag

    keys = [k for k in history[0] if k != "epoch"]
    return {scalar_tag(k): [(r["epoch"], float(np.float32(r[k]))) for r in history] for k in keys}


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``aerec ARGS`` in this process: (exit code, stdout, stderr)."""
    from aerec.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def spy_checkpoint_saves(monkeypatch) -> list[int]:
    """The epochs at which the trainer saves its checkpoint from now on (saves still happen)."""
    from aerec.training import checkpoint

    saved, save = [], checkpoint.save

    def spy(folder, model, optimizer, scheduler, state):
        saved.append(state.epoch)
        save(folder, model, optimizer, scheduler, state)

    monkeypatch.setattr(checkpoint, "save", spy)
    return saved
