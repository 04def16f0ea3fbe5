"""Options several commands share, defined once."""

from __future__ import annotations

from pathlib import Path

import click

DATA_DIR = click.option(
    "--data-dir",
    envvar="AEREC_DATA_DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder holding extracted releases such as ml-1m/ (env AEREC_DATA_DIR).",
)

CHECKPOINT_EVERY = click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Save the resumable state every N epochs (fewer saves: faster GPU epochs, more "
    "epochs trained again after an interruption).",
)
