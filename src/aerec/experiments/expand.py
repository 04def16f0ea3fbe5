"""Expanding a spec: rows (a config without its seed) and runs (a row with one seed).

Each run gets a deterministic id, ``<row slug>-s<seed>-<8 hex digits>``, the digits being a
hash of the run's full config dict; its folder is ``RUNS_DIR/<spec name>/<run id>/``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, replace
from typing import Any

from aerec.errors import ConfigError
from aerec.experiments.spec import (
    VARIANT_KEY,
    ExperimentSpec,
    Reference,
    Variant,
    check_dotted,
    flatten,
    parse_seeds,
)
from aerec.plan import cap_epochs
from aerec.runs import DataConfig, RunConfig, fold_names


@dataclass(frozen=True)
class Row:
    """One configuration of an experiment, run once per seed.

    axes: ``variant`` -> label and grid key -> value, the coordinates of this row.
    values: the row's nested run config (data, model, train), without the seed.
    baseline: the label of the row it is compared with (None: it is not compared).
    """

    index: int
    label: str
    axes: dict[str, Any]
    values: dict[str, Any]
    baseline: str | None = None
    reference: Reference | None = None

    @property
    def slug(self) -> str:
        return slugify(self.label)

    def config(self, seed: int) -> RunConfig:
        values = dict(self.values)
        top = values.pop("run", {})  # run.recipe = "authors" -> recipe = "authors"
        return RunConfig.from_dict({**values, **top, "seed": seed}, f"row {self.label!r}")


@dataclass(frozen=True)
class ExperimentRun:
    """A row with one seed: the config :func:`aerec.runs.train_run` gets, and its id."""

    row: Row
    seed: int
    config: RunConfig
    run_id: str
    fold: int | str | None = None


def expand_rows(spec: ExperimentSpec) -> list[Row]:
    """Every variant crossed with every grid point, in spec order, baselines resolved."""
    rows = []
    for variant in spec.variants or (None,):
        for point in itertools.product(*spec.grid.values()):
            axes = ({VARIANT_KEY: variant.label} if variant else {}) | dict(
                zip(spec.grid, point, strict=True)
            )
            values = _resolve(spec, variant, axes)
            row = Row(len(rows), _label(axes, spec), axes, values)
            _check_new(row, rows, spec)
            rows.append(row)
    rows = [replace(row, baseline=_baseline(row, spec, rows)) for row in rows]
    rows = [replace(row, reference=_reference(row, spec)) for row in rows]
    unused = [ref for ref in spec.references if all(row.reference != ref for row in rows)]
    if unused:
        raise ConfigError(f"{spec.where}: reference match {unused[0].match} matches no row")
    for end in ("low", "high"):  # the [tune] keys exist and both ends of each range are valid
        picks = {key: getattr(r, end) for key, r in spec.tune.items()}
        tuned_config(rows[0], picks, spec.seeds[0], f"{spec.where} [tune]")
    return rows


def tuned_config(row: Row, picks: dict[str, Any], seed: int, where: str) -> RunConfig:
    """The row's config with ``picks`` (dotted key -> value, from [tune] ranges) on top."""
    values = copy.deepcopy(row.values)
    for key, value in picks.items():
        section, name = check_dotted(key, where)
        values.setdefault(section, {})[name] = value
    top = values.pop("run", {})  # run.recipe = "authors" -> recipe = "authors"
    return RunConfig.from_dict({**values, **top, "seed": seed}, where)


def expand_runs(
    spec: ExperimentSpec,
    seeds: list[int] | tuple[int, ...] | None = None,
    epochs: int | None = None,
    dataset: str | None = None,
) -> list[ExperimentRun]:
    """All runs, seed by seed (so complete comparisons come early), with the overrides:
    ``seeds`` replaces the spec's, ``epochs`` caps the epochs, ``dataset`` replaces it."""
    seeds = parse_seeds(list(seeds), "--seeds") if seeds is not None else spec.seeds
    if epochs is not None and epochs < 1:
        raise ConfigError(f"--epochs must be >= 1, got {epochs}")
    rows = expand_rows(spec)
    runs = []
    for seed in seeds:
        for fold in _all_folds(spec, rows):
            for row in rows:
                config = row.config(seed)
                if epochs is not None and config.plan:  # a peer has no epochs to cap
                    config = replace(config, train=cap_epochs(config.plan, epochs))
                if dataset is not None:
                    config = replace(config, data=replace(config.data, dataset=dataset))
                if fold is None:
                    runs.append(ExperimentRun(row, seed, config, run_id(row.label, config)))
                    continue
                if fold not in fold_list(spec, config):
                    continue  # rows may have different folds (k, data set)
                config = replace(config, data=_with_fold(config.data, fold, spec, row))
                runs.append(
                    ExperimentRun(row, seed, config, run_id(f"{row.label}-f{fold}", config), fold)
                )
    return runs


def fold_list(spec: ExperimentSpec, config: RunConfig) -> tuple[int | str, ...]:
    """The folds a run config is trained on: the spec's list, or all of its split's."""
    if spec.folds is None:
        return ()
    try:
        return fold_names(config.data) if spec.folds == "all" else tuple(spec.folds)
    except ConfigError as exc:
        raise ConfigError(f"{spec.where}: {exc}") from None


def _all_folds(spec: ExperimentSpec, rows: list[Row]) -> list[int | str | None]:
    """Every fold of any row, in order; [None] without cross-validation."""
    if spec.folds is None:
        return [None]
    folds = [f for row in rows for f in fold_list(spec, row.config(spec.seeds[0]))]
    return list(dict.fromkeys(folds))


def _with_fold(data: DataConfig, fold: int | str, spec: ExperimentSpec, row: Row) -> DataConfig:
    try:
        return replace(data, fold=fold)
    except ConfigError as exc:
        raise ConfigError(f"{spec.where}: row {row.label!r}, fold {fold!r}: {exc}") from None


def _check_new(row: Row, rows: list[Row], spec: ExperimentSpec) -> None:
    """The row's config is valid (checked now, naming the row) and differs from the others."""
    config = row.config(spec.seeds[0]).to_dict()
    for other in rows:
        if other.config(spec.seeds[0]).to_dict() == config:
            raise ConfigError(
                f"{spec.where}: rows {other.label!r} and {row.label!r} have the same config; "
                "remove one of them"
            )


def run_id(label: str, config: RunConfig) -> str:
    """``<slug>-s<seed>-<hash>``: readable, and different for any change of config."""
    text = json.dumps(config.to_dict(), sort_keys=True)
    digest = hashlib.sha1(text.encode()).hexdigest()[:8]
    return f"{slugify(label)}-s{config.seed}-{digest}"


def slugify(label: str, limit: int = 48) -> str:
    """A folder-safe form of a row label: lower case, runs of other characters to ``-``."""
    slug = re.sub(r"[^a-z0-9.]+", "-", label.lower()).strip("-.")
    return slug[:limit].rstrip("-.") or "row"


def format_value(value: Any) -> str:
    """A grid value as a label shows it: lists joined with ``-``, floats short."""
    if isinstance(value, list | tuple):
        return "-".join(format_value(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def normalize(value: Any) -> Any:
    """A value in a form that compares equal across TOML spellings (1 == 1.0, lists)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    return value


def _resolve(spec: ExperimentSpec, variant: Variant | None, axes: dict) -> dict[str, Any]:
    values = copy.deepcopy(spec.base)
    overrides = dict(variant.overrides) if variant else {}
    clash = sorted(set(overrides) & set(spec.grid))
    if clash:
        raise ConfigError(
            f"{spec.where}: variant {variant.label!r} sets {clash[0]!r}, which is a grid axis"
        )
    grid = {k: v for k, v in axes.items() if k != VARIANT_KEY}
    for key, value in (overrides | grid).items():
        section, name = check_dotted(key, spec.where)
        values.setdefault(section, {})[name] = value
    return values  # RunConfig.from_dict fills a partial [train] from the model's defaults


def _label(axes: dict[str, Any], spec: ExperimentSpec) -> str:
    tails = [key.rpartition(".")[2] for key in spec.grid]
    parts = []
    for key, value in axes.items():
        if key == VARIANT_KEY:
            parts.append(str(value))
            continue
        tail = key.rpartition(".")[2]
        parts.append(f"{tail if tails.count(tail) == 1 else key}={format_value(value)}")
    return ", ".join(parts) or spec.name


def _axes_key(axes: dict[str, Any]) -> str:
    return json.dumps({k: normalize(v) for k, v in axes.items()}, sort_keys=True)


def _baseline(row: Row, spec: ExperimentSpec, rows: list[Row]) -> str | None:
    assignment = dict(spec.baseline or {})
    variant = next((v for v in spec.variants if v.label == row.axes.get(VARIANT_KEY)), None)
    if variant is not None and variant.baseline is not None:
        assignment[VARIANT_KEY] = variant.baseline
    if not assignment:
        return None
    unknown = sorted(set(assignment) - set(spec.axes))
    if unknown:
        raise ConfigError(
            f"{spec.where}: baseline names {unknown[0]!r}, which is not an axis; "
            f"axes: {', '.join(spec.axes) or 'none (add [grid] or [[variants]])'}"
        )
    target = _axes_key(row.axes | assignment)
    match = next((other for other in rows if _axes_key(other.axes) == target), None)
    if match is None:
        raise ConfigError(f"{spec.where}: baseline {assignment} matches no row of the spec")
    return None if match.index == row.index else match.label


def _reference(row: Row, spec: ExperimentSpec) -> Reference | None:
    flat = flatten(row.config(spec.seeds[0]).to_dict()) | {VARIANT_KEY: row.axes.get(VARIANT_KEY)}
    found = None
    for ref in spec.references:
        unknown = sorted(set(ref.match) - set(flat))
        if unknown:
            raise ConfigError(f"{spec.where}: reference match key {unknown[0]!r} is unknown")
        if all(normalize(flat[k]) == normalize(v) for k, v in ref.match.items()):
            if found is not None:
                raise ConfigError(f"{spec.where}: row {row.label!r} matches two references")
            found = ref
    return found
