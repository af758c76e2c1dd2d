"""``curves.png`` of a run: its losses, validation scores and calibration, from metrics.jsonl."""

import json
from pathlib import Path

import numpy as np

from reenact.io.atomic import atomic_path


def plot_curves(out: Path) -> Path | None:
    """curves.png from metrics.jsonl: the losses (moving average), the validation scores and,
    after ``run.calibrate``, the calibration's validation score by gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = out / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    calibration = [r for r in rows if r["kind"] == "calibration"]
    fig, axes = plt.subplots(1, 4 if calibration else 3, figsize=(20 if calibration else 15, 4))
    keys = sorted({k for r in train for k in r if k not in ("kind", "step", "images_per_s")})
    for k in keys:
        steps = [r["step"] for r in train if k in r]
        vals = np.array([r[k] for r in train if k in r])
        w = max(1, len(vals) // 50)
        smooth = np.convolve(vals, np.ones(w) / w, mode="valid")
        axes[0].plot(steps[w - 1:], smooth, label=k)
    axes[0].set(title="training losses (moving average)", xlabel="step", yscale="symlog")
    axes[0].legend(fontsize=7)
    for ax, metric, title in ((axes[1], "psnr_face", "held-out face PSNR (dB)"),
                              (axes[2], "akd", "held-out landmark error (AKD)")):
        steps = [r["step"] for r in val if metric in r]
        ax.plot(steps, [r[metric] for r in val if metric in r], "o-", label="model (EMA)")
        base = [r[f"warp_{metric}"] for r in val if f"warp_{metric}" in r]
        if base:
            ax.axhline(base[0], color="k", ls="--", label="analytic warp")
        ax.set(title=title, xlabel="step")
        ax.legend()
    if calibration:
        c = calibration[-1]
        gains = [float(g) for g in c["scores"]]
        axes[3].plot(gains, list(c["scores"].values()), "o-", label=f"validation {c['metric']}")
        axes[3].axvline(c["gain"], color="C3", ls=":", label=f"chosen gain {c['gain']}")
        axes[3].set(title="calibration: share of the correction added to the warp",
                    xlabel="gain (0 = the analytic warp)")
        axes[3].legend()
    fig.tight_layout()
    target = out / "curves.png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return target
