r"""Studies: does randomization help? Many methods, many seeds, one report.

A *study* is a TOML file naming training methods (an algorithm and its options), seeds,
a data set, budgets eps, epochs and an evaluation. :func:`run_study` trains every
(method, eps, seed) *cell*, evaluates each on the test split, and writes a report
(Markdown, JSON, figures as PNG and PDF): mean and standard deviation over seeds of the
natural and worst-case exact expected accuracies, paired differences against a baseline
method with bootstrap confidence intervals (over test examples and seeds), training times,
and the separation diagnostic of :func:`advgame.bounds.class_separation` for each eps.

Cells are resumable: a finished cell (``result.json`` present and written for the same
settings) is skipped, an interrupted one resumes from its checkpoint (bit-identical on CPU).
``workers > 1`` runs cells in that many processes.

The file (every key but ``methods`` optional; shown with its default)::

    name = "study"
    dataset = "digits"            # digits, cifar10, cifar100
    data_root = ""                # CIFAR folder (torchvision's format)
    seeds = [0, 1, 2]
    eps = [0.2]                   # l-inf budgets; training and evaluation
    step_ratio = 0.25             # training PGD step = step_ratio * eps (8/255 -> 2/255)
    epochs = 10                   # epochs per member
    baseline = ""                 # a method's name; default: the first method
    workers = 1
    threads = 1                   # torch CPU threads per worker
    suite = "full"                # evaluation suite: quick, standard, full (advgame.torch.suites)
    eval_attacks = []             # attack names added to the suite's (or alone with suite = "")
    eval_samples = 0              # test examples evaluated (0: all)
    bootstrap = 2000              # bootstrap resamples of the paired differences
    # [[comparisons]]             # more paired differences: method = ROW, against = ROW
    skip_broken = true            # attacks skip examples already at 0 (the same worst case, faster)

    [defaults]                    # TrainConfig options for every method
    batch_size = 128

    [[methods]]
    name = "AT"
    algo = "at"

    [[methods]]
    name = "Alg. 2, L = 2"
    algo = "mixture"
    models = 2

Every name a method or ``[defaults]`` sets is a :class:`~advgame.torch.training.TrainConfig`
field (``eps``, ``step`` and ``seed`` come from the study; ``epochs`` too unless the method
sets it); an unknown key is an error that names it. The fair baselines of a mixture of L
members trained E epochs each: AT with the member architecture (``algo = "at"``), a
parameter-matched single model (``algo = "at"``, ``width =
advgame.torch.models.matched_width(arch, classes, shape, L)``, e.g. 2.0 for digits'
small-mlp and L = 2), and AT with the same compute (``algo = "at"``, ``epochs = L * E``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

__all__ = ["StudySpec", "load_study", "run_study", "paired_bootstrap", "add_study_command"]

_TOP_KEYS = {"name", "dataset", "data_root", "seeds", "eps", "step_ratio", "epochs", "baseline", "workers",
             "threads", "suite", "eval_attacks", "eval_samples", "bootstrap", "skip_broken", "defaults", "methods",
             "comparisons"}
_FROM_STUDY = {"eps", "step", "seed", "dataset"}


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """A parsed, validated study file (see the module docstring for its keys)."""

    name: str
    dataset: str
    data_root: str | None
    seeds: tuple
    eps: tuple
    step_ratio: float
    epochs: int
    methods: tuple  # of (name, options dict)
    baseline: str
    workers: int
    threads: int
    suite: str | None
    eval_attacks: tuple
    eval_samples: int
    bootstrap: int
    skip_broken: bool = True
    comparisons: tuple = ()  # of (row name, row name): paired differences besides the baseline's

    def cells(self):
        """Every (method name, eps, seed), in a fixed order."""
        return [(m, e, s) for m, _ in self.methods for e in self.eps for s in self.seeds]

    def config(self, method, eps, seed):
        """The :class:`~advgame.torch.training.TrainConfig` of one cell."""
        from .training import TrainConfig

        options = dict(self.methods_dict[method])
        if options.get("algo") in ("at", "trades"):
            options.setdefault("models", 1)
        options.setdefault("epochs", self.epochs)  # a method may set its own (AT for L x E epochs)
        return TrainConfig(dataset=self.dataset, eps=float(eps), step=self.step_ratio * float(eps), seed=int(seed),
                           **options)

    @property
    def methods_dict(self):
        return dict(self.methods)


def _check_list(name, value, kind):
    if not isinstance(value, list) or not value:
        raise ValueError(f"study file: {name} must be a non-empty list; got {value!r}")
    for v in value:
        if kind == "int" and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError(f"study file: {name} must hold integers >= 0; got {v!r}")
        if kind == "real" and (not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v)
                               or v < 0):
            raise ValueError(f"study file: {name} must hold finite numbers >= 0; got {v!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"study file: {name} has repeated values: {value!r}")
    return tuple(value)


def _comparisons(value, rows):
    """``[[comparisons]]`` tables ``{method = ROW, against = ROW}``, ROW a report row's name."""
    if not isinstance(value, list):
        raise ValueError("study file: comparisons must be an array of tables {method = ..., against = ...}")
    out = []
    for i, c in enumerate(value):
        if not isinstance(c, dict) or set(c) != {"method", "against"}:
            raise ValueError(f"study file: comparisons[{i}] must be a table with exactly the keys method and "
                             f"against; got {c!r}")
        for key in ("method", "against"):
            if c[key] not in rows:
                raise ValueError(f"study file: comparisons[{i}].{key} = {c[key]!r} is not a row of the report "
                                 f"(a method's name, or NAME{LP_SUFFIX} for weights_lp = true): {rows}")
        if c["method"] == c["against"]:
            raise ValueError(f"study file: comparisons[{i}] compares {c['method']!r} with itself")
        out.append((c["method"], c["against"]))
    return tuple(out)


def _boolean(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"study file: {name} must be true or false; got {value!r}")
    return value


def _positive_int(name, value, lo=1):
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ValueError(f"study file: {name} must be an integer >= {lo}; got {value!r}")
    return value


def parse_study(data: dict) -> StudySpec:
    """Validate a study's settings (a dict, as read from TOML) into a :class:`StudySpec`."""
    from .training import TrainConfig
    from .training.config import DATASETS

    if not isinstance(data, dict):
        raise ValueError("study file: expected a table of settings")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ValueError(f"study file: unknown settings {sorted(unknown)}; expected some of {sorted(_TOP_KEYS)}")
    dataset = data.get("dataset", "digits")
    if dataset not in DATASETS:
        raise ValueError(f"study file: dataset must be one of {list(DATASETS)}; got {dataset!r}")
    fields = {f.name for f in dataclasses.fields(TrainConfig)} - _FROM_STUDY
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise ValueError("study file: [defaults] must be a table of training settings")
    methods = data.get("methods")
    if not isinstance(methods, list) or not methods:
        raise ValueError("study file: at least one [[methods]] table is needed")
    parsed = []
    for i, m in enumerate(methods):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not m["name"].strip():
            raise ValueError(f"study file: methods[{i}] needs a name (a non-empty string)")
        opts = {**defaults, **{k: v for k, v in m.items() if k != "name"}}
        bad = set(opts) - fields
        if bad:
            raise ValueError(f"study file: method {m['name']!r}: unknown or study-level settings {sorted(bad)}; "
                             f"a method sets TrainConfig fields other than {sorted(_FROM_STUDY)}")
        if isinstance(opts.get("milestones"), list):
            opts["milestones"] = tuple(opts["milestones"])
        parsed.append((m["name"].strip(), opts))
    names = [n for n, _ in parsed]
    rows = names + [n + LP_SUFFIX for n, o in parsed if o.get("weights_lp")]
    if len(set(rows)) != len(rows):
        raise ValueError(f"study file: method names must be distinct (a method with weights_lp = true also "
                         f"reports NAME{LP_SUFFIX}); got {rows}")
    baseline = data.get("baseline") or names[0]
    if baseline not in names:
        raise ValueError(f"study file: baseline {baseline!r} is not a method's name ({names})")
    comparisons = _comparisons(data.get("comparisons", []), rows)
    from .suites import ALL_ATTACK_NAMES, SUITES

    suite = data.get("suite", "full")
    if suite not in (*SUITES, ""):
        raise ValueError(f"study file: suite must be one of {list(SUITES)} (or \"\" for eval_attacks alone); "
                         f"got {suite!r}")
    attacks = data.get("eval_attacks", [])
    if not (isinstance(attacks, list) and all(isinstance(a, str) for a in attacks)):
        raise ValueError(f"study file: eval_attacks must be a list of attack names; got {attacks!r}")
    unknown_attacks = sorted(set(attacks) - set(ALL_ATTACK_NAMES))
    if unknown_attacks:
        raise ValueError(f"study file: unknown attacks {unknown_attacks} in eval_attacks; expected some of "
                         f"{sorted(ALL_ATTACK_NAMES)}")
    from .suites import SUITE_ATTACKS

    twice = sorted(set(attacks) & set(SUITE_ATTACKS[suite]["linf"])) if suite else []
    if twice:
        raise ValueError(f"study file: eval_attacks {twice} are already in suite {suite!r}")
    if not suite and not attacks:
        raise ValueError("study file: with suite = \"\", eval_attacks must name at least one attack")
    step_ratio = data.get("step_ratio", 0.25)
    if not isinstance(step_ratio, (int, float)) or isinstance(step_ratio, bool) or not 0 < step_ratio <= 1:
        raise ValueError(f"study file: step_ratio must be a number in (0, 1]; got {step_ratio!r}")
    name = data.get("name", "study")
    if not isinstance(name, str):
        raise ValueError(f"study file: name must be a string; got {name!r}")
    root = data.get("data_root") or None
    if root is not None and not isinstance(root, str):
        raise ValueError(f"study file: data_root must be a string; got {root!r}")
    spec = StudySpec(
        name=name, dataset=dataset, data_root=root,
        seeds=_check_list("seeds", data.get("seeds", [0, 1, 2]), "int"),
        eps=_check_list("eps", data.get("eps", [0.2]), "real"),
        step_ratio=float(step_ratio),
        epochs=_positive_int("epochs", data.get("epochs", 10)),
        methods=tuple(parsed), baseline=baseline,
        workers=_positive_int("workers", data.get("workers", 1)),
        threads=_positive_int("threads", data.get("threads", 1)),
        suite=suite or None, eval_attacks=tuple(attacks),
        eval_samples=_positive_int("eval_samples", data.get("eval_samples", 0), lo=0),
        bootstrap=_positive_int("bootstrap", data.get("bootstrap", 2000), lo=100),
        skip_broken=_boolean("skip_broken", data.get("skip_broken", True)),
        comparisons=comparisons,
    )
    for cell in spec.cells():  # every configuration is valid before anything trains
        try:
            spec.config(*cell)
        except (TypeError, ValueError) as err:
            raise ValueError(f"study file: method {cell[0]!r} at eps={cell[1]}: {err}") from None
    return spec


def load_study(path) -> StudySpec:
    """Read and validate a study file (TOML; untrusted input: only plain values are read)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as err:
        raise ValueError(f"cannot read study file {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"study file {path} is not valid TOML: {err}") from None
    return parse_study(data)


# ---------------------------------------------------------------------------------- cells
def _slug(text):
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_") or "method"


def _cell_dir(out, method, eps, seed):
    return Path(out) / "cells" / _slug(method) / f"eps={eps:g}" / f"seed={seed}"


def _fingerprint(spec, method, eps, seed):
    cfg = spec.config(method, eps, seed).to_dict()
    settings = {"config": cfg, "suite": spec.suite, "attacks": spec.eval_attacks, "n": spec.eval_samples}
    if spec.skip_broken:  # absent: every attack on every example (as the cells of before the option)
        settings["skip_broken"] = True
    key = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _test_tensors(data, limit):
    import torch

    n = len(data.test) if not limit else min(limit, len(data.test))
    xs, ys = zip(*(data.test[i] for i in range(n)))
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)


def run_cell(spec, out, method, eps, seed, device="cpu", progress=False):
    """Train (or resume) and evaluate one cell; returns its result (also in ``result.json``)."""
    import torch

    from .._io import atomic_path
    from .data import load_dataset
    from .evaluate import evaluate
    from .training import Trainer

    folder = _cell_dir(out, method, eps, seed)
    result_path = folder / "result.json"
    fp = _fingerprint(spec, method, eps, seed)
    if result_path.exists():
        done = _read_result(result_path)
        if done.get("fingerprint") == fp:
            return done
        raise ValueError(f"{result_path} was written for other settings (a changed study file?): "
                         f"remove {folder} to run the cell again")
    torch.set_num_threads(spec.threads)
    cfg = spec.config(method, eps, seed)
    data = load_dataset(cfg.dataset, spec.data_root, val_size=cfg.val_size, augment=cfg.augment, seed=cfg.seed)
    folder.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(cfg, data, out=folder, device=device, progress=progress)
    resumed = (folder / "checkpoint.pt").exists()
    if resumed:
        trainer.resume()
    t0 = time.perf_counter()
    c0 = time.process_time()
    trainer.fit()
    # CPU seconds of this process (training and per-epoch validation): unlike wall time, not
    # inflated by other jobs on the machine; unknown for a resumed cell (part ran elsewhere)
    train_cpu_seconds = None if resumed else time.process_time() - c0
    summary = trainer.finish(label=method)
    train_seconds = sum(float(r.get("time") or 0.0) for r in trainer.history)
    x, y = _test_tensors(data, spec.eval_samples)
    extra = list(spec.eval_attacks) if spec.eval_attacks else "all"  # with a suite, "all" adds nothing
    report = evaluate(trainer.current_mixture(), x.to(device), y.to(device), float(eps), "linf",
                      extra, batch_size=256, seed=seed, suite=spec.suite, skip_broken=spec.skip_broken)
    lp = None
    if cfg.weights_lp and trainer.weights_lp is not None:  # the same members with the LP's weights
        from .mixture import Mixture

        w = trainer.weights_lp.to(device)
        keep = [k for k in range(len(w)) if float(w[k]) > 0] or [0]
        lp_report = evaluate(Mixture([trainer.members[k] for k in keep], w[keep]), x.to(device), y.to(device),
                             float(eps), "linf", extra, batch_size=256, seed=seed, suite=spec.suite,
                             skip_broken=spec.skip_broken)
        lp = {"weights": [float(v) for v in trainer.weights_lp], "natural": float(lp_report["natural"]),
              "worst": float(lp_report["worst"]),
              "accuracy": {k: float(v) for k, v in lp_report.items()},
              "checks": [{"name": c.name, "passed": bool(c.passed)} for c in getattr(lp_report, "checks", [])],
              "per_example_worst": [float(v) for v in lp_report.per_example["worst"]],
              "per_example_natural": [float(v) for v in lp_report.per_example["natural"]],
              "eval_seconds": float(sum(lp_report.seconds.values()))}
    result = {
        "method": method, "eps": float(eps), "seed": int(seed), "fingerprint": fp,
        "config": cfg.to_dict(), "weights": summary["weights"], "last_gap": summary.get("last_gap"),
        "natural": float(report["natural"]), "worst": float(report["worst"]),
        "accuracy": {k: float(v) for k, v in report.items()},
        "checks": [{"name": c.name, "passed": bool(c.passed)} for c in getattr(report, "checks", [])],
        "per_example_worst": [float(v) for v in report.per_example["worst"]],
        "per_example_natural": [float(v) for v in report.per_example["natural"]],
        "history": [{"epoch": r["epoch"], "natural": r["natural"], "robust": r["robust"]} for r in trainer.history],
        "train_seconds": train_seconds, "train_cpu_seconds": train_cpu_seconds,
        "eval_seconds": float(sum(report.seconds.values())),
        "wall_seconds": time.perf_counter() - t0, "lp": lp,
    }
    with atomic_path(result_path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(result, f, allow_nan=False)
    return result


def _read_result(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("per_example_worst"), list):
        raise ValueError(f"{path} is not a study cell result")
    return data


def _run_cell_in_worker(args):
    spec, out, cell, device = args
    return run_cell(spec, out, *cell, device=device)


# ---------------------------------------------------------------------------------- statistics
def paired_bootstrap(a, b, n_boot=2000, seed=0, level=0.95):
    r"""Confidence interval of the mean paired difference ``a - b`` of per-example accuracies.

    ``a`` and ``b`` have shape ``(seeds, n)``: the exact expected accuracy of each test example
    under each seed's run, the same examples in the same order for both methods. Each resample
    draws seeds with replacement and, independently, test examples with replacement, and takes
    the mean of ``a - b`` over the drawn (seed, example) pairs: both sources of variation (the
    training seed and the finite test set) enter the interval.

    Returns
    -------
    (mean, low, high) : floats
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(f"a and b must have the same shape (seeds, n); got {a.shape} and {b.shape}")
    d = a - b
    rng = np.random.default_rng(seed)
    S, n = d.shape
    means = np.empty(n_boot)
    for k in range(n_boot):
        rows = rng.integers(0, S, S)
        cols = rng.integers(0, n, n)
        means[k] = d[rows][:, cols].mean()
    alpha = (1 - level) / 2
    return float(d.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


LP_SUFFIX = " (LP weights)"


def _variants(spec):
    """The report's rows: ``(row name, method name, lp)``; a method trained with
    ``weights_lp = true`` gives a second row, its members with the LP weights."""
    for method, options in spec.methods:
        yield method, method, False
        if options.get("weights_lp"):
            yield method + LP_SUFFIX, method, True


def _variant_cells(by, method, lp, eps, seeds):
    cells = [by[(method, float(eps), s)] for s in seeds]
    if not lp:
        return cells
    out = []
    for c in cells:
        if not c.get("lp"):
            raise ValueError(f"cell {method!r}, eps {eps:g}, seed {c['seed']} has no LP-weights evaluation")
        out.append({**c, **c["lp"]})  # the LP mixture's accuracies, the cell's training time and history
    return out


def _mean_or_none(values):
    return None if any(v is None for v in values) else float(np.mean(values))


def summarize(spec, results):
    """The report's numbers (a JSON-ready dict) from the cells' results."""
    rows, diffs = [], []
    by = {(r["method"], r["eps"], r["seed"]): r for r in results}
    for eps in spec.eps:
        base = [by[(spec.baseline, float(eps), s)] for s in spec.seeds]
        for method, source, lp in _variants(spec):
            cells = _variant_cells(by, source, lp, eps, spec.seeds)
            nat = np.array([c["natural"] for c in cells])
            worst = np.array([c["worst"] for c in cells])
            ddof = 1 if len(cells) > 1 else 0
            rows.append({
                "method": method, "eps": float(eps), "seeds": len(cells),
                "natural_mean": float(nat.mean()), "natural_std": float(nat.std(ddof=ddof)),
                "worst_mean": float(worst.mean()), "worst_std": float(worst.std(ddof=ddof)),
                "train_seconds_mean": float(np.mean([c["train_seconds"] for c in cells])),
                "train_cpu_seconds_mean": _mean_or_none([c.get("train_cpu_seconds") for c in cells]),
                "weights_mean": [float(v) for v in np.mean([c["weights"] for c in cells], axis=0)],
            })
            if method != spec.baseline:
                a = np.array([c["per_example_worst"] for c in cells])
                b = np.array([c["per_example_worst"] for c in base])
                mean, lo, hi = paired_bootstrap(a, b, spec.bootstrap, seed=0)
                diffs.append({"method": method, "eps": float(eps), "baseline": spec.baseline,
                              "difference": mean, "ci_low": lo, "ci_high": hi})
        sources = {name: (source, lp) for name, source, lp in _variants(spec)}
        for method, against in spec.comparisons:
            a = np.array([c["per_example_worst"] for c in _variant_cells(by, *sources[method], eps, spec.seeds)])
            b = np.array([c["per_example_worst"] for c in _variant_cells(by, *sources[against], eps, spec.seeds)])
            mean, lo, hi = paired_bootstrap(a, b, spec.bootstrap, seed=0)
            diffs.append({"method": method, "eps": float(eps), "baseline": against,
                          "difference": mean, "ci_low": lo, "ci_high": hi})
    return {"rows": rows, "differences": diffs}


def _environment(device, threads):
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
            "platform": platform.platform(), "device": str(device), "torch_threads": int(threads),
            "cpu_count": os.cpu_count()}


def _separation(spec):
    """The separation diagnostic of each eps on the test split (against the training split)."""
    from ..bounds import class_separation
    from .data import load_dataset

    data = load_dataset(spec.dataset, spec.data_root, seed=0)
    if len(data.train) > 20000:
        return {}  # O(N^2 d): too costly on CIFAR here; run class_separation on a subsample
    Xte, yte = _test_tensors(data, spec.eval_samples)
    Xtr, ytr = _test_tensors(type("S", (), {"test": data.train})(), 0)
    ref = (Xtr.flatten(1).double().numpy(), ytr.numpy())
    out = {}
    for eps in spec.eps:
        # the binary subproblems' optimal-transport bounds on the evaluated test points: a few
        # seconds at a few thousand points, so only there
        s = class_separation(Xte.flatten(1).double().numpy(), yte.numpy(), float(eps), "linf", reference=ref,
                             pairwise_bounds=len(yte) <= 5000)
        out[f"{float(eps):g}"] = {"summary": s.summary(), "share_conflicting": s.share_conflicting,
                                  "min_distance": s.min_distance, "separated": s.separated,
                                  "risk_lower_bound": s.risk_lower_bound,
                                  "pairwise_risk": None if s.pairwise_risk is None else
                                  {f"{a}-{b}": v for (a, b), v in s.pairwise_risk.items()}}
    return out


def _evaluation_text(spec):
    parts = [f"suite {spec.suite}"] if spec.suite else []
    if spec.eval_attacks:
        parts.append(", ".join(spec.eval_attacks))
    return " + ".join(parts)


def _seconds(value):
    return "-" if value is None else f"{value:.1f}"


def _markdown(spec, numbers, separation, env):
    lines = [f"# Study: {spec.name}", "",
             f"Data set {spec.dataset}; seeds {list(spec.seeds)}; {spec.epochs} epochs per member; "
             f"l-inf budgets {list(spec.eps)} (training PGD step = {spec.step_ratio:g} x eps); "
             f"evaluation: {_evaluation_text(spec)} "
             f"on {'all' if not spec.eval_samples else spec.eval_samples} test examples; "
             "accuracies are exact expectations over each mixture, worst case per example over the attacks"
             + (" (each attack run on the examples not yet at 0)" if spec.skip_broken else "") + ".", ""]
    for eps in spec.eps:
        key = f"{float(eps):g}"
        lines += [f"## eps = {key}", ""]
        if key in separation:
            lines += [f"Separation (test vs train): {separation[key]['summary']}", ""]
        lines += ["| method | natural (mean +- sd) | worst case (mean +- sd) | "
                  f"worst case - {spec.baseline} [95% CI] | training s (wall / CPU) | weights (mean) |",
                  "|---|---|---|---|---|---|"]
        diffs = {d["method"]: d for d in numbers["differences"]
                 if d["eps"] == float(eps) and d["baseline"] == spec.baseline}
        for r in (r for r in numbers["rows"] if r["eps"] == float(eps)):
            d = diffs.get(r["method"])
            dtext = "baseline" if d is None else f"{d['difference']:+.4f} [{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]"
            w = ", ".join(f"{v:.2f}" for v in r["weights_mean"])
            lines.append(f"| {r['method']} | {r['natural_mean']:.4f} +- {r['natural_std']:.4f} | "
                         f"{r['worst_mean']:.4f} +- {r['worst_std']:.4f} | {dtext} | "
                         f"{r['train_seconds_mean']:.1f} / {_seconds(r.get('train_cpu_seconds_mean'))} | {w} |")
        lines.append("")
        others = [d for d in numbers["differences"] if d["eps"] == float(eps) and d["baseline"] != spec.baseline]
        if others:
            lines += ["| method | against | worst case difference [95% CI] |", "|---|---|---|"]
            lines += [f"| {d['method']} | {d['baseline']} | {d['difference']:+.4f} "
                      f"[{d['ci_low']:+.4f}, {d['ci_high']:+.4f}] |" for d in others]
            lines.append("")
    lines += ["Standard deviations over seeds (ddof = 1); confidence intervals from a paired bootstrap over "
              f"seeds and test examples ({spec.bootstrap} resamples).", "",
              "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()), ""]
    return "\n".join(lines)


_LINESTYLES = ("-", "--", ":")  # matplotlib's cycle has 10 colours: the next 10 rows dashed


def _figures(spec, results, numbers, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..plot import save_figure

    fig, axes = plt.subplots(1, len(spec.eps), figsize=(5 * len(spec.eps) + 3, 3.6), squeeze=False)
    for ax, eps in zip(axes[0], spec.eps):
        for i, (method, _) in enumerate(spec.methods):
            hist = [r["history"] for r in results if r["method"] == method and r["eps"] == float(eps)]
            n = min(len(h) for h in hist)
            rob = np.mean([[row["robust"] for row in h[:n]] for h in hist], axis=0)
            ax.plot(np.arange(1, n + 1), rob, marker=".", label=method, linestyle=_LINESTYLES[i // 10 % 3])
        ax.set(title=f"eps = {float(eps):g}", xlabel="epoch", ylabel="validation robust accuracy (PGD)")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the panels
    save_figure(fig, Path(out) / "accuracy_vs_epochs")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (method, _, _) in enumerate(_variants(spec)):
        rows = [r for r in numbers["rows"] if r["method"] == method]
        ax.errorbar([r["eps"] for r in rows], [r["worst_mean"] for r in rows], yerr=[r["worst_std"] for r in rows],
                    marker="o", capsize=3, label=method, linestyle=_LINESTYLES[i // 10 % 3])
    ax.set(xlabel="eps (l-inf)", ylabel="worst-case accuracy (test)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the axes: it hides no point
    save_figure(fig, Path(out) / "worst_vs_eps")
    plt.close(fig)


def run_study(spec, out, *, device="cpu", workers=None, progress=False, log=print):
    """Run (or resume) every cell of ``spec`` and write the report into ``out``.

    Writes ``out/report.md``, ``out/report.json``, ``out/accuracy_vs_epochs.{png,pdf}`` and
    ``out/worst_vs_eps.{png,pdf}``; each cell's folder holds its checkpoint, logs and
    ``result.json``. Returns the report's numbers (the dict written to ``report.json``).
    """
    from .._io import atomic_path

    if not isinstance(spec, StudySpec):
        raise TypeError(f"spec must be a StudySpec (load_study(path)); got {type(spec).__name__}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out must be a folder; {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    workers = spec.workers if workers is None else workers
    cells = spec.cells()
    results = []
    t0 = time.perf_counter()
    if workers == 1:
        for k, cell in enumerate(cells, 1):
            results.append(run_cell(spec, out, *cell, device=device, progress=progress))
            log(f"[{k}/{len(cells)}] {cell[0]}, eps {cell[1]:g}, seed {cell[2]}: natural "
                f"{results[-1]['natural']:.4f}, worst case {results[-1]['worst']:.4f}")
    else:
        import concurrent.futures as cf
        import multiprocessing as mp

        with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            jobs = {pool.submit(_run_cell_in_worker, (spec, out, cell, device)): cell for cell in cells}
            for k, job in enumerate(cf.as_completed(jobs), 1):
                r = job.result()
                results.append(r)
                log(f"[{k}/{len(cells)}] {r['method']}, eps {r['eps']:g}, seed {r['seed']}: natural "
                    f"{r['natural']:.4f}, worst case {r['worst']:.4f}")
    numbers = summarize(spec, results)
    separation = _separation(spec)
    env = _environment(device, spec.threads)  # every cell runs with the study's torch threads
    report = {"name": spec.name, "dataset": spec.dataset, "seeds": list(spec.seeds), "eps": list(spec.eps),
              "epochs": spec.epochs, "baseline": spec.baseline, "suite": spec.suite,
              "eval_attacks": list(spec.eval_attacks), "skip_broken": spec.skip_broken,
              **numbers, "separation": separation, "environment": env,
              "seconds": time.perf_counter() - t0}
    with atomic_path(out / "report.json") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, allow_nan=False, default=list)
    with atomic_path(out / "report.md") as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(_markdown(spec, numbers, separation, env))
    _figures(spec, results, numbers, out)
    return report


# ---------------------------------------------------------------------------------- CLI
_HELP = "Train and evaluate every (method, eps, seed) cell of a study file; write a report"


def add_study_command(subparsers) -> None:
    """Register ``advgame study``."""
    s = subparsers.add_parser("study", help=_HELP, description=_HELP + " (docs/studies.md). Finished cells "
                              "are skipped, interrupted ones resumed.")
    s.add_argument("file", help="the study (TOML)")
    s.add_argument("--out", default=None, help="output folder (default: studies/NAME, NAME the study's name)")
    s.add_argument("--workers", type=int, default=None, help="parallel processes (default: the file's, else 1)")
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    s.set_defaults(advgame_run=_cmd_study)


def _cmd_study(args) -> int:
    spec = load_study(args.file)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1; got {args.workers}")
    out = args.out or os.path.join("studies", _slug(spec.name))
    report = run_study(spec, out, device=args.device, workers=args.workers)
    print(_markdown(spec, report, report["separation"], report["environment"]))
    print(f"wrote {out}/report.md, report.json, accuracy_vs_epochs.png/.pdf, worst_vs_eps.png/.pdf")
    return 0
