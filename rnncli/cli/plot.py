"""Images for ``rnn grad-norms --plot``, ``rnn jacobian --plot`` and ``rnn plot --out`` (optional: needs matplotlib, ``pip install 'rnncli[plot]'``)."""

from __future__ import annotations

from pathlib import Path

from rnncli.errors import UsageError


def require_matplotlib():
    """The pyplot module with a file-only backend, or a UsageError that says how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib, which is not installed.",
                         hint="install the plot extra: pip install 'rnncli[plot]' (or pip install matplotlib); "
                         "--csv FILE writes the same numbers without it.") from None
    return plt


def _save(fig, path: Path) -> None:
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot write the plot {path}: {exc}.",
                         hint="check that the folder exists and the name ends in .png (or .pdf, .svg).") from None
    finally:
        fig.clf()


def plot_report(report, path: Path) -> None:
    """‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) against t, log scale, one line per layer and direction."""
    plt = require_matplotlib()
    fig, ax = plt.subplots(figsize=(7, 4))
    for layer in report.layers:
        t = range(1, len(layer.h) + 1)
        ax.semilogy(t, layer.h, label=f"{layer.name} ‖∂L/∂h_t‖")
        if layer.c is not None:
            ax.semilogy(t, layer.c, linestyle="--", label=f"{layer.name} ‖∂L/∂c_t‖")
    s = report.summary
    ax.set_xlabel("timestep t")
    ax.set_ylabel("gradient norm (mean over examples)")
    ax.set_title(f"{report.cell}, {report.task}: {s.verdict}, ratio {s.ratio:.2e}, ×{s.rate:.3f}/step", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    _save(fig, path)
    plt.close(fig)


def plot_history(hist, path: Path) -> None:
    """One ‖∂L/∂h_t‖ curve per recorded epoch (darker = later), for each layer and direction."""
    plt = require_matplotlib()
    layers = hist.epochs[0]["grad_norms"]["layers"]
    fig, axes = plt.subplots(1, len(layers), figsize=(7 * len(layers), 4), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, first in zip(axes[0], layers):
        for j, e in enumerate(hist.epochs):
            layer = next(x for x in e["grad_norms"]["layers"]
                         if (x["layer"], x["direction"]) == (first["layer"], first["direction"]))
            h = [float("nan") if v is None else v for v in layer["h"]]
            ax.semilogy(range(1, len(h) + 1), h, color=cmap(j / max(1, len(hist.epochs) - 1)),
                        label=f"epoch {e['epoch']}")
        ax.set_title(f"l{first['layer']} {first['direction']} ‖∂L/∂h_t‖ by epoch", fontsize=10)
        ax.set_xlabel("timestep t")
        ax.grid(True, which="both", alpha=0.3)
        if len(hist.epochs) <= 12:
            ax.legend(fontsize=7)
    _save(fig, path)
    plt.close(fig)


def plot_jacobian(report, path: Path) -> None:
    """‖J_t‖₂ against t, and log σ_i(J_τ ⋯ J_1) against the span τ with the slopes λ_i, side by side."""
    import math

    plt = require_matplotlib()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.semilogy(range(1, len(report.jacobian_norms) + 1), report.jacobian_norms)
    left.set_xlabel("timestep t")
    left.set_ylabel("‖J_t‖₂ (mean over examples)")
    left.grid(True, which="both", alpha=0.3)
    for i, lam in enumerate(report.lyapunov):
        values = [v[i] for v in report.log_singular_values]
        line, = right.plot(report.spans, values, marker="o", label=f"log σ_{i + 1}, λ_{i + 1} = {lam:+.3f}")
        right.plot(report.spans, [lam * tau for tau in report.spans], linestyle=":", color=line.get_color())
    if report.grad_norm_slope is not None:
        right.plot(report.spans, [report.grad_norm_slope * tau for tau in report.spans], color="black",
                   linestyle="--", label=f"grad-norms slope {report.grad_norm_slope:+.3f}")
    right.set_xlabel("span τ (steps)")
    right.set_ylabel("log σ_i(J_τ ⋯ J_1) (nats)")
    right.legend(fontsize=8)
    right.grid(True, alpha=0.3)
    fig.suptitle(f"{report.cell}, {report.task}, {report.name}: λ_1 = {report.lyapunov[0]:+.4f} "
                 f"(e^λ_1 = {math.exp(report.lyapunov[0]):.3f} per step), {report.verdict}", fontsize=10)
    _save(fig, path)
    plt.close(fig)


def plot_curves(curves, path: Path) -> None:
    """Learning curves: one line per run and metric, against the epoch; one panel per metric."""
    plt = require_matplotlib()
    metrics = list(dict.fromkeys(c.metric for c in curves))
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for c in (c for c in curves if c.metric == metric):
            ax.plot(c.epochs, [float("nan") if v is None else v for v in c.values], marker="o", markersize=3, label=c.run)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    _save(fig, path)
    plt.close(fig)
