"""A class on a JupyterHub, simulated: N learners log in through the proxy and run one notebook at the same time.

Usage: python tools/hub_test.py [--learners 8] [--notebook 02] [--phases shared,own,alone] [--keep]

What it does, with nothing but this repository (hub/jupyterhub_config.py) and 127.0.0.1:
1. The teacher fills a shared model cache once: the notebook runs with VAE_HELPERS_CACHE_DIR set to it
   (what `make class-cache` does for the whole series).
   It is then made read-only. The course learners pull is a bare clone of this checkout's committed HEAD.
2. For each phase, a JupyterHub starts (its configurable-http-proxy from node_modules, the local spawner, the
   shared-password authenticator). "shared": learners' kernels see the shared cache beneath their own (a
   learner who trains anyway counts as failed); "own": they do not, so every learner trains; "alone": one
   learner with the shared cache, the baseline for what sharing the machine costs.
3. Every learner, in its own thread: logs in through the proxy (the login form, as a browser would), asks the
   hub for an API token, starts its server, pulls the course with nbgitpuller (a `git-pull` link onto this
   repository's committed state), opens a session on the notebook and runs its code cells one by one over the
   kernel's websocket. Then the kernel reports its peak memory (ru_maxrss) and the server is stopped.
4. The hub stops; every process it started is looked for (by the hub's folder in its command line or
   environment), and any still there after a 20 s grace is reported (the run fails) and killed. SIGTERM to
   this script stops the hub the same way.
Ends with: `hub: N learners, N finished, slowest S s, peak memory per kernel M MB` (the shared phase).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat
import requests
import websocket

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PASSWORD = "class-of-" + uuid.uuid4().hex[:8]
CELL_TIMEOUT = 900   # seconds for one cell (a whole class training at once on 2 cores is slow, not stuck)
PID = "import os; print('kernel_pid', os.getpid())"
LAST_ERROR = "import os, sys; print('kernel_pid', os.getpid()); print(repr(getattr(sys, 'last_value', None)))"
PEAK = ("import resource, torch; print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
        "print('torch_threads', torch.get_num_threads())")


@dataclass
class Learner:
    """One simulated learner: timings in seconds, the kernel's peak memory in MB, and what failed."""

    name: str
    login: float = 0.0      # log in, token, server started
    pull: float = 0.0       # nbgitpuller
    run: float = 0.0        # the notebook's code cells, through the kernel
    peak_mb: float = 0.0
    threads: int = 0        # torch's thread count when the notebook ended (the thread policy's last choice)
    reconnects: int = 0     # websocket drops survived (JupyterLab reconnects the same way)
    trained: int = 0        # models the learner had to train (files in their own cache afterwards)
    kernel: str = ""        # the kernel's id, to find its server's log lines when something fails
    error: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fill_shared_cache(notebook: Path, cache: Path) -> float:
    """The teacher's step, with the teacher's command (`make class-cache`, one notebook): seconds taken."""
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "tools" / "execute_notebooks.py"), "--cache", str(cache),
                    str(notebook.with_suffix(".md"))], check=True, cwd=ROOT)
    return time.perf_counter() - start


class Hub:
    """A JupyterHub process (and what it starts) on free loopback ports, stopped by its process id."""

    def __init__(self, folder: Path, shared_cache: Path | None):
        self.folder, self.port = folder, free_port()
        folder.mkdir(parents=True)
        env = {**os.environ, "HUB_ROOT": str(folder), "HUB_PORT": str(self.port), "HUB_PASSWORD": PASSWORD, "HUB_ALLOW_ROOT": "1",
               "HUB_API_PORT": str(free_port()), "HUB_PROXY_API_PORT": str(free_port()),
               "VAE_HELPERS_SHARED_CACHE": str(shared_cache or ""), "PATH": f"{VENV_BIN}{os.pathsep}"
               + os.environ.get("PATH", "")}
        env.pop("VAE_HELPERS_CACHE_DIR", None)
        self.log = open(folder / "hub.log", "w")
        self.proc = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(ROOT / "hub" / "jupyterhub_config.py")],
                                     cwd=folder, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.proc.returncode}); see {self.folder / 'hub.log'}:\n"
                                   + (self.folder / "hub.log").read_text()[-2000:])
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyterhub did not answer on {self.url} within {timeout} s")

    def stop(self, grace: float = 20) -> list[str]:
        """SIGINT the hub (it stops the servers and the proxy); kill whatever is left after `grace` s; the survivors."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        deadline = time.monotonic() + grace    # kernels and servers may still be shutting down
        while processes_mentioning(str(self.folder)) and time.monotonic() < deadline:
            time.sleep(0.5)
        survivors = []
        for pid, cmd in processes_mentioning(str(self.folder)):
            survivors.append(f"{pid} {cmd[:80]}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return survivors


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """(pid, command line) of every process whose command line or environment contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in cmd or text in env:
            found.append((int(entry.name), cmd))
    return found


def login(hub: Hub, name: str) -> tuple[requests.Session, str]:
    """Log in through the proxy's login form; return the browser-like session and a new API token."""
    s = requests.Session()
    s.get(f"{hub.url}/hub/login", timeout=30).raise_for_status()
    xsrf = next((c.value for c in s.cookies if c.name == "_xsrf"), None)
    r = s.post(f"{hub.url}/hub/login?next=", data={"username": name, "password": PASSWORD, "_xsrf": xsrf},
               allow_redirects=False, timeout=30)
    if r.status_code != 302:
        raise RuntimeError(f"login failed with HTTP {r.status_code}")
    xsrf = next((c.value for c in s.cookies if c.name == "_xsrf"), None)   # a new one, bound to the login
    r = s.post(f"{hub.url}/hub/api/users/{name}/tokens", json={"note": "load test", "expires_in": 3600},
               headers={"X-XSRFToken": xsrf}, timeout=30)
    r.raise_for_status()
    return s, r.json()["token"]


def start_server(hub: Hub, name: str, token: str, timeout: float = 180) -> None:
    """Ask the hub for the learner's server and wait until it is ready."""
    head = {"Authorization": f"token {token}"}
    r = requests.post(f"{hub.url}/hub/api/users/{name}/server", headers=head, timeout=30)
    if r.status_code not in (201, 202, 400):   # 400: already running
        raise RuntimeError(f"starting the server: HTTP {r.status_code} {r.text[:200]}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        user = requests.get(f"{hub.url}/hub/api/users/{name}", headers=head, timeout=30).json()
        server = user.get("servers", {}).get("", {})
        if server.get("ready"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the server of {name} was not ready within {timeout} s")


def course_repository(folder: Path) -> Path:
    """A bare repository whose branch `course` is this checkout's committed HEAD (detached or not): what learners pull."""
    origin = folder / "course.git"
    git = lambda *a, cwd=ROOT: subprocess.run(["git", *a], cwd=cwd, check=True, capture_output=True, text=True)  # noqa: E731
    head = git("rev-parse", "HEAD").stdout.strip()
    git("clone", "--quiet", "--bare", "--shared", str(ROOT), str(origin))
    git("update-ref", "refs/heads/course", head, cwd=origin)
    return origin


def pull_course(hub: Hub, name: str, token: str, origin: Path) -> None:
    """nbgitpuller, as the README's link does it: clone the course into the learner's home."""
    url = (f"{hub.url}/user/{name}/git-pull/api?repo={quote(origin.as_uri(), safe='')}&branch=course"
           f"&targetpath=vae-course&depth=1")
    with requests.get(url, headers={"Authorization": f"token {token}"}, stream=True, timeout=300) as r:
        r.raise_for_status()
        events = [json.loads(line[6:]) for line in r.iter_lines(decode_unicode=True) if line.startswith("data: ")]
    if not events or events[-1].get("phase") != "finished":
        raise RuntimeError(f"nbgitpuller: {events[-1] if events else 'no answer'}")


def run_notebook(hub: Hub, learner: Learner, token: str, path: str) -> float:
    """Open a session on `path` (relative to the learner's home), run its code cells; the kernel's peak MB.

    A dropped websocket is reopened, as JupyterLab does; the cell that was running is then judged by the
    kernel's own record of the last exception (sys.last_value), and the reconnection is counted.
    """
    head = {"Authorization": f"token {token}"}
    base = f"{hub.url}/user/{learner.name}/api"
    r = requests.post(f"{base}/sessions", headers=head, timeout=60,
                      json={"path": path, "type": "notebook", "name": Path(path).name, "kernel": {"name": "python3"}})
    r.raise_for_status()
    learner.kernel = r.json()["kernel"]["id"]
    url = f"ws://127.0.0.1:{hub.port}/user/{learner.name}/api/kernels/{learner.kernel}/channels"
    connect = lambda: websocket.create_connection(  # noqa: E731
        url, header=[f"Authorization: token {token}"], timeout=CELL_TIMEOUT)
    ws, session = connect(), uuid.uuid4().hex
    try:
        cells = [c.source for c in nbformat.read(Path(hub.folder / "home" / learner.name / path), 4).cells
                 if c.cell_type == "code"]
        for attempt in range(4):   # a kernel starting on a crowded server can drop its first websocket
            try:
                pid = execute(ws, session, PID, "start")
                break
            except websocket.WebSocketException as err:
                if attempt == 3:
                    raise RuntimeError(f"start: {type(err).__name__}: {err} (after 3 reconnections)") from err
                learner.reconnects += 1
                ws.close()
                ws = connect()     # nothing has run yet: asking again for the pid is safe
        out = ""
        for i, source in enumerate([*cells, PEAK]):
            where = f"cell {i + 1} of {len(cells)}"
            try:
                out = execute(ws, session, source, where)
            except websocket.WebSocketException as err:
                if learner.reconnects >= 3:
                    raise RuntimeError(f"{where}: {type(err).__name__}: {err} (after 3 reconnections)") from err
                learner.reconnects += 1
                ws.close()
                ws = connect()      # the kernel runs on: wait for the cell, then ask whether it raised
                last = execute(ws, session, LAST_ERROR, where).splitlines()
                if last[0] != pid.strip():
                    raise RuntimeError(f"{where}: the kernel died or restarted (websocket reconnected)") from err
                if last[-1].strip() != "None":
                    raise RuntimeError(f"{where} (websocket reconnected): {last[-1].strip()}") from err
        learner.threads = int(re.search(r"torch_threads (\d+)", out).group(1))
        return int(re.search(r"peak_rss_kb (\d+)", out).group(1)) / 1024
    finally:
        ws.close()
        requests.delete(f"{base}/sessions/{r.json()['id']}", headers=head, timeout=60)


def execute(ws, session: str, code: str, where: str) -> str:
    """Send one execute_request; wait for its reply and idle; return its stdout (raise on an error)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                                   "username": "learner", "version": "5.3", "date": ""},
                        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                        "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                                    "allow_stdin": False, "stop_on_error": True}}))
    stdout, reply, idle = [], None, False
    while reply is None or not idle:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream" and msg["content"]["name"] == "stdout":
            stdout.append(msg["content"]["text"])
        elif kind == "execute_reply":
            reply = msg["content"]
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            idle = True
    if reply["status"] != "ok":
        raise RuntimeError(f"{where}: {reply.get('ename')}: {str(reply.get('evalue'))[:200]}")
    return "".join(stdout)


def learner_run(hub: Hub, learner: Learner, notebook_path: str, start_gate: threading.Barrier, origin: Path,
                shared: bool) -> None:
    """Everything one learner does; failures are recorded, never raised."""
    try:
        t = time.perf_counter()
        _, token = login(hub, learner.name)
        start_server(hub, learner.name, token)
        learner.login = time.perf_counter() - t
        t = time.perf_counter()
        pull_course(hub, learner.name, token, origin)
        learner.pull = time.perf_counter() - t
        start_gate.wait(timeout=600)   # the class starts the notebook together
        t = time.perf_counter()
        learner.peak_mb = run_notebook(hub, learner, token, notebook_path)
        learner.run = time.perf_counter() - t
        learner.trained = len(list((hub.folder / "home" / learner.name / ".cache" / "vae_helpers").glob("*.pt")))
        if shared and learner.trained:
            raise RuntimeError(f"trained {learner.trained} model(s) that the shared cache should have served")
        requests.delete(f"{hub.url}/hub/api/users/{learner.name}/server",
                        headers={"Authorization": f"token {token}"}, timeout=60)
    except Exception as err:  # noqa: BLE001 - a failed learner is a measurement, reported below
        learner.error = f"{type(err).__name__}: {str(err)[:300]}" + server_log_about(hub, learner)
        start_gate.abort()


def server_log_about(hub: Hub, learner: Learner, lines: int = 8) -> str:
    """The last server-log lines about the learner's kernel (or any kernel dying), to say why it failed."""
    hub.log.flush()
    text = (hub.folder / "hub.log").read_text(errors="replace").splitlines()
    marks = ("Address already in use", "restart", "died", "does not exist", "ping timeout")
    found = [line for line in text if (learner.kernel and learner.kernel in line) or any(m in line for m in marks)]
    return "".join(f"\n    server log: {line[:200]}" for line in found[-lines:])


def phase(folder: Path, n: int, notebook: Path, shared: Path | None, origin: Path
          ) -> tuple[list[Learner], list[str], float]:
    """Start a hub, run `n` learners at once, stop it; (learners, surviving processes, wall seconds)."""
    hub = Hub(folder, shared)
    start = time.perf_counter()
    try:
        learners = [Learner(f"learner{i + 1}") for i in range(n)]
        gate = threading.Barrier(n)
        path = f"vae-course/notebooks/{notebook.name}"
        threads = [threading.Thread(target=learner_run, args=(hub, lr, path, gate, origin, shared is not None),
                                    daemon=True) for lr in learners]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        wall = time.perf_counter() - start
        survivors = hub.stop()
    return learners, survivors, wall


def report(label: str, learners: list[Learner], survivors: list[str], wall: float) -> list[str]:
    ok = [lr for lr in learners if not lr.error]
    runs = [lr.run for lr in ok]
    lines = [f"{label}: {len(ok)} of {len(learners)} finished in {wall:.0f} s wall"]
    if ok:
        lines.append(f"  notebook run per learner: median {statistics.median(runs):.1f} s, slowest {max(runs):.1f} s; "
                     f"log in + server start median {statistics.median(lr.login for lr in ok):.1f} s; "
                     f"nbgitpuller median {statistics.median(lr.pull for lr in ok):.1f} s; "
                     f"peak kernel memory median {statistics.median(lr.peak_mb for lr in ok):.0f} MB, "
                     f"largest {max(lr.peak_mb for lr in ok):.0f} MB; models each learner trained: "
                     f"{', '.join(str(lr.trained) for lr in ok)}; torch threads at the end: "
                     f"{', '.join(str(lr.threads) for lr in ok)}; websocket reconnections: "
                     f"{sum(lr.reconnects for lr in learners)}")
    lines += [f"  FAILED {lr.name}: {lr.error}" for lr in learners if lr.error]
    lines += [f"  process left running (killed): {s}" for s in survivors]
    return lines


PHASES = {"shared": "shared (the teacher filled it)", "own": "each learner's own only",
          "alone": "shared, one learner alone"}


def sizing_table(results: dict, notebook: str) -> str:
    """The README's sizing table (Markdown), from this run."""
    rows = ["| model cache | learners finished | notebook run per learner, s (median / slowest) | log in + server "
            "start, s (median) | peak memory per kernel, MB (median / largest) | models trained per learner |",
            "|---|---|---|---|---|---|"]
    for name, (learners, _, _) in results.items():
        ok = [lr for lr in learners if not lr.error]
        label = PHASES[name]
        if not ok:
            rows.append(f"| {label} | 0 of {len(learners)} | - | - | - | - |")
            continue
        rows.append(f"| {label} | {len(ok)} of {len(learners)} | "
                    f"{statistics.median(lr.run for lr in ok):.0f} / {max(lr.run for lr in ok):.0f} | "
                    f"{statistics.median(lr.login for lr in ok):.0f} | {statistics.median(lr.peak_mb for lr in ok):.0f}"
                    f" / {max(lr.peak_mb for lr in ok):.0f} | {statistics.median(lr.trained for lr in ok):.0f} |")
    return f"\nSizing (learners running {notebook} at once):\n" + "\n".join(rows)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=8)
    parser.add_argument("--notebook", default="02", help="number of the notebook every learner runs")
    parser.add_argument("--phases", default="shared,own,alone",
                        help="shared: N learners with the teacher's cache; own: N without it; alone: 1 learner with it")
    parser.add_argument("--keep", action="store_true", help="keep the hub's folder (logs, homes) afterwards")
    parser.add_argument("--shared-cache", type=Path, help="an already filled shared cache (skips the teacher's step)")
    args = parser.parse_args(argv)
    notebook = next((ROOT / "notebooks").glob(f"{args.notebook}_*.ipynb"))
    sys.path.insert(0, str(ROOT / "tools"))
    import vendor
    vendor.ensure_node_modules()   # configurable-http-proxy, as package-lock.json pins it
    folder = Path(tempfile.mkdtemp(prefix="vh_hub_"))
    results, failed = {}, False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # a killed run still stops its hub (finally blocks)
    try:
        origin = course_repository(folder)
        shared = (args.shared_cache or folder / "shared-cache").resolve()
        if not args.shared_cache and {"shared", "alone"} & set(args.phases.split(",")):
            print(f"teacher: filling the shared model cache with {notebook.name} ...", flush=True)
            print(f"  {fill_shared_cache(notebook, shared):.1f} s", flush=True)
            subprocess.run(["chmod", "-R", "a-w", str(shared)], check=True)   # read-only, as make class-cache leaves it
        for name in args.phases.split(","):
            n = 1 if name == "alone" else args.learners
            print(f"phase {name!r}: {n} learner(s) log in and run {notebook.name} at once ...", flush=True)
            results[name] = phase(folder / f"hub-{name}", n, notebook, None if name == "own" else shared, origin)
            lines = report(PHASES[name], *results[name])
            print("\n".join(lines), flush=True)
            failed |= any(lr.error for lr in results[name][0]) or bool(results[name][1])
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(folder)], check=False)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"hub folder kept: {folder}")
    print(sizing_table(results, notebook.name))
    key = "shared" if "shared" in results else next(iter(results))
    learners = results[key][0]
    ok = [lr for lr in learners if not lr.error]
    print(f"hub: {len(learners)} learners, {len(ok)} finished, slowest {max((lr.run for lr in ok), default=0):.0f} s, "
          f"peak memory per kernel {max((lr.peak_mb for lr in ok), default=0):.0f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
