"""``reenact preprocess SRC -o CACHE``: preprocess a dataset into a training cache and say what
happened: how many videos were found, processed now or before, and which were skipped, and why."""

import sys


def run_preprocess(args) -> int:
    """0 when the cache holds videos (some may have been skipped); 3 when nothing could be used."""
    from reenact.data.preprocess import preprocess

    s = preprocess(args.src, args.out, frames=args.frames, size=args.size, margin=args.margin,
                   workers=args.workers, per_shard=args.per_shard,
                   face_model=args.face_model or "landmark", face_model_path=args.face_model_path)
    print(f"videos found: {s.found} in {args.src}")
    print(f"processed now: {s.processed} ({s.frames} frames stored, {s.seconds:.1f} s)")
    print(f"already in the cache: {s.already_done} (from a previous run)")
    print(f"skipped: {len(s.skipped)}")
    for video, reason in s.skipped:
        print(f"  {video}: {reason}")
    if s.skipped_before:
        print(f"skipped by a previous run: {len(s.skipped_before)} (not retried)")
        for video, reason in s.skipped_before:
            print(f"  {video}: {reason}")
    print(f"cache: {s.in_cache} videos in {args.out} (index.jsonl, summary.json; mediapipe's "
          "own messages in preprocess.log)")
    if s.in_cache == 0:
        print(f"reenact: error: no video in {args.src} could be preprocessed (see the reasons "
              "above)", file=sys.stderr)
        return 3
    return 0
