"""The benchmark scripts keep working: each one's --quick mode runs in a subprocess (seconds, mnist-5k only),
writing its results section into a temporary file, never into benchmarks/RESULTS.md.

Nothing here asserts a speed: benchmarks report numbers, tests only check that they can still be produced.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
REAL_RESULTS = BENCH / "RESULTS.md"


def load(name: str):
    """Import a benchmark script as a module (benchmarks/ is not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def snapshot(path: Path):
    return path.read_bytes() if path.exists() else None


@pytest.mark.parametrize("script, key", [("train_speed", "train_speed"), ("notebook_times", "notebook_times"),
                                         ("growth", "growth"),
                                         ("thread_policy", "thread_policy"), ("step_profile", "step_profile"),
                                         ("class_arrives", "class_arrives")])
def test_quick_mode_runs_and_writes_only_its_out_file(script, key, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_HELPERS_CACHE_DIR", str(tmp_path / "models"))
    out = tmp_path / "RESULTS.md"
    before = snapshot(REAL_RESULTS)
    proc = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, f"{script} --quick failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    text = out.read_text()
    assert f"<!-- {key}:start -->" in text and f"<!-- {key}:end -->" in text
    assert "quick smoke run" in text and "- machine: " in text and "- command: `" in text
    assert "- speed probe (" in text and " ms bf16, " in text and " ms float32 (" in text
    assert f"<!-- {key}:start -->" in proc.stdout, "the table is printed as well as written"
    assert snapshot(REAL_RESULTS) == before, "a quick run must not touch benchmarks/RESULTS.md"
    if script == "growth":
        for name in ("growth_train_size.png", "growth_latent_dim.png", "growth_payload.png"):
            assert (tmp_path / name).stat().st_size > 1000, f"{name} was not drawn next to the --out file"


def test_quick_mode_without_out_writes_nothing_and_a_full_run_writes_the_real_file():
    import argparse
    common = load("_common")
    assert common.out_path(argparse.Namespace(quick=True, out=None)) is None
    assert common.out_path(argparse.Namespace(quick=False, out=None)) == REAL_RESULTS
    assert common.out_path(argparse.Namespace(quick=True, out=Path("x.md"))) == Path("x.md")


def test_write_section_replaces_only_its_own_section(tmp_path):
    common = load("_common")
    path = tmp_path / "R.md"
    common.write_section(path, "a", "<!-- a:start -->\nfirst A\n<!-- a:end -->\n")
    common.write_section(path, "b", "<!-- b:start -->\nB\n<!-- b:end -->\n")
    common.write_section(path, "a", "<!-- a:start -->\nsecond A\n<!-- a:end -->\n")
    text = path.read_text()
    assert text.startswith("# Benchmark results")
    assert "second A" in text and "first A" not in text and "B" in text
    assert text.index("second A") < text.index("\nB\n"), "a rewritten section keeps its place"


def test_section_reports_the_speed_probe_at_start_and_end():
    common = load("_common")
    text = common.section("k", "T", "body", 60.0, probe_before="9.99 ms bf16, 9.99 ms float32 (2 threads)")
    probe = next(line for line in text.splitlines() if line.startswith("- speed probe"))
    assert "9.99 ms bf16, 9.99 ms float32 (2 threads) at the start, " in probe and probe.endswith(" at the end")
    at_end = probe.split(" at the start, ")[1]
    assert float(at_end.split(" ms bf16")[0]) > 0, "the end probe is measured when the section is written"
    assert "at the start" not in common.section("k", "T", "body", 60.0)


def test_notebook_copy_gets_the_full_dataset_and_the_original_is_untouched(tmp_path):
    times = load("notebook_times")
    src = tmp_path / "src" / "01_x.ipynb"
    src.parent.mkdir()
    setup = 'import vae_helpers as vh\nvh.set_seed(0)\nDATASET = "mnist-5k"    # or "mnist"\ndata = vh.load_dataset(DATASET)'
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell('DATASET = "mnist-5k" in prose'),
                                                   nbformat.v4.new_code_cell(setup)]), src)
    original = src.read_bytes()
    dest_dir = tmp_path / "copy"
    dest_dir.mkdir()
    copy, rewritten = times.prepare(src, dest_dir, "mnist")
    cells = nbformat.read(copy, as_version=4).cells
    assert rewritten
    assert 'DATASET = "mnist"    # or "mnist"' in cells[1].source
    assert cells[0].source == 'DATASET = "mnist-5k" in prose', "only the setup code cell is rewritten"
    assert src.read_bytes() == original


def test_cell_seconds_reads_nbclient_timing():
    times = load("notebook_times")
    cell = {"metadata": {"execution": {"iopub.execute_input": "2025-01-01T10:00:00.250000Z",
                                       "shell.execute_reply": "2025-01-01T10:00:02.000000Z"}}}
    assert times.cell_seconds(cell) == pytest.approx(1.75)
    assert times.cell_seconds({"metadata": {}}) is None


def test_growth_linear_fit_recovers_a_line():
    growth = load("growth")
    a, b, r2 = growth.linear_fit([1, 2, 4, 10], [0.5 + 0.2 * n for n in (1, 2, 4, 10)])
    assert (a, b, r2) == pytest.approx((0.5, 0.2, 1.0))
    assert growth.loglog_slope([1, 10, 100], [3, 30, 300]) == pytest.approx(1.0)


def test_class_arrives_fails_when_a_kernel_does(tmp_path):
    """A kernel whose notebook run fails must fail the benchmark, not report 0 s (it did once: ipc from nbconvert)."""
    sys.path.insert(0, str(BENCH))
    try:
        import class_arrives
    finally:
        sys.path.remove(str(BENCH))
    with pytest.raises(RuntimeError, match="kernel 0: .*missing.ipynb"):
        class_arrives.arrival(tmp_path / "missing.ipynb", tmp_path, "auto", 0, 0.0)
