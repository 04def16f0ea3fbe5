"""The notebook's two training plots, as PNG files: train vs validation loss and RMSE."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from aerec.io import atomic_write

CURVES = {
    "loss": ("train_loss", "val_loss", "masked MSE"),
    "rmse": ("train_rmse", "val_rmse", "RMSE (clipped)"),
}


def plot_history(history: list[dict], folder: str | Path, skip: int = 0) -> list[Path]:
    """Write ``loss.png`` and ``rmse.png`` (epochs after the first ``skip``) into ``folder``."""
    written = []
    for name, (train_key, val_key, label) in CURVES.items():
        rows = [r for r in history if r["epoch"] > skip]
        fig = Figure(figsize=(6, 4), dpi=100)
        ax = fig.subplots()
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r[train_key] for r in rows], label="train")
        if rows and val_key in rows[0]:
            ax.plot(epochs, [r[val_key] for r in rows], label="validation")
        ax.set(title=f"model train vs validation {name}", xlabel="epoch", ylabel=label)
        ax.legend(loc="best")
        fig.tight_layout()
        path = Path(folder) / f"{name}.png"
        atomic_write(path, lambda tmp, fig=fig: fig.savefig(tmp, format="png"))
        written.append(path)
    return written
