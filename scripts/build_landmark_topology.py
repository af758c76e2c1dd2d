"""Build reenact/face/data/landmark_topology.npz: the landmark mesh's triangles, their regions and
the named vertex sets, from mediapipe's edge lists (``reenact.face.topology.build_landmark_topology``).

Rebuild it after changing how the topology is built (tests/face/test_topology.py compares the
file with a fresh build):

    python scripts/build_landmark_topology.py
"""

import argparse
from pathlib import Path

import numpy as np

from reenact.face.topology import TOPOLOGY_FILE, build_landmark_topology, topology_arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parents[1] / "reenact" / "face" / TOPOLOGY_FILE)
    args = parser.parse_args()
    tmp = args.out.with_name(args.out.stem + ".part.npz")
    np.savez(tmp, **topology_arrays(build_landmark_topology()))
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
