"""Results of an evaluation: mean +- std per metric, system, protocol and dataset pair, as a
markdown table laid out like the papers', CSV, JSON, and image grids."""

import csv
import io
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from reenact.eval.runner import THUMB, features_path, read_rows, safe_name, strip_path
from reenact.io import read_image, write_image
from reenact.io.atomic import atomic_path

# (key, column title, higher is better), in the papers' order: identity, fidelity, motion.
METRICS = (
    ("csim", "CSIM", True),
    ("same_identity", "same-id rate", True),
    ("psnr", "PSNR (face)", True),
    ("ssim", "SSIM (face)", True),
    ("lpips", "LPIPS", False),
    ("akd", "AKD (mediapipe)", False),
    ("akd_dlib", "AKD (dlib)", False),
    ("pose_mse", "PoseMSE", False),
    ("prmse", "PRMSE", False),
    ("exp_mse", "ExpMSE (mediapipe)", False),
    ("exp_mse_dlib", "ExpMSE (dlib)", False),
    ("face_found", "face found", True),
    ("jitter", "jitter", False),
    ("fid", "FID", False),
)
PROTOCOL_TITLES = {"self": "Self-reenactment",
                   "self-outside": "Self-reenactment, the photo outside the clip",
                   "cross": "Cross-identity reenactment"}


def aggregate(rows: list[dict]) -> list[dict]:
    """One record per (protocol, pair, system, metric): mean, std (over output frames; over clips
    for jitter), n. Systems keep their first-seen order."""
    values: dict[tuple, list[float]] = defaultdict(list)
    order: dict[str, int] = {}
    for r in rows:
        order.setdefault(r["system"], len(order))
        for key, _, _ in METRICS:
            v = r.get(key)
            if v is not None and np.isfinite(v):
                values[(r["protocol"], r["pair"], r["system"], key)].append(float(v))
    metric_rank = {k: i for i, (k, _, _) in enumerate(METRICS)}
    out = [{"protocol": p, "pair": pair, "system": s, "metric": m, "mean": float(np.mean(v)),
            "std": float(np.std(v)), "n": len(v)} for (p, pair, s, m), v in values.items()]
    out.sort(key=lambda r: (r["protocol"] == "cross", r["pair"], order[r["system"]],
                            metric_rank[r["metric"]]))
    return out


def markdown(summary: list[dict]) -> str:
    """A table per protocol and dataset pair: systems as rows, metrics as columns, mean +- std."""
    lines = []
    groups: dict[tuple[str, str], dict[str, dict[str, dict]]] = {}
    for r in summary:
        groups.setdefault((r["protocol"], r["pair"]), {}).setdefault(r["system"], {})[
            r["metric"]] = r
    for (protocol, pair), systems in groups.items():
        present = [(k, t, up) for k, t, up in METRICS
                   if any(k in m for m in systems.values())]
        header = " | ".join(f"{t} {'↑' if up else '↓'}" for _, t, up in present)
        lines += [f"### {PROTOCOL_TITLES.get(protocol, protocol)}: {pair}", "",
                  f"| system | {header} |", "|---" * (len(present) + 1) + "|"]
        for system, metrics in systems.items():
            cells = []
            for k, _, _ in present:
                m = metrics.get(k)
                if m is None:
                    cells.append("-")
                elif k == "fid":  # one value per system, over all its outputs
                    cells.append(f"{m['mean']:.2f} (n={m['n']})")
                else:
                    cells.append(f"{_fmt(k, m['mean'])} ± {_fmt(k, m['std'])}")
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _fmt(metric: str, x: float) -> str:
    if metric in ("psnr", "pose_mse"):
        return f"{x:.2f}"
    if metric in ("akd", "akd_dlib", "jitter", "exp_mse", "exp_mse_dlib"):
        return f"{x:.4f}"
    return f"{x:.3f}"


def write_report(out: Path) -> list[dict]:
    """table.md, results.csv and results.json from ``out``'s rows, and the grids; returns the
    summary records."""
    rows = read_rows(out / "rows.jsonl")
    summary = aggregate([r for r in rows if "skipped" not in r])
    summary += fid_records(out, rows)
    skipped = sorted({f"{r['case']} / {r['system']}: {r['skipped']}" for r in rows
                      if "skipped" in r})
    _write_text(out / "table.md", markdown(summary)
                + ("\nSkipped:\n" + "\n".join(f"- {s}" for s in skipped) + "\n" if skipped else ""))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["protocol", "pair", "system", "metric", "mean", "std", "n"])
    writer.writeheader()
    writer.writerows(summary)
    _write_text(out / "results.csv", buf.getvalue())
    _write_text(out / "results.json", json.dumps({"summary": summary, "skipped": skipped},
                                                 indent=2) + "\n")
    write_grids(out, rows)
    return summary


def fid_records(out: Path, rows: list[dict]) -> list[dict]:
    """FID per (protocol, pair, system): its outputs' face crops against the same cases' driving
    frames, from the features the runner saved (nothing when FID was off)."""
    from reenact.eval.fid import frechet_distance

    cases: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        if "skipped" not in r:
            cases[(r["protocol"], r["pair"], r["system"])].add(r["case"])
    records = []
    for (protocol, pair, system), keys in cases.items():
        paths = [(features_path(out, k, system), features_path(out, k, "_real"))
                 for k in sorted(keys)]
        if not all(a.exists() and b.exists() for a, b in paths):
            continue
        fake = [f for f in (np.load(a) for a, _ in paths) if f.size]
        real = [f for f in (np.load(b) for _, b in paths) if f.size]
        if not fake or not real:
            continue
        fake, real = np.concatenate(fake), np.concatenate(real)
        if min(len(fake), len(real)) < 2:
            continue
        records.append({"protocol": protocol, "pair": pair, "system": system, "metric": "fid",
                        "mean": frechet_distance(fake, real), "std": 0.0, "n": len(fake)})
    return records


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_grids(out: Path, rows: list[dict]) -> None:
    """grids/<case>.png: columns source | driving | each system, one row per kept frame; and
    grid.png, the first row of every case."""
    cases: dict[str, list[str]] = {}
    for r in rows:
        if "skipped" not in r:
            systems = cases.setdefault(r["case"], [])
            if r["system"] not in systems:
                systems.append(r["system"])
    firsts = []
    for case, systems in cases.items():
        columns = ["_source", "_driving", *systems]
        strips = [strip_path(out, case, c) for c in columns]
        if not all(p.exists() for p in strips):
            continue
        images = [read_image(p) for p in strips]
        h = min(im.shape[0] for im in images)
        body = np.concatenate([im[:h] for im in images], axis=1)
        names = ["source", "driving", *systems]
        grid = np.concatenate([_header(names), body], axis=0)
        write_image(out / "grids" / f"{safe_name(case)}.png", grid)
        firsts.append((case, np.concatenate([_label(case, body.shape[1]), body[:THUMB]], 0),
                       names))
    if firsts:
        width = max(f[1].shape[1] for f in firsts)
        parts = [_header(firsts[0][2])] + [np.pad(f[1], ((0, 0), (0, width - f[1].shape[1]),
                                                         (0, 0))) for f in firsts]
        write_image(out / "grid.png", np.concatenate(parts, axis=0))


def _header(names: list[str]) -> np.ndarray:
    bar = np.full((24, THUMB * len(names), 3), 255, np.uint8)
    for i, name in enumerate(names):
        cv2.putText(bar, name[:16], (i * THUMB + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _label(text: str, width: int) -> np.ndarray:
    bar = np.full((18, width, 3), 235, np.uint8)
    cv2.putText(bar, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1, cv2.LINE_AA)
    return bar
