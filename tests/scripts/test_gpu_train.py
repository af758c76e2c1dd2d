"""scripts/gpu_train.py: what travels to a GPU machine and back (no GPU needed)."""

import json
import subprocess
import sys
from pathlib import Path

import torch

from tests.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


def test_the_landmark_mesh_builds_from_the_connections_shim_alone(tmp_path):
    """Where the shim stands first on the path, `import mediapipe` finds it, not the installed
    package, and the topology comes out the same (the device has no mediapipe)."""
    from reenact.face.topology import landmark_topology

    load_script("gpu_train").connections_shim(tmp_path / "shim")
    code = ("import json, mediapipe, numpy as np; "
            "from reenact.face.topology import landmark_topology as t; "
            "print(json.dumps([mediapipe.__file__, t().triangles.tolist()]))")
    env = {"PYTHONPATH": f"{tmp_path / 'shim'}:{ROOT}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    where, triangles = json.loads(out.stdout)
    assert where.startswith(str(tmp_path / "shim"))
    assert triangles == landmark_topology().triangles.tolist()


def test_an_exported_generator_comes_back_in_parts_and_joins(tmp_path):
    script = load_script("gpu_train")
    g = torch.Generator().manual_seed(0)
    model = {"w": torch.randn(40, 30, generator=g), "count": torch.tensor([7]),
             "gain": torch.tensor(0.25)}
    config = {"family": "dcggan", "run": {"steps": 10}}
    torch.save({"config": config, "model": model, "step": 9, "train_size": 64, "train": {},
                "ema": {}}, tmp_path / "last.pt")
    parts = script.export(tmp_path / "last.pt", tmp_path, "dcggan", part_bytes=1000)
    assert len(parts) > 2 and all(p.stat().st_size <= 1000 for p in parts)
    state = script.join(list(reversed(parts)))  # joined in part order, whatever the listing's
    assert state["config"] == config and state["step"] == 9 and state["train_size"] == 64
    assert "train" not in state  # the optimiser and critic stay behind
    assert state["model"]["w"].dtype == torch.float32
    torch.testing.assert_close(state["model"]["w"], model["w"], rtol=1e-3, atol=1e-4)
    assert not torch.equal(state["model"]["w"], model["w"])  # it did travel in float16
    assert torch.equal(state["model"]["count"], model["count"])
