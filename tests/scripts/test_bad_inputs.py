"""scripts/bad_inputs.py, which writes docs/bad-inputs.md: its cases run as a user runs them."""

from tests.scripts import load_script


def test_bad_input_cases_run_and_report_exit_and_line(tmp_path):
    sheet = load_script("bad_inputs")
    sheet._inputs(tmp_path)
    by_name = {c.what: c for c in sheet.cases()}
    assert len(by_name) >= 30
    code, line, note = sheet.run_case(by_name["output exists"], tmp_path)
    assert code == 3 and line == "reenact: error: out_exists.png: already exists (pass " \
        "--overwrite to replace it)" and note == ""
    code, line, _ = sheet.run_case(by_name["--config: alpha: high"], tmp_path)
    assert code == 2 and line.endswith("typed.yaml: alpha: expected a number, got 'high'")
    assert (tmp_path / "out_exists.png").read_bytes() == b"keep me"
