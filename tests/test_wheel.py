"""A wheel built from the repository, installed on its own, runs (issue 22, item 11): it used to
leave out ``reenact/face/data/landmark_mean.npz`` and fail on first use."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # 14 s: builds and installs a wheel
def test_a_built_wheel_installed_alone_runs_the_demo(tmp_path):
    # built without isolation, offline, by this environment's setuptools (about 15 s in all)
    pytest.importorskip("setuptools", reason="building the wheel offline needs setuptools here")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(dist), str(ROOT)], check=True, cwd=tmp_path)
    wheel = next(dist.glob("reenact-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "reenact/face/data/landmark_mean.npz" in names
    assert "reenact/face/data/landmark_topology.npz" in names  # else built at every start
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "reenact = reenact.cli:run" in zipfile.ZipFile(wheel).read(entry).decode()
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]
    # a fresh environment with the wheel alone; its dependencies come from this one's packages
    # (a .pth line, which does not run this environment's editable-install hook)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", ask], check=True, capture_output=True,
                               text=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target",
                    str(site), str(wheel)], check=True)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run([str(python), "-c", "import reenact; print(reenact.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(site)), where  # the wheel's copy, not the repository's
    run = subprocess.run([str(python), "-m", "reenact.cli", "demo", "--out-dir", "out",
                          "--frames", "4"], capture_output=True, text=True, cwd=tmp_path,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "demo.png").stat().st_size > 10_000
