"""Issue 20: turned faces. Every portrait of turned_faces.tsv re-enacted with four frames of each
driver of turned_drivers.tsv (scripts/turned_faces_sheet.py), each output judged by the
independent face-layout check (a doubled eye, no stable face). Slow: 444 outputs, about a minute
on 2 CPU cores; the contact sheet of a run shows what failed (python scripts/turned_faces_sheet.py).
"""

import pytest

from tests.conftest import data_path
from tests.scripts import load_script

# The check's count moves by a few from one version of the warp to the next on outputs that look
# alike (5 to 8 over the changes of docs/turned-faces.md); the code before issue 20 (59e59fa),
# with its doubled eyes and torn faces, gives 16.
MOST_REJECTED = 10


@pytest.fixture(scope="module")
def turned_set():
    pytest.importorskip("dlib", reason="dlib is not installed (pip install .[test])")
    data = data_path("corpus").parent
    sheet = load_script("turned_faces_sheet")
    table, drivers, results, _seconds = sheet.run_set(data, progress=False, keep_images=False)
    verdicts = [v for res in results for v in res[3]]
    sources = [v for v in verdicts if v.driver is None]
    outputs = [v for v in verdicts if v.driver is not None]
    assert len(outputs) == len(table) * sum(len(d.frames) for d in drivers)
    # the unmodified source crops pass (else the check, not the warp, is at fault)
    assert all(v.ok for v in sources), [(v.portrait, v.reasons) for v in sources if not v.ok]
    rejected = [f"{v.portrait} <- {v.driver} frame {v.frame}: {'; '.join(v.reasons)}"
                for v in outputs if not v.ok]
    return outputs, rejected


@pytest.mark.slow
def test_the_turned_set_stays_within_the_checks_noise(turned_set):
    """A regression guard that the code before issue 20 fails: at most MOST_REJECTED outputs."""
    outputs, rejected = turned_set
    assert len(rejected) <= MOST_REJECTED, f"{len(rejected)} of {len(outputs)} outputs " \
        "rejected:\n" + "\n".join(rejected)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 20 is open: the check rejects 6 of 444 outputs of the "
                   "set (a glasses rim, cheek edges and an ear read as a second eye, unstable "
                   "points on far-turned faces; docs/turned-faces.md); strict, so a pass is "
                   "noticed and this mark removed")
def test_no_turned_face_output_is_rejected(turned_set):
    outputs, rejected = turned_set
    assert not rejected, f"{len(rejected)} of {len(outputs)} outputs rejected:\n" + \
        "\n".join(rejected)
