"""The front-end files the site and the slides bundle (MathJax, reveal.js), from the pinned npm packages.

package.json / package-lock.json pin exact versions; `npm ci` installs them into node_modules/ (run
here when node_modules/ is missing or older than the lock file). Nothing is ever loaded from a CDN:
the builders copy the few files a page needs next to it, so the pages open from file:// offline.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
LOCK = ROOT / "package-lock.json"
# MathJax 3, SVG output: glyphs are drawn as SVG paths, so no web font is fetched (a font from
# file:// is a cross-origin request that browsers may refuse); "full" holds every TeX extension,
# so nothing is loaded on demand either.
MATHJAX_FILE = "tex-svg-full.js"


def ensure_node_modules() -> Path:
    """node_modules/ as package-lock.json pins it (`npm ci` when missing or stale)."""
    stamp = NODE_MODULES / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < LOCK.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm not found: install Node.js and npm (`apt-get install nodejs npm`), then rerun; "
                             "the site and slides bundle MathJax and reveal.js, and the class hub runs "
                             "configurable-http-proxy, from the npm registry")
        print("npm ci (MathJax, reveal.js, configurable-http-proxy: pinned in package-lock.json)", flush=True)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=ROOT, check=True)
        stamp.touch()
    return NODE_MODULES


def version(package: str) -> str:
    return json.loads((ensure_node_modules() / package / "package.json").read_text())["version"]


def copy_mathjax(dest: Path) -> Path:
    """Copy MathJax's single SVG-output bundle (and its licence) into dest/; returns the script's path."""
    src = ensure_node_modules() / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "es5" / MATHJAX_FILE, dest / MATHJAX_FILE)
    shutil.copy2(src / "LICENSE", dest / "LICENSE")
    return dest / MATHJAX_FILE


def copy_reveal(dest: Path) -> Path:
    """Copy reveal.js's dist/ (script, style sheets, themes and their fonts), the notes plugin and the licence."""
    src = ensure_node_modules() / "reveal.js"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src / "dist", dest / "dist", ignore=shutil.ignore_patterns("*.map", "*.esm.js"))
    shutil.copytree(src / "plugin" / "notes", dest / "plugin" / "notes", ignore=shutil.ignore_patterns("*.esm.js"))
    shutil.copy2(src / "LICENSE", dest / "LICENSE")
    return dest


def mathjax_config(extra_ignore: str = "") -> str:
    """The inline MathJax 3 configuration every page uses ($...$ and $$...$$ as in Jupyter)."""
    ignore = "tex2jax_ignore|vh-explorer" + (f"|{extra_ignore}" if extra_ignore else "")
    return ("window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
            "displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']], processEscapes: true, processEnvironments: true, "
            "tags: 'ams'}, svg: {fontCache: 'global'}, "
            f"options: {{ignoreHtmlClass: '{ignore}', processHtmlClass: 'tex2jax_process'}}}};")
