"""Logs and figures of a training run (MNE21 Fig. 3 style)."""

from __future__ import annotations

import csv
import io
import json
import os

from ..._io import atomic_path

__all__ = ["write_logs", "read_log", "plot_training", "plot_runs", "write_figure", "LOG_FIELDS"]

#: the columns of ``log.csv`` (``weights`` as a space-separated list)
LOG_FIELDS = ("epoch", "members", "natural", "robust", "weights", "gap", "lr", "loss", "time")


def _write_text(path, text):
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_logs(out, history) -> None:
    """``out/log.json`` (a list of per-epoch dicts) and ``out/log.csv``, atomically."""
    from .integrity import finite_json  # NaN / infinity as null: the log stays valid JSON

    _write_text(os.path.join(out, "log.json"), json.dumps(finite_json(history), indent=1, allow_nan=False) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LOG_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in history:
        r = dict(row)
        r["weights"] = " ".join(f"{v:.6g}" for v in row["weights"])
        w.writerow(r)
    _write_text(os.path.join(out, "log.csv"), buf.getvalue())


def read_log(path) -> list:
    """The per-epoch log of a run (``log.json``, or the run folder holding it)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "log.json")
    try:
        with open(path, encoding="utf-8") as f:
            history = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read the training log {path!r}: {err}") from None
    if not isinstance(history, list) or not all(isinstance(r, dict) and "epoch" in r for r in history):
        raise ValueError(f"{path!r} is not a training log (a list of per-epoch records)")
    return history


def plot_training(history, metric="robust", ax=None, label=None, per_member=True, **style):
    """Validation accuracy per epoch of one run (one line).

    Parameters
    ----------
    history : list of dict
        A run's log (:func:`read_log`).
    metric : {"natural", "robust"}
    ax : matplotlib Axes, optional
    label : str, optional
    per_member : bool
        x axis in epochs per member (the epoch divided by the run's number of
        members, as in MNE21 Fig. 3), else in epochs.  A run that adds its members
        one after another (BAT: ``members`` grows along the log) is always drawn in
        epochs, its phases in order, with a diamond and a dotted line where each new
        member enters.

    Returns
    -------
    matplotlib Axes
    """
    if metric not in ("natural", "robust"):
        raise ValueError(f"metric must be 'natural' or 'robust'; got {metric!r}")
    if ax is None:
        import matplotlib

        if os.environ.get("MPLBACKEND") is None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 3.6))
    sequential = len({r["members"] for r in history}) > 1  # BAT: one phase per member, in order
    L = max((r["members"] for r in history), default=1) if per_member and not sequential else 1
    history = sorted(history, key=lambda r: r["epoch"])
    epochs = [r["epoch"] / L for r in history]
    values = [r[metric] for r in history]
    (line,) = ax.plot(epochs, values, marker="o", markersize=3, label=label, **style)
    if sequential:
        starts = [i for i in range(1, len(history)) if history[i]["members"] > history[i - 1]["members"]]
        for n, i in enumerate(starts):
            ax.axvline(epochs[i] - 0.5, color=line.get_color(), ls=":", lw=0.8)
            ax.plot([epochs[i]], [values[i]], marker="D", markersize=7, mfc="none", color=line.get_color(), ls="",
                    label="a new member's first epoch" if n == 0 else None)
    ax.set_xlabel("epoch" + (" (one member after another)" if sequential else "") if L == 1 or not per_member
                  else "epochs per member")
    ax.set_ylabel(f"{metric} accuracy (validation)")
    ax.set_title("natural accuracy" if metric == "natural" else "robust accuracy (PGD)")
    ax.grid(alpha=0.3)
    return ax


def plot_runs(runs, metric="robust", ax=None, per_member=True):
    """MNE21 Fig. 3 style: one line per run (e.g. 1, 2, 3 members), accuracy per epoch.

    Parameters
    ----------
    runs : dict of str to list of dict
        Label -> the run's log.
    metric : {"natural", "robust"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    for label, history in runs.items():
        ax = plot_training(history, metric, ax=ax, label=label, per_member=per_member)
    if runs:
        ax.legend()
    return ax


def write_figure(out, runs, stem="accuracy") -> list:
    """Natural (left) and robust (right) accuracy per epoch, as ``out/<stem>.png`` and ``.pdf``."""
    import matplotlib

    if os.environ.get("MPLBACKEND") is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ...plot import save_figure

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    plot_runs(runs, "natural", ax=a)
    plot_runs(runs, "robust", ax=b)
    fig.tight_layout()
    try:
        return save_figure(fig, os.path.join(out, stem))
    finally:
        plt.close(fig)
