"""Specs: parsing, expansion into rows and runs, ids, baselines, references, validation."""

from __future__ import annotations

import pytest

from aerec.errors import ConfigError
from aerec.experiments import expand_rows, expand_runs, load_spec
from aerec.models.registry import default_plan
from tests.experiments.tiny import TINY_SPEC, write_spec

SHAPES = """
[experiment]
name = "shapes"
seeds = [1, 2]
baseline = { variant = "zero", "model.layers" = [256, 512, 256] }
[data]
dataset = "synthetic-200x100x8000"
[model]
name = "deep"
[train]
lr = 0.0001
[grid]
"model.layers" = [[512, 256, 512], [256, 512, 256]]
[[variants]]
label = "zero"
[[variants]]
label = "average"
model.input_fill = "user_mean"
[[references]]
user_rmse = 0.856
match = { variant = "zero", "model.layers" = [512, 256, 512] }
"""

GRID = """
[experiment]
seeds = [3]
baseline = { "train.noise_level" = 0 }
[model]
name = "autorec"
[train]
noise = "gaussian"
[grid.model]
activation = ["sigmoid", "elu"]
[grid]
"train.noise_level" = [0.0, 0.2]
"""


def spec_from(tmp_path, text, name="spec.toml"):
    return load_spec(write_spec(tmp_path, text, name))


def test_variants_cross_the_grid_with_baselines_and_references(tmp_path):
    rows = expand_rows(spec_from(tmp_path, SHAPES))
    assert [r.label for r in rows] == [
        "zero, layers=512-256-512",
        "zero, layers=256-512-256",
        "average, layers=512-256-512",
        "average, layers=256-512-256",
    ]
    assert [r.baseline for r in rows] == ["zero, layers=256-512-256", None] + [
        "zero, layers=256-512-256"
    ] * 2
    assert rows[0].reference.user_rmse == 0.856
    assert [r.reference for r in rows[1:]] == [None] * 3
    assert rows[2].values["model"]["input_fill"] == "user_mean"
    assert rows[2].values["model"]["layers"] == [512, 256, 512]


def test_grid_only_labels_and_numeric_baseline_matching(tmp_path):
    spec = spec_from(tmp_path, GRID)
    assert spec.name == "spec" and spec.axes == ("model.activation", "train.noise_level")
    rows = expand_rows(spec)
    assert [r.label for r in rows] == [
        "activation=sigmoid, noise_level=0",
        "activation=sigmoid, noise_level=0.2",
        "activation=elu, noise_level=0",
        "activation=elu, noise_level=0.2",
    ]
    # the baseline replaces only the noise level: each activation has its own baseline
    assert [r.baseline for r in rows] == [None, rows[0].label, None, rows[2].label]


def test_variant_baseline_replaces_the_variant_axis(tmp_path):
    text = SHAPES.replace('label = "average"\n', 'label = "average"\nbaseline = "zero"\n')
    text = text.replace('baseline = { variant = "zero", "model.layers" = [256, 512, 256] }', "")
    rows = expand_rows(spec_from(tmp_path, text))
    assert [r.baseline for r in rows] == [None, None, rows[0].label, rows[1].label]


def test_partial_train_section_starts_from_the_model_defaults(tmp_path):
    config = expand_rows(spec_from(tmp_path, SHAPES))[0].config(1)
    assert config.plan[0].lr == 0.0001
    assert config.plan[0].epochs == default_plan("deep")[0].epochs


def test_run_ids_are_deterministic_readable_and_config_specific(tmp_path):
    spec = spec_from(tmp_path, TINY_SPEC)
    runs = expand_runs(spec)
    again = expand_runs(spec_from(tmp_path, TINY_SPEC, "again.toml"))
    assert [r.run_id for r in runs] == [r.run_id for r in again]
    assert [(r.row.label, r.seed) for r in runs[:3]] == [("sigmoid", 1), ("elu", 1), ("sigmoid", 2)]
    assert (
        runs[0].run_id.startswith("sigmoid-s1-") and len(runs[0].run_id) == len("sigmoid-s1-") + 8
    )
    assert len({r.run_id for r in runs}) == len(runs) == 6
    capped = expand_runs(spec, epochs=1)
    assert capped[0].config.plan[0].epochs == 1 and capped[0].run_id != runs[0].run_id
    assert expand_runs(spec, epochs=50)[0].run_id == runs[0].run_id  # a cap above is no change
    other = expand_runs(spec, seeds=[7], dataset="synthetic-100x50x2000")
    assert [(r.seed, r.config.data.dataset) for r in other] == [(7, "synthetic-100x50x2000")] * 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("[experiment]", "[experiment]\nseedz = 1"), "unknown key 'seedz' in"),
        (("[data]", "[dta]\n[data]"), "unknown top-level key 'dta'"),
        (("seeds = [1, 2]", "seeds = []"), "seeds must be a non-empty list"),
        (("seeds = [1, 2]", "seeds = [1, 1]"), "seeds must be distinct"),
        (("seeds = [1, 2]", "seeds = [-1]"), "seeds must be integers >= 0"),
        (("seeds = [1, 2]", 'seeds = ["1"]'), "seeds must be integers >= 0"),
        (("seeds = [1, 2]", "seeds = 3"), "seeds must be a non-empty list"),
        (("seeds = [1, 2]", ""), "seeds must be a non-empty list"),
        (('"model.layers" = [[', '"model.dropout" = []\n"model.layers" = [['), "non-empty list"),
        (('"model.layers" = [[', '"model.dropout" = 0.5\n"model.layers" = [['), "non-empty list"),
        (
            ('"model.layers" = [[', '"model.drop" = [0.5]\n"model.layers" = [['),
            "unknown key 'drop'",
        ),
        (('"model.layers" = [[', '"optim.lr" = [0.1]\n"model.layers" = [['), "not a config key"),
        (('label = "zero"', 'label = "zero"\nmodel.dropout = 1.0'), "dropout must be in [0, 1)"),
        (('label = "zero"', 'label = "zero"\nmodel.layers = [1]'), "which is a grid axis"),
        (('label = "zero"', 'name = "zero"'), "needs a label"),
        (('label = "average"', 'label = "zero"'), "labels must be distinct"),
        (('variant = "zero", "model', 'variant = "one", "model'), "matches no row"),
        (('{ variant = "zero", "model', '{ lr = 1, "model'), "'lr', which is not an axis"),
        (("user_rmse = 0.856", "notes = 1"), "unknown key 'notes'"),
        (("user_rmse = 0.856", 'source = "x"'), "needs a number rmse or user_rmse"),
        (("match = { variant", "match = { mod = 1, variant"), "match key 'mod' is unknown"),
        (("[512, 256, 512] }\n", "[128, 256, 128] }\n"), "matches no row"),
        (('name = "shapes"', 'name = "../up"'), "plain folder name"),
        (('"user_mean"', '"constant"'), "have the same config"),
    ],
)
def test_bad_specs_are_one_line_config_errors(tmp_path, change, message):
    old, new = change
    assert old in SHAPES
    with pytest.raises(ConfigError) as info:
        spec_from(tmp_path, SHAPES.replace(old, new, 1))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_string_baseline_needs_variants(tmp_path):
    with pytest.raises(ConfigError, match="'variant', which is not an axis"):
        spec_from(tmp_path, GRID.replace('{ "train.noise_level" = 0 }', '"zero"'))


def test_bad_seed_override_and_epoch_cap(tmp_path):
    spec = spec_from(tmp_path, TINY_SPEC)
    with pytest.raises(ConfigError, match="--seeds"):
        expand_runs(spec, seeds=[])
    with pytest.raises(ConfigError, match="--epochs must be >= 1"):
        expand_runs(spec, epochs=0)


def test_missing_and_invalid_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        spec_from(tmp_path, "[experiment\n")
