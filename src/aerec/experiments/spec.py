"""Experiment specs: a base run config, grid axes, named variants, seeds and baselines.

A spec is a TOML file::

    [experiment]
    name = "deep-shapes"                 # default: the file name without .toml
    description = "..."
    seeds = [1, 2, 3]
    baseline = "zero"                    # each row vs the "zero" row of its grid point

    [data]                               # the base config: the sections of a run's
    dataset = "ml-1m"                    # config.toml, without its seed
    [model]
    name = "deep"
    [train]
    lr = 0.0001

    [grid]                               # axes, crossed with each other and the variants
    "model.layers" = [[512, 256, 512], [256, 512, 256]]

    [[variants]]                         # named partial overrides
    label = "zero"
    [[variants]]
    label = "average"
    "model.input_fill" = "user_mean"     # or model = { input_fill = "user_mean" }

    [[references]]                       # published figures shown beside ours
    source = "notebook"
    user_rmse = 0.856
    match = { variant = "zero", "model.layers" = [512, 256, 512] }

Cross-validation: ``folds`` in [experiment] runs every row on each fold, like the seeds::

    [experiment]
    seeds = [1]
    folds = "all"        # kfold: 0..k-1; predefined: the release's (ML-100K u1..u5)
    # folds = [0, 1, 2]  or  folds = ["u1", "ua"]: those folds only

Folds are not rows: each row's mean ± std is over its folds x seeds, and each run has its
own folder (``<row slug>-f<fold>-s<seed>-<hash>``). ``aerec tune`` ignores folds.

A baseline is a partial assignment of axes (``variant`` and grid keys): a row's baseline row
is the row with those axes replaced, e.g. ``baseline = { variant = "zero", "model.layers" =
[256, 512, 256] }`` compares every row with that one row. A string names a variant. A variant
may have its own ``baseline = "<variant label>"``, which replaces the spec's ``variant``
entry for its rows. Every error is one line.

``aerec tune`` (:mod:`aerec.experiments.tune`) searches a spec instead of running all of it:
each axis (``variant`` and every [grid] key) is a categorical choice among its values, and an
optional ``[tune]`` table adds numeric ranges over other config keys::

    [tune]
    "train.lr" = { low = 1e-4, high = 1e-2, log = true }   # a float, log-uniform
    "model.hidden" = { low = 100, high = 600 }              # both ends integers: an integer
    "model.dropout" = { low = 0.0, high = 0.8 }             # or [tune.model] dropout = {...}

``low`` < ``high`` are required, ``log`` (sample on a log scale; needs low > 0) is optional.
A ranged key may be neither a [grid] axis nor set by a variant. ``aerec experiment run``
ignores [tune]; every trial trains with the spec's first seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aerec.config import read_toml
from aerec.errors import ConfigError

SECTIONS = ("data", "model", "train", "run")
"""A run's config sections; ``run`` holds the top-level keys of a run (``run.recipe``)."""
TOP_KEYS = ("experiment", *SECTIONS, "grid", "variants", "references", "tune")
EXPERIMENT_KEYS = ("name", "description", "seeds", "baseline", "folds")
RANGE_KEYS = ("low", "high", "log")
VARIANT_KEY = "variant"


@dataclass(frozen=True)
class Variant:
    """A named partial override of the base config (``overrides``: dotted key -> value).

    baseline: the label of the variant this one is compared with (None: the spec's).
    """

    label: str
    overrides: dict[str, Any]
    baseline: str | None = None


@dataclass(frozen=True)
class Reference:
    """A published figure for the rows whose axes or config values match ``match``."""

    source: str
    match: dict[str, Any]
    rmse: float | None = None
    user_rmse: float | None = None


@dataclass(frozen=True)
class Range:
    """A numeric search range of ``aerec tune``: an integer when both ends are integers."""

    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


@dataclass(frozen=True)
class ExperimentSpec:
    """A parsed, validated spec; :func:`aerec.experiments.expand.expand_rows` expands it.

    base: the nested base run config (sections data, model, train).
    grid: dotted key -> the values of that axis, in order.
    baseline: the spec-wide baseline assignment (axis -> value), empty for none.
    tune: dotted key -> the numeric range ``aerec tune`` searches it over.
    """

    name: str
    seeds: tuple[int, ...]
    base: dict[str, Any]
    grid: dict[str, tuple[Any, ...]]
    variants: tuple[Variant, ...] = ()
    baseline: dict[str, Any] | None = None
    references: tuple[Reference, ...] = ()
    description: str = ""
    where: str = "spec"
    tune: dict[str, Range] = field(default_factory=dict)
    folds: str | tuple[int | str, ...] | None = None
    """``"all"``, the folds to run, or None (no cross-validation)."""

    @property
    def axes(self) -> tuple[str, ...]:
        """The names of the axes a row varies along (``variant`` first, if any)."""
        return ((VARIANT_KEY,) if self.variants else ()) + tuple(self.grid)


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and validate a spec file (see the module docstring for the format)."""
    path = Path(path)
    values = read_toml(path)
    spec = parse_spec(values, default_name=path.stem, where=str(path))
    from aerec.experiments.expand import expand_runs

    expand_runs(spec)  # validates every run's config, the baselines, references and folds
    return spec


def parse_spec(values: dict[str, Any], default_name: str, where: str = "spec") -> ExperimentSpec:
    """Build an :class:`ExperimentSpec` from a TOML dict; structural errors are one line."""
    _check_keys(values, TOP_KEYS, where, "top-level key")
    head = values.get("experiment", {})
    if not isinstance(head, dict):
        raise ConfigError(f"[experiment] in {where} must be a table")
    _check_keys(head, EXPERIMENT_KEYS, f"{where} [experiment]", "key")
    variants = _variants(values.get("variants", []), where)
    grid = _grid(values.get("grid", {}), where)
    baseline = head.get("baseline")
    return ExperimentSpec(
        name=_name(head.get("name", default_name), where),
        seeds=parse_seeds(head.get("seeds"), where),
        base={s: dict(_table(values, s, where)) for s in SECTIONS if s in values},
        grid=grid,
        variants=variants,
        baseline=None if baseline is None else _assignment(baseline, f"{where} baseline"),
        references=_references(values.get("references", []), where),
        description=str(head.get("description", "")).strip(),
        where=where,
        tune=_tune(values.get("tune", {}), grid, variants, where),
        folds=_folds(head.get("folds"), where),
    )


def parse_seeds(seeds: Any, where: str = "spec") -> tuple[int, ...]:
    """A non-empty list of distinct non-negative integers."""
    if not isinstance(seeds, list | tuple) or not seeds:
        raise ConfigError(f"{where}: seeds must be a non-empty list of integers, e.g. [1, 2, 3]")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ConfigError(f"{where}: seeds must be integers >= 0, got {list(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: seeds must be distinct, got {list(seeds)}")
    return tuple(seeds)


def _folds(value: Any, where: str) -> str | tuple[int | str, ...] | None:
    if value is None or value == "all":
        return value
    ok = (
        isinstance(value, list)
        and value
        and all(
            isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)) for v in value
        )
    )
    if not ok or len({repr(v) for v in value}) != len(value):
        raise ConfigError(
            f'{where}: folds must be "all" or a list of distinct folds, e.g. [0, 1] or '
            f'["u1", "u2"], got {value!r}'
        )
    return tuple(value)


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys: ``{"model": {"layers": [1]}}`` -> ``{"model.layers": [1]}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def check_dotted(key: str, where: str) -> tuple[str, str]:
    """Split ``section.key``; the section must be data, model or train."""
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name or "." in name:
        raise ConfigError(
            f"{where}: {key!r} is not a config key; write section.key with section "
            f"one of {', '.join(SECTIONS)} (e.g. model.activation)"
        )
    return section, name


def _check_keys(values: dict, allowed: tuple[str, ...], where: str, what: str) -> None:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown {what} {unknown[0]!r} in {where}; valid: {', '.join(allowed)}")


def _table(values: dict, key: str, where: str) -> dict:
    table = values[key]
    if not isinstance(table, dict):
        raise ConfigError(f"[{key}] in {where} must be a table")
    return table


def _name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.strip() or "/" in name or name.startswith("."):
        raise ConfigError(f"{where}: experiment name must be a plain folder name, got {name!r}")
    return name.strip()


def _grid(grid: Any, where: str) -> dict[str, tuple[Any, ...]]:
    if not isinstance(grid, dict):
        raise ConfigError(f"[grid] in {where} must be a table of axes")
    axes = {}
    for key, values in flatten(grid).items():
        check_dotted(key, f"{where} [grid]")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where} [grid] {key!r} must be a non-empty list of values")
        if len({repr(v) for v in values}) != len(values):
            raise ConfigError(f"{where} [grid] {key!r} lists a value twice: {values}")
        axes[key] = tuple(values)
    return axes


def _variants(entries: Any, where: str) -> tuple[Variant, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"variants in {where} must be [[variants]] tables")
    variants = []
    for i, entry in enumerate(entries):
        entry = dict(entry)
        label, baseline = entry.pop("label", None), entry.pop("baseline", None)
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"{where}: [[variants]] number {i + 1} needs a label")
        if baseline is not None and not isinstance(baseline, str):
            raise ConfigError(f"{where}: variant {label!r} baseline must be a variant label")
        overrides = flatten(entry)
        for key in overrides:
            check_dotted(key, f"{where} variant {label!r}")
        variants.append(Variant(label.strip(), overrides, baseline))
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{where}: variant labels must be distinct, got {labels}")
    return tuple(variants)


def _tune(
    table: Any, grid: dict[str, Any], variants: tuple[Variant, ...], where: str
) -> dict[str, Range]:
    if not isinstance(table, dict):
        raise ConfigError(f"[tune] in {where} must be a table of ranges")
    ranges = {}
    for key, value in _range_entries(table).items():
        check_dotted(key, f"{where} [tune]")
        here = f"{where} [tune] {key!r}"
        if key in grid:
            raise ConfigError(f"{here} is also a [grid] axis; keep it in one of the two")
        setters = [v.label for v in variants if key in v.overrides]
        if setters:
            raise ConfigError(f"{here} is set by variant {setters[0]!r}; drop one of the two")
        ranges[key] = _range(value, here)
    return ranges


def _range_entries(table: dict, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> range table; a key without a dot is a section (``[tune.train]``)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if "." not in name and isinstance(value, dict):
            out.update(_range_entries(value, f"{name}."))
        else:
            out[name] = value
    return out


def _range(value: Any, where: str) -> Range:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} must be a range, e.g. {{ low = 1e-4, high = 1e-2, log = true }}"
        )
    _check_keys(value, RANGE_KEYS, where, "key")
    low, high, log = value.get("low"), value.get("high"), value.get("log", False)
    if not (_is_number(low) and _is_number(high) and low < high):
        raise ConfigError(f"{where} needs numbers low < high, got low = {low!r}, high = {high!r}")
    if not isinstance(log, bool):
        raise ConfigError(f"{where} log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"{where} is a log range, so low must be > 0, got {low!r}")
    return Range(low, high, log)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _assignment(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, str):
        return {VARIANT_KEY: value}
    if isinstance(value, dict) and value:
        return flatten(value)
    raise ConfigError(f"{where} must be a variant label or a table of axis values")


def _references(entries: Any, where: str) -> tuple[Reference, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"references in {where} must be [[references]] tables")
    refs = []
    for i, entry in enumerate(entries):
        here = f"{where} [[references]] number {i + 1}"
        _check_keys(entry, ("source", "match", "rmse", "user_rmse"), here, "key")
        figures = [entry.get(k) for k in ("rmse", "user_rmse")]
        if all(f is None for f in figures) or not all(
            f is None or (isinstance(f, int | float) and not isinstance(f, bool)) for f in figures
        ):
            raise ConfigError(f"{here} needs a number rmse or user_rmse")
        match = entry.get("match")
        if not isinstance(match, dict) or not match:
            raise ConfigError(f"{here} needs a match table, e.g. match = {{ variant = 'zero' }}")
        refs.append(
            Reference(str(entry.get("source", "notebook")), flatten(match), *map(_float, figures))
        )
    return tuple(refs)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
