"""``reenact evaluate DATA -o OUT``: the papers' protocols over a folder or a preprocessed cache,
every system scored on every case; writes table.md, results.csv, results.json and image grids.
Rerunning the same command resumes (finished cases are kept)."""

import logging
import os
from pathlib import Path


def run_evaluate(args) -> int:
    from tqdm import tqdm

    from reenact.eval.observe import default_embedder
    from reenact.eval.protocols import PROTOCOLS, make_cases, open_collection
    from reenact.eval.report import write_report
    from reenact.eval.runner import EvalSettings, Runner
    from reenact.eval.systems import build_system
    from reenact.io.native_log import native_stderr_to

    logging.basicConfig(level=logging.INFO, format="reenact: %(message)s")
    out = Path(args.out)
    sources = open_collection(args.data, args.split)
    drivers = open_collection(args.driving, args.split) if args.driving else sources
    protocols = tuple(p.strip() for p in args.protocols.split(",") if p.strip())
    cases = make_cases(sources, drivers, protocols, args.frames, args.clip, args.max_cases)
    if not cases:
        raise ValueError(f"{args.data}: no {' or '.join(protocols)} cases (self-reenactment "
                         "needs videos; cross-identity needs videos of another identity)")
    backend = (getattr(args, "face_model", None) or "landmark",
               getattr(args, "face_model_path", None))
    systems = [build_system(s.strip(), args.size, *backend)
               for s in args.systems.split(",") if s.strip()]
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"two systems share a name in {names}; name them NAME=dcggan:CKPT")
    settings = EvalSettings(frames=args.frames, clip=args.clip, size=args.size,
                            identity=args.identity, pose="hopenet" if args.pose_net else
                            "landmarks", lpips=bool(args.lpips), fid=bool(args.fid))
    pose, extras = _weighted_metrics(args)
    out.mkdir(parents=True, exist_ok=True)
    with native_stderr_to(out / "native.log" if not args.debug else os.devnull) as console:
        embedder = default_embedder(args.identity, args.arcface)
        runner = Runner(out, settings, embedder, pose, extras)
        todo = len(runner.pending(cases, systems))
        with tqdm(total=todo, desc="evaluate", unit="run", file=console,
                  disable=todo == 0) as bar:
            skipped = runner.run(cases, systems, sources, drivers, bar)
        summary = write_report(out)
    counts = [(p, sum(c.protocol == p for c in cases)) for p in PROTOCOLS]
    print(f"{len(cases)} cases ({', '.join(f'{n} {p}' for p, n in counts if n)}) x "
          f"{len(systems)} systems; {todo} run now, {len(cases) * len(systems) - todo} resumed")
    for line in skipped:
        print(f"skipped: {line}")
    print((out / "table.md").read_text())
    print(f"written: {out / 'table.md'}, results.csv, results.json, grid.png, grids/")
    return 0 if summary else 1


def _weighted_metrics(args):
    """The metrics that need the user's weight files, loaded before any work starts."""
    from reenact.eval.runner import Extras

    pose = lpips = fid = None
    if args.pose_net:
        from reenact.eval.pose_net import HopenetPose

        pose = HopenetPose(args.pose_net)
    if args.lpips:
        from reenact.eval.lpips import LPIPS

        lpips = LPIPS(*args.lpips)
    if args.fid:
        from reenact.eval.fid import FIDFeatures

        fid = FIDFeatures(args.fid)
    return pose, Extras(lpips=lpips, fid=fid)
