"""Options several commands share, defined once."""

from __future__ import annotations

import math
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


def _not_nan(ctx, param, value: float) -> float:
    if value != value:  # NaN passes FloatRange's comparisons
        raise click.BadParameter("must be a number of seconds >= 0, not nan")
    return value


CHECKPOINT_SECONDS = click.option(
    "--checkpoint-seconds",
    type=click.FloatRange(min=0),
    callback=_not_nan,
    default=30.0,
    show_default=True,
    help="...but at most once in S seconds (0: every N epochs); an interruption loses at "
    "most S seconds of training.",
)


def _names(ctx, param, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(v.strip() for v in value.split(","))
    if not 3 <= len(names) <= 4 or not all(names):
        raise click.BadParameter("give 3 or 4 names: USER,ITEM,RATING[,TIMESTAMP]")
    return names


def _scale(ctx, param, value: str | None) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not LOW,HIGH, e.g. 0.5,5") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise click.BadParameter(f"{value!r} is not LOW,HIGH with LOW < HIGH, e.g. 0.5,5")
    return low, high


COLUMNS = click.option(
    "--columns",
    callback=_names,
    help="USER,ITEM,RATING[,TIMESTAMP] column names of your own ratings file "
    "(default user,item,rating[,timestamp]).",
)
SEP = click.option("--sep", help="Field separator of your own text file (default , or tab).")
SCALE = click.option(
    "--scale", callback=_scale, help="Rating scale LOW,HIGH of your own file (default 1,5)."
)


class FiniteFloat(click.ParamType):
    """A float option that refuses nan and infinities (they pass every range check)."""

    name = "number"

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


FINITE = FiniteFloat()

THREADS = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads (default: the cores shared among the aerec processes training now; "
    "see docs/parallel.md).",
)
