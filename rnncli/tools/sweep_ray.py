"""The Ray backend of ``rnn sweep``: the same trials as Ray Tune trials, on this machine or a Ray cluster.

Tune runs one trial per point of the sweep (a grid over the trial numbers, so the trials and their numbers
are those of the local backend). Each trial trains in a Ray worker with one CPU, reports every epoch's
metrics through training's progress callback (``tune.report``), so that Tune's ASHA scheduler
(``scheduler: asha``) can stop a trailing trial between epochs, and sends its run directory along as the
epoch's checkpoint, which Tune keeps in its storage (``--storage``: a folder every node can reach, or
object storage such as ``s3://bucket/path``). At the end the best trial's last checkpoint (its run
directory) is fetched back to ``DIR/best``; the results table, ``sweep.jsonl`` and ``best.yaml`` are
those of the local backend. Needs the optional extra ``[ray]``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from pathlib import Path

from rnncli.config import config_to_yaml
from rnncli.config.sweep import ASHA_FACTOR, Sweep
from rnncli.errors import RnncliError, UsageError
from rnncli.fileio import atomic_write
from rnncli.tools.sweep import Trial, ranked_trials, write_sweep_yaml

INSTALL_HINT = "install the Ray extra: pip install 'rnncli[ray]'"


def require_ray():
    import importlib

    try:
        return importlib.import_module("ray"), importlib.import_module("ray.tune")
    except ImportError:
        raise UsageError("--backend ray needs Ray Tune, which is not installed.", hint=INSTALL_HINT + ".") from None


def _train_trial(config: dict) -> None:
    """One Tune trial: train the trial's config, reporting each epoch with the run directory as its checkpoint."""
    import os

    import ray
    from ray import tune

    from rnncli.config import config_from_dict
    from rnncli.training.train import train

    node = ray.get_runtime_context().get_node_id()
    workdir = Path(tempfile.mkdtemp(prefix=f"rnncli-{config['name']}-"))
    data = json.loads(config["config"])
    data.setdefault("run", {})["dir"] = str(workdir / config["name"])
    os.chdir(config["cwd"])  # the config's data paths are relative to where rnn sweep was started

    def progress(event: str, info: dict) -> None:
        if event == "epoch_end":
            metrics = {k: v for k, v in info.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            tune.report({**metrics, "node": node}, checkpoint=tune.Checkpoint.from_directory(data["run"]["dir"]))

    try:
        train(config_from_dict(data, name=config["name"]), force=True, progress=progress)
    except RnncliError as exc:  # a bad trial: its message, not a traceback from deep in the worker
        raise RuntimeError(f"Error: {exc.message}") from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_ray(sweep: Sweep, out: Path, address: str | None = None, storage: str | None = None,
            on_change=None) -> tuple[list[Trial], Trial | None]:
    """Run the sweep's trials on Ray Tune; writes the same files as the local backend."""
    ray, tune = require_ray()
    out.mkdir(parents=True, exist_ok=True)
    write_sweep_yaml(out, sweep)
    points = sweep.trials()
    trials = [Trial(f"trial-{i:03d}", params, run_dir=str(out / f"trial-{i:03d}")) for i, params in enumerate(points)]
    configs = [json.dumps(sweep.config_of(t.params, t.run_dir).to_dict()) for t in trials]
    for t in trials:
        yaml_text = config_to_yaml(sweep.config_of(t.params, t.run_dir))
        atomic_write(out / f"{t.trial}.yaml", lambda f, y=yaml_text: f.write(y.encode("utf-8")))
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    scheduler = None
    if sweep.scheduler == "asha":
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(time_attr="epoch", grace_period=1, reduction_factor=ASHA_FACTOR,
                                  max_t=max(sweep.base.train.epochs, 1))
    param_space = {"index": tune.grid_search(list(range(len(trials))))}

    cwd = str(Path.cwd())  # here, not in the worker: the configs' data paths are relative to it

    def trainable(config: dict) -> None:
        i = config["index"]
        _train_trial({"name": trials[i].trial, "config": configs[i], "cwd": cwd})

    storage_path = str(Path(storage).resolve()) if storage and "://" not in storage else storage
    start = time.perf_counter()
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        param_space=param_space,
        tune_config=tune.TuneConfig(metric=sweep.metric, mode=sweep.mode, scheduler=scheduler,
                                    max_concurrent_trials=sweep.max_concurrent),
        run_config=tune.RunConfig(name=f"rnncli-{sweep.name}", storage_path=storage_path or str((out / "ray").resolve()),
                                  verbose=0, checkpoint_config=tune.CheckpointConfig(num_to_keep=1)),
    )
    grid = tuner.fit()
    nodes = {}
    for result in grid:
        t = trials[result.config["index"]]
        history = result.metrics_dataframe
        if result.error is not None:
            t.status = "failed"
            message = str(result.error)
            found = re.search(r"Error: .*", message)
            t.error = found.group(0).strip() if found else (message.strip().splitlines() or ["failed"])[-1]
        if history is not None and sweep.metric in history:
            values = list(zip(history[sweep.metric], history["epoch"]))
            t.metric, t.epoch = min(values, key=lambda v: (-v[0] if sweep.mode == "max" else v[0], v[1]))
            t.metric, t.epoch = float(t.metric), int(t.epoch)
            t.epochs = int(history["epoch"].max())
            nodes[t.trial] = sorted(set(history["node"]))
            if result.error is None:  # fewer epochs under ASHA: the scheduler stopped it
                t.status = "stopped" if sweep.scheduler == "asha" and t.epochs < sweep.base.train.epochs else "done"
        elif result.error is None:
            t.status, t.error = "failed", f"the epochs have no metric {sweep.metric!r}"
        t.seconds = time.perf_counter() - start
        if result.checkpoint is not None:
            target = Path(t.run_dir)
            shutil.rmtree(target, ignore_errors=True)
            result.checkpoint.to_directory(str(target))
    with open(out / "sweep.jsonl", "w", encoding="utf-8") as f:
        for t in trials:
            f.write(json.dumps({**t.to_dict(), "nodes": nodes.get(t.trial, [])}) + "\n")
    best = next((t for t in ranked_trials(trials, sweep) if t.metric is not None and Path(t.run_dir).is_dir()), None)
    if best is not None:
        text = (out / f"{best.trial}.yaml").read_text(encoding="utf-8")
        atomic_write(out / "best.yaml", lambda f: f.write(text.encode("utf-8")))
        shutil.rmtree(out / "best", ignore_errors=True)
        shutil.copytree(best.run_dir, out / "best")
    if on_change is not None:
        on_change(trials)
    return trials, best

