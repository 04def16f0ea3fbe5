"""Time to the notebook's final test RMSE: aerec's recipe against the notebook's.

    python benchmarks/time_to_rmse.py [--same-recipe] [--reference] [--json FILE]
                                      [--data-dir DIR] [--threads N] [--models LABEL,...]

The notebook trains its two best models for 500 epochs at learning rate 1e-4. Its own code
(Keras on TensorFlow 2.21, a 2-core machine like ours; figures from issue 5) took 743 s to a
test per-user RMSE of 0.883 (AutoRec elu/elu, average input) and 450 s to 0.859 (Deep AE
[256, 512, 256]). For each model, in a fresh process, on the notebook's split (stratified
90/10, seed 42, 10% of train for validation; real ML-1M when the data dir holds it, else
``synthetic-ml-1m``, where the targets mean little):

* ``aerec_s``: wall seconds of aerec's trainer with :data:`RECIPES` (its default engine), one
  training epoch and one validation pass at a time, until the model picked by validation
  (the best validation RMSE so far, as early stopping picks it) has a test per-user RMSE at or
  below the notebook's (``target_user_rmse``). Scoring the test ratings is not timed; the
  test never steers training, it only says when to stop the clock. ``aerec_epochs``: epochs
  run by then; null if not reached within the recipe's epochs.
* ``notebook_s``: the notebook's own time from the issue (Keras, not rerun here);
  ``speedup`` = notebook_s / aerec_s.
* with ``--same-recipe`` (the headline against PyTorch): ``dense_s``, the same recipe run in
  the same process by the dense PyTorch version of the notebook's method
  (``benchmarks/run.py``'s reference: dense rows, the L2 penalty in the loss, plain Adam, the
  same schedule, from the same initial weights), timed by the same clock to the same target
  (``dense_epochs``, ``dense_user_rmse``; null if not reached), and ``dense_speedup`` =
  dense_s / aerec_s.
* with ``--reference``: ``reference_s``, the notebook's recipe (lr 1e-4, 500 epochs, one
  validation pass per epoch) run in the same process by the dense PyTorch version of the
  notebook's method (``benchmarks/run.py``'s reference), with ``reference_user_rmse``, its
  test per-user RMSE at its best validation epoch, and ``reference_speedup`` = reference_s /
  aerec_s. 500 dense epochs per model: expect some 20 to 30 minutes on 2 cores (not yet
  run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os

from _machine import cpu_model, load_average

NOTEBOOK = {  # model params, notebook seconds, notebook test per-user RMSE (issue 5)
    "U-AutoRec": (
        "autorec",
        {
            "based": "user",
            "activation": "elu",
            "last_activation": "elu",
            "input_fill": "user_mean",
            "l2": 5e-4,
        },
        743.0,
        0.883,
    ),
    "Deep AE": ("deep", {"layers": (256, 512, 256)}, 450.0, 0.859),
}
RECIPES = {  # label: (model, recipe): ten times the notebook's learning rate, decayed (cosine)
    "U-AutoRec": ("U-AutoRec", {"lr": 1e-3, "loss": "mse", "schedule": "cosine", "epochs": 60}),
    "Deep AE": ("Deep AE", {"lr": 1e-3, "loss": "row_mse", "schedule": "cosine", "epochs": 80}),
    "Deep AE 60": ("Deep AE", {"lr": 1e-3, "loss": "row_mse", "schedule": "cosine", "epochs": 60}),
}
"""Deep AE: ``default_plan("deep")`` (80 epochs, best on validation), and the same over 60
epochs (a little worse on validation, sooner at the target). U-AutoRec: the AutoRec default's
loss (the masked MSE over a batch's cells) with the cosine schedule over 60 epochs
(docs/results.md). The clock runs inside the schedule: where the target is met early, the
rest of the schedule is not run."""


def measure(
    label: str, dataset: str, data_dir, threads: int, reference: bool, same_recipe: bool = False
) -> dict:
    """One model, in this (fresh) process."""
    import torch

    from aerec.recommender import set_threads

    set_threads(threads)
    row = {"threads": torch.get_num_threads()}
    name, recipe = RECIPES[label]
    row |= _time_to_target(name, dataset, data_dir, "aerec", recipe)
    if same_recipe:
        dense = _time_to_target(name, dataset, data_dir, "dense", recipe, to_target=True)
        row |= {
            "dense_s": dense["seconds"] if dense["reached"] else None,
            "dense_epochs": dense["epochs"],
            "dense_user_rmse": dense["best_user_rmse"],
        }
    if reference:
        notebook_recipe = {"lr": 1e-4, "loss": "row_mse", "epochs": 500}
        ref = _time_to_target(name, dataset, data_dir, "dense", notebook_recipe)
        row |= {"reference_s": ref["seconds"], "reference_user_rmse": ref["best_user_rmse"]}
    return row


def _time_to_target(
    name: str, dataset: str, data_dir, impl: str, recipe: dict, to_target: bool = False
) -> dict:
    """Train ``impl`` with ``recipe`` until the target (aerec, or ``to_target``) or through
    all its epochs."""
    from _target import fresh_trainer, train_to_target

    from aerec.runs import DataConfig
    from aerec.training import TrainConfig

    model_name, params, _, target = NOTEBOOK[name]
    data_config = DataConfig(dataset, "stratified", split_seed=42)
    config = TrainConfig(patience=0, **recipe)
    trainer, rec, data, _, test = fresh_trainer(
        model_name, params, data_config, 42, config, data_dir
    )
    if impl == "dense":
        from run import _dense_reference

        trainer.train_epoch = _dense_reference(trainer, rec)
    stop = impl == "aerec" or to_target
    got = train_to_target(trainer, test, "user_rmse", target if stop else None)
    return {
        "seconds": got["seconds"],
        "epochs": got["reached"] if stop else got["epochs"],
        "reached": got["reached"] is not None or not stop,
        "best_user_rmse": got["value"],
        "dataset": data.name,
        "engine": "sparse" if trainer.sparse and impl == "aerec" else "dense",
    }


def _child(args) -> dict:
    return measure(*args)


def main() -> None:
    from aerec.pipeline import choose_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--same-recipe", action="store_true", help="also run aerec's recipe on the dense side"
    )
    parser.add_argument("--reference", action="store_true", help="also run the dense recipe")
    parser.add_argument("--models", default=",".join(RECIPES), help="comma-separated labels")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--data-dir", default=os.environ.get("AEREC_DATA_DIR"))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    dataset = choose_dataset(args.data_dir, print)  # ML-1M when it loads, else its twin
    labels = [label.strip() for label in args.models.split(",")]
    if set(labels) - set(RECIPES):
        parser.error(f"unknown models {sorted(set(labels) - set(RECIPES))}; from {list(RECIPES)}")
    print(f"{cpu_model()}, {os.cpu_count()} CPUs; load average {load_average():.2f}", flush=True)
    results = []
    ctx = mp.get_context("spawn")
    references = {}  # model -> its reference figures: run once per model
    for label in labels:
        name, recipe = RECIPES[label]
        _, _, notebook_s, target = NOTEBOOK[name]
        reference = args.reference and name not in references
        with ctx.Pool(1) as pool:
            job = (label, dataset, args.data_dir, args.threads, reference, args.same_recipe)
            got = pool.apply(_child, (job,))
        if reference:
            references[name] = {k: got[k] for k in ("reference_s", "reference_user_rmse")}
        row = {
            "model": label,
            "dataset": got["dataset"],
            "engine": got["engine"],
            "threads": got["threads"],
            "recipe": recipe,
            "target_user_rmse": target,
            "aerec_s": got["seconds"] if got["reached"] else None,
            "aerec_epochs": got["epochs"],
            "aerec_user_rmse": got["best_user_rmse"],
            "notebook_s": notebook_s,
        }
        row["speedup"] = notebook_s / row["aerec_s"] if row["aerec_s"] else None
        if args.same_recipe:
            row |= {k: got[k] for k in ("dense_s", "dense_epochs", "dense_user_rmse")}
            both = row["aerec_s"] and row["dense_s"]
            row["dense_speedup"] = row["dense_s"] / row["aerec_s"] if both else None
        if args.reference:
            row |= references[name]
            row["reference_speedup"] = (
                row["reference_s"] / row["aerec_s"] if row["aerec_s"] else None
            )
        results.append(row)
        _print_row(row)
    print(f"load average after: {load_average():.2f}", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


def _print_row(row: dict) -> None:
    if row["aerec_s"] is None:
        head = (
            f"not reached in {row['recipe']['epochs']} epochs (best {row['aerec_user_rmse']:.4f})"
        )
    else:
        head = (
            f"{row['aerec_s']:.1f} s ({row['aerec_epochs']} epochs, {row['aerec_user_rmse']:.4f}) "
            f"vs the notebook's {row['notebook_s']:.0f} s = {row['speedup']:.1f}x"
        )
    line = (
        f"{row['model']:<10} {row['dataset']} {row['engine']} engine, {row['threads']} threads, "
        f"lr {row['recipe']['lr']:g}: to test per-user RMSE {row['target_user_rmse']}: {head}"
    )
    if "dense_s" in row:
        dense = row["dense_s"]
        line += (
            "; dense, same recipe: not reached"
            if dense is None
            else f"; dense, same recipe: {dense:.1f} s ({row['dense_epochs']} epochs)"
            + ("" if row["dense_speedup"] is None else f" = {row['dense_speedup']:.2f}x")
        )
    if "reference_s" in row:
        ratio = row["reference_speedup"]
        line += (
            f"; dense reference (lr 1e-4, 500 epochs) {row['reference_s']:.0f} s to "
            f"{row['reference_user_rmse']:.4f}" + ("" if ratio is None else f" = {ratio:.1f}x")
        )
    print(line, flush=True)


if __name__ == "__main__":
    main()
