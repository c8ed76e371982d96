"""The offline install (`make wheelhouse`, tools/install_offline.sh): a fresh venv from wheelhouse/ alone.

Opt-in (marker `slow`, about 1-2 minutes): runs when VH_WHEELHOUSE_TEST=1, e.g.
    VH_WHEELHOUSE_TEST=1 .venv/bin/python -m pytest tests/test_wheelhouse.py -s
The wheelhouse is $VH_WHEELHOUSE, else wheelhouse/ (built first with tools/build_wheelhouse.py when
missing, which needs the package registry). The install runs with --no-index, no pip configuration
(so no other wheel folder is seen) and, where `unshare -n` works (root on Linux), in a network
namespace with no network at all. Then notebook 00 is executed from its MyST source (jupytext) with
the new venv's own kernel, offline too.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("VH_WHEELHOUSE_TEST") != "1",
    reason="opt-in (1-2 min): VH_WHEELHOUSE_TEST=1 installs from the wheelhouse into a fresh venv offline")]

RUN_00 = """
import sys, jupytext
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell
nb = jupytext.read(sys.argv[1])
nb.cells.append(new_code_cell("import sys; print(sys.prefix)"))  # which Python the kernel is
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
kernel_prefix = nb.cells[-1].outputs[0]["text"].strip()
assert kernel_prefix == sys.prefix, f"the kernel ran in {kernel_prefix}, not in this venv {sys.prefix}"
print(f"executed {len(nb.cells) - 1} cells with the venv's kernel")
"""


def offline(cmd: list[str]) -> list[str]:
    """The command inside a network namespace with only a loopback interface (the kernel talks to nbclient
    over 127.0.0.1), where `unshare -n` and `ip` work here (root on Linux); else the command as it is."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    if unshare and os.path.exists(ip) and subprocess.run([unshare, "-n", ip, "link", "set", "lo", "up"],
                                                          capture_output=True).returncode == 0:
        return [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$@"', "offline", *cmd]
    return cmd


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    folder = Path(os.environ.get("VH_WHEELHOUSE", ROOT / "wheelhouse"))
    if not any(folder.glob("torch-*.whl")):
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_wheelhouse.py"), "--out", str(folder)], check=True)
    return folder


def test_offline_install_then_notebook_00(wheelhouse, tmp_path):
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "JUPYTER", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               VAE_HELPERS_CACHE_DIR=str(tmp_path / "models"), MPLBACKEND="Agg")
    start = time.perf_counter()
    done = subprocess.run(offline(["bash", str(ROOT / "tools" / "install_offline.sh"), str(venv), str(wheelhouse)]),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    install = time.perf_counter() - start
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], env=env, capture_output=True,
                            text=True, check=True).stdout
    assert "torch==2.13.0+cpu" in freeze and "nvidia" not in freeze, freeze
    assert "vae-helpers" in freeze or "vae_helpers" in freeze
    work = tmp_path / "run"
    work.mkdir()
    start = time.perf_counter()
    run = subprocess.run(offline([str(venv / "bin" / "python"), "-c", RUN_00, str(ROOT / "notebooks" / "00_start_here.md"),
                                  str(work)]), env=env, capture_output=True, text=True, timeout=600)
    execute = time.perf_counter() - start
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    size = sum(p.stat().st_size for p in wheelhouse.glob("*.whl")) / 1e6
    venv_size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file()) / 1e6
    print(f"wheelhouse {size:.0f} MB ({len(list(wheelhouse.glob('*.whl')))} wheels); offline install {install:.0f} s "
          f"(venv {venv_size:.0f} MB); notebook 00 from its .md source: {execute:.0f} s; {run.stdout.strip()}")
