"""Collect wheels of every pinned requirement (and their dependencies) and of vae-helpers into wheelhouse/.

Usage: python tools/build_wheelhouse.py [--out wheelhouse]      (`make wheelhouse`)

Then, on a machine with no network (same OS, CPU architecture and Python minor version):
    tools/install_offline.sh            # or by hand:
    python3 -m venv .venv
    .venv/bin/pip install --no-index --find-links wheelhouse torch==2.13.0
    .venv/bin/pip install --no-index --find-links wheelhouse -r requirements.txt
    .venv/bin/pip install --no-index --find-links wheelhouse --no-deps vae-helpers
    .venv/bin/python -m ipykernel install --sys-prefix --name python3

torch comes first and alone, as in the Makefile: `pip download torch==2.13.0` takes the CPU build
(torch-2.13.0+cpu) where pip finds it (this machine's local wheel folder, or PyTorch's CPU index
given with --torch-index); a CUDA build (one that requires nvidia-* packages) is refused. Every
other requirement is built or downloaded with `pip wheel` (sdists become wheels), so the install
needs no compiler and no index.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def torch_pin() -> str:
    pins = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("torch==")]
    if len(pins) != 1:
        raise SystemExit("requirements.txt must pin torch exactly once (torch==X.Y.Z)")
    return pins[0]


def check_cpu_torch(folder: Path) -> Path:
    """The torch wheel in folder, refused when it is a CUDA build (it requires nvidia-* packages)."""
    wheels = sorted(folder.glob("torch-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one torch wheel in {folder}, found {[w.name for w in wheels]}")
    with zipfile.ZipFile(wheels[0]) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    cuda = [line for line in meta.splitlines() if line.startswith("Requires-Dist:") and "nvidia-" in line]
    if cuda:
        wheels[0].unlink()
        raise SystemExit(f"{wheels[0].name} is a CUDA build ({cuda[0]}); pass --torch-index "
                         "https://download.pytorch.org/whl/cpu or put the CPU wheel in a --find-links folder")
    return wheels[0]


def build(out: Path, torch_index: str | None) -> None:
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("torch-*.whl"):
        old.unlink()
    extra = ["--index-url", torch_index] if torch_index else []
    pip("download", "--no-deps", "--only-binary=:all:", "-d", str(out), *extra, torch_pin())
    torch = check_cpu_torch(out)
    pip("wheel", "--wheel-dir", str(out), "--find-links", str(out), "-r", "requirements.txt")
    check_cpu_torch(out)  # pip wheel must have kept the same torch (no second, CUDA, one)
    for old in out.glob("vae_helpers-*.whl"):
        old.unlink()
    pip("wheel", "--no-deps", "--wheel-dir", str(out), ".")
    shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch folder
    shutil.copy2(ROOT / "requirements.txt", out / "requirements.txt")
    (out / "README.txt").write_text(__doc__.split("Then, ", 1)[1].split("torch comes", 1)[0].strip() + "\n")
    wheels = sorted(out.glob("*.whl"))
    size = sum(w.stat().st_size for w in wheels)
    not_wheels = [p.name for p in out.iterdir() if p.suffix not in (".whl", ".txt")]
    if not_wheels:
        raise SystemExit(f"not wheels: {not_wheels}")
    print(f"wheelhouse: {len(wheels)} wheels, {size / 1e6:.0f} MB ({torch.name}: {torch.stat().st_size / 1e6:.0f} MB) "
          f"in {out}, built in {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "wheelhouse")
    parser.add_argument("--torch-index", help="index to take torch from (e.g. PyTorch's CPU index); default: pip's own")
    args = parser.parse_args(argv)
    build(args.out.resolve(), args.torch_index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
