"""The held-out report: means over measured pairs, paired differences and who wins."""

import numpy as np

from reenact.train.validate import mean_scores, report


def _rows(psnr, akd):
    akd = np.array(akd, dtype=float)
    return {"psnr_face": np.array(psnr, dtype=float), "akd": akd,
            "face_found": np.isfinite(akd).astype(float)}


def test_means_skip_unmeasured_pairs():
    scores = mean_scores(_rows([20, 30], [0.1, np.nan]))
    assert scores == {"psnr_face": 25.0, "akd": 0.1, "faces_found": 0.5}


def test_report_pairs_the_differences():
    model = _rows([21, 23, 22], [0.02, 0.05, np.nan])
    warp = _rows([20, 20, 20], [0.03, 0.04, 0.01])
    text = report(model, warp)
    assert "3 held-out pairs" in text
    psnr = next(line for line in text.splitlines() if line.startswith("| psnr_face"))
    # differences 1, 3, 2: mean 2, s.e. 1 / sqrt(3); all three better (higher is better)
    assert "| 22.0000 | 20.0000 | +2.0000 +- 0.5774 | 100% |" in psnr
    akd = next(line for line in text.splitlines() if line.startswith("| akd"))
    # only the two pairs measured for both count: -0.01 and +0.01; lower is better: one of two
    assert "| 0.0350 | 0.0350 | +0.0000 +- 0.0100 | 50% |" in akd


def test_sharpness_is_better_closer_to_the_driving_frames():
    model = {"psnr_face": np.array([20.0, 20.0]), "sharpness": np.array([0.95, 1.2]),
             "face_found": np.ones(2)}
    warp = {"psnr_face": np.array([20.0, 20.0]), "sharpness": np.array([0.8, 1.1]),
            "face_found": np.ones(2)}
    line = next(x for x in report(model, warp).splitlines() if x.startswith("| sharpness"))
    assert line.endswith("| 50% |")  # 0.95 beats 0.8; 1.2 loses to 1.1
