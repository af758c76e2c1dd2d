"""Issue 20: turned faces. Every portrait of turned_faces.tsv re-enacted with four frames of each
driver of turned_drivers.tsv (scripts/turned_faces_sheet.py), and no output may fail the
independent face-layout check (a doubled eye, no stable face). Slow: 444 outputs, about 5 minutes
on 2 CPU cores; the contact sheet of a run shows what failed (python scripts/turned_faces_sheet.py).
"""

import pytest

from tests.conftest import data_path
from tests.scripts import load_script


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 20 is open: the check rejects 6 of 444 outputs of the "
                   "set (a hand at the face, a smooth cheek edge and a crop's mirrored border "
                   "read as a second eye, a hair strand smeared over a turned cheek, unstable "
                   "points on a turned face; docs/turned-faces.md); strict, so a pass "
                   "is noticed and this mark removed")
def test_no_turned_face_output_is_rejected():
    pytest.importorskip("dlib", reason="dlib is not installed (pip install .[test])")
    data = data_path("corpus").parent
    sheet = load_script("turned_faces_sheet")
    table, drivers, results, _seconds = sheet.run_set(data, progress=False, keep_images=False)
    verdicts = [v for res in results for v in res[3]]
    sources = [v for v in verdicts if v.driver is None]
    outputs = [v for v in verdicts if v.driver is not None]
    assert len(outputs) == len(table) * sum(len(d.frames) for d in drivers)
    rejected = [f"{v.portrait} <- {v.driver} frame {v.frame}: {'; '.join(v.reasons)}"
                for v in outputs if not v.ok]
    assert not rejected, f"{len(rejected)} of {len(outputs)} outputs rejected:\n" + \
        "\n".join(rejected)
    # the unmodified source crops pass too (else the check, not the warp, is at fault)
    assert all(v.ok for v in sources), [(v.portrait, v.reasons) for v in sources if not v.ok]
