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
