"""``aerec train``'s model and training options, made from the configs' own fields.

Every field of a registered model's config class (:data:`aerec.models.MODELS`) and of
:class:`aerec.plan.TrainConfig` becomes an option: ``l2_encoder`` is ``--l2-encoder``, a bool
is a ``--x/--no-x`` flag, a tuple of ints is a comma-separated list, a field with a known set
of values is a choice. The help text is the field's line in its class docstring. A new model
gets its options by being registered; nothing here names one.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import click

from aerec.data.matrix import FILL_KINDS
from aerec.models import MODELS
from aerec.models.activations import ACTIVATIONS
from aerec.models.config import SIDE_MODES
from aerec.plan import ENGINES, KEEP, LOSSES, NOISES, OPTIMIZERS, SCHEDULES, TrainConfig

CHOICES: dict[str, tuple[str, ...]] = {
    "based": ("user", "item"),
    "activation": tuple(sorted(ACTIVATIONS)),
    "last_activation": tuple(sorted(ACTIVATIONS)),
    "input_fill": tuple(FILL_KINDS),
    "side": tuple(SIDE_MODES),
    "schedule": SCHEDULES,
    "loss": LOSSES,
    "noise": NOISES,
    "engine": ENGINES,
    "optimizer": OPTIMIZERS,
    "keep": KEEP,
}
"""Fields whose values are one of a known set."""

FLAG_OFF = {"tied": "untied"}
"""The off-switch of a bool flag where it is not ``--no-<name>``."""

SKIP = {"name"}
"""Fields that are no option (a phase's name is set in TOML)."""


def number_list(example: str, kind: type = int):
    """A click callback reading ``"a,b,c"`` as a list of ``kind`` (None stays None)."""

    def parse(ctx, param, value: str | None):
        if value is None:
            return None
        try:
            return [kind(v) for v in value.replace(" ", "").split(",") if v]
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not a comma-separated list, e.g. {example}"
            ) from None

    return parse


_int_list = number_list("256,512,256")
_float_list = number_list("1e-3,1e-3,5e-4", float)


def field_docs(cls: type) -> dict[str, str]:
    """``field: text`` lines of a config class docstring (also ``a / b: text``)."""
    docs: dict[str, str] = {}
    current: list[str] = []
    for line in (cls.__doc__ or "").splitlines():
        match = re.match(r"\s*([a-z0-9_]+(?:\s*[/,]\s*[a-z0-9_]+)*):\s+(.*)", line)
        if match:
            current = [n.strip() for n in re.split(r"[/,]", match.group(1))]
            for name in current:
                docs[name] = match.group(2)
        elif current and line.strip():
            for name in current:
                docs[name] += " " + line.strip()
        else:
            current = []
    return {k: v.split(". ")[0].rstrip(".") for k, v in docs.items()}


def _fields() -> dict[tuple[str, str], tuple[type, typing.Any, str]]:
    """(section, field) -> (class, type hint, help) for every model config and the phase."""
    out: dict[tuple[str, str], tuple[type, typing.Any, str]] = {}
    owners: dict[str, list[str]] = {}
    sources = [("model", e.config, e.name) for e in MODELS.values()]
    sources.append(("train", TrainConfig, ""))
    for section, cls, model in sources:
        hints, docs = typing.get_type_hints(cls), {}
        for klass in reversed(cls.__mro__):  # a base class documents its own fields
            docs |= field_docs(klass)
        for f in dataclasses.fields(cls):
            if f.name in SKIP or not f.init:
                continue
            if model:
                owners.setdefault(f.name, []).append(model)
            key = (section, f.name)
            if key not in out:
                out[key] = (cls, hints[f.name], docs.get(f.name, ""))
            elif out[key][1] != hints[f.name]:
                raise RuntimeError(
                    f"{cls.__name__}.{f.name} is {hints[f.name]}, but {out[key][0].__name__}."
                    f"{f.name} is {out[key][1]}: one option cannot take both; rename one"
                )
    names = [name for _, name in out]
    clash = {n for n in names if names.count(n) > 1}
    if clash:
        raise RuntimeError(f"model and train configs share option names {sorted(clash)}")
    for (section, name), (cls, hint, doc) in list(out.items()):
        if section == "model" and len(owners[name]) < len(MODELS):
            out[(section, name)] = (cls, hint, f"{doc} ({', '.join(owners[name])})".strip())
    return out


FIELDS = _fields()
OPTION_OF = {name: (section, name) for section, name in FIELDS}
"""Keyword name of an option -> its (section, key)."""


def _option(section: str, name: str, hint, doc: str):
    flag = "--" + name.replace("_", "-")
    args = typing.get_args(hint)
    base = (
        next((a for a in args if a is not type(None)), hint)
        if args and typing.get_origin(hint) in (typing.Union, type(int | None))
        else hint
    )
    if base is bool:
        off = "--" + FLAG_OFF.get(name, "no-" + name.replace("_", "-"))
        return click.option(f"{flag}/{off}", name, default=None, help=doc)
    if typing.get_origin(base) is tuple:
        floats = typing.get_args(base)[:1] == (float,)
        return click.option(flag, name, callback=_float_list if floats else _int_list, help=doc)
    if name in CHOICES:
        return click.option(flag, name, type=click.Choice(CHOICES[name]), help=doc)
    sizes = click.IntRange(min=1) if section == "model" else int  # model ints are sizes
    kind = {int: sizes, float: float}.get(base, str)  # other ranges: the config refuses them
    return click.option(flag, name, type=kind, help=doc)


def config_options(command):
    """Decorate ``command`` with an option per model and training field."""
    for (section, name), (_, hint, doc) in reversed(list(FIELDS.items())):
        command = _option(section, name, hint, doc)(command)
    return command


def split_options(given: dict) -> dict[tuple[str, str], typing.Any]:
    """The given options (keyword name -> value) as (section, key) -> value."""
    unknown = sorted(set(given) - set(OPTION_OF))
    if unknown:
        raise KeyError(f"not a config option: {unknown}")
    return {OPTION_OF[name]: value for name, value in given.items()}
