"""How many CPU threads torch uses: all the free cores when the machine is quiet, fewer when it is not.

Why: torch's parallel regions end in a barrier, and its OpenMP threads spin while they wait. When another
process holds one of the cores, the thread that was descheduled there holds up every step: beside one busy
process on 2 cores, a training run on 2 threads took 2.2x as long as on 1 thread, and notebook 02 did not
finish within 240 s per cell (74 s on 1 thread). Alone, 2 threads were 1.3-1.5x faster than 1
(benchmarks/RESULTS.md, "Thread policy" and "Where a training step's time goes"). So the policy ("auto")
counts the cores this process may use (affinity mask, or a cgroup CPU quota when one is set), subtracts the
cores other processes kept busy, and gives torch the rest (at least 1). `fit` and `evaluate` ask before
every minibatch, and in a notebook `notebook_setup` makes IPython ask before every cell (a cell that only
loads and evaluates models would otherwise keep the count its setup cell chose). A look happens at most
every 0.25 s (in between, the call only reads the clock) and uses the CPU time the machine and this process
used since the last look, so a browser, a second kernel or a classmate's job that starts mid-training is
noticed. Under a CPU quota (a container on a hub) the
machine-wide counts describe other tenants, not this learner's share, so there the quota alone decides.

Override with `set_threads(n)` or the environment variable VAE_HELPERS_THREADS=n ("auto" restores the
policy). Linux only (it reads /proc/stat); elsewhere torch keeps its own default.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import torch

ENV_VAR = "VAE_HELPERS_THREADS"
BUSY_CORE = 0.3     # cores of others' load that count as one busy core: a competitor squeezed by our spinning
MIN_WINDOW = 0.25   # seconds: /proc/stat counts in 10 ms ticks, so much shorter windows are mostly rounding

_setting: int | str | None = None   # set_threads' value; None: the environment variable, else "auto"
_last: tuple[float, float, float] | None = None   # (wall s, machine busy core-s, own CPU s) at the last look
_next_look = 0.0    # perf_counter time before which adapt() keeps the current count without reading /proc


def set_threads(n: int | str = "auto") -> int:
    """Fix torch's thread count to `n` (>= 1), or "auto" for the load-aware policy; returns the count now used."""
    global _setting
    if n != "auto" and not (isinstance(n, int) and n >= 1):
        raise ValueError(f'set_threads takes a whole number of threads >= 1 or "auto", not {n!r}.')
    _setting = n
    return adapt(wait=0.2)


def cpu_quota() -> int | None:
    """Whole cores of this process's cgroup CPU quota (v2 cpu.max or v1 cfs), at least 1; None when unlimited."""
    for quota_file, period_file in (("cpu.max", None), ("cpu.cfs_quota_us", "cpu.cfs_period_us")):
        for folder in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/cpu")):
            try:
                fields = (folder / quota_file).read_text().split()
                quota = fields[0]
                period = fields[1] if period_file is None else (folder / period_file).read_text().strip()
                if quota in ("max", "-1"):
                    return None
                return max(1, int(quota) // int(period))   # 1.5 cores -> 1 thread: no barrier waits on a throttle
            except (OSError, ValueError, IndexError):
                continue
    return None


def usable_cores() -> int:
    """Cores this process may run on: its affinity mask, capped by a cgroup CPU quota (as on a JupyterHub)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cpu_quota()
    return min(cores, quota) if quota else cores


def _sample() -> tuple[float, float, float] | None:
    """(wall s, busy core-seconds of this process's cores since boot, this process's CPU s); None off Linux."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    mine = {f"cpu{i}" for i in (os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else ())}
    busy = 0
    for line in lines:
        name, *ticks = line.split()
        if name in mine:   # user nice system idle iowait irq softirq steal ...: all but idle and iowait
            values = [int(t) for t in ticks[:8]]
            busy += sum(values) - values[3] - values[4]
    times = os.times()
    return time.perf_counter(), busy / os.sysconf("SC_CLK_TCK"), times.user + times.system


def busy_elsewhere(wait: float = 0.0) -> float | None:
    """Cores kept busy by other processes since the last look (or over `wait` s); None if unknown or too soon."""
    global _last
    if _last is None or wait:
        _last = _sample()
        if _last is None:
            return None
        time.sleep(wait)
    now = _sample()
    if now is None or _last is None or now[0] - _last[0] < min(MIN_WINDOW, wait or MIN_WINDOW):
        return None
    (t0, busy0, own0), (t1, busy1, own1) = _last, now
    _last = now
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / (t1 - t0)


def restart_window() -> None:
    """Start a new look now (fit calls it first, so a long pause before training does not count)."""
    global _last
    _last = _sample()


def chosen_threads(others: float, cores: int) -> int:
    """The policy: one thread per usable core not kept busy by others (others >= BUSY_CORE counts as one)."""
    return max(1, cores - math.floor(others + 1 - BUSY_CORE))


def adapt(wait: float = 0.0) -> int:
    """Apply the policy now (after a `wait`-second look, or from the load since the last look); returns the count."""
    setting = _setting if _setting is not None else os.environ.get(ENV_VAR, "auto")
    if setting != "auto":
        try:
            n = int(setting)
        except ValueError:
            raise ValueError(f'{ENV_VAR} must be a whole number of threads or "auto", not {setting!r}.') from None
        if n < 1:
            raise ValueError(f"{ENV_VAR} must be at least 1, not {n}.")
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        return n
    global _next_look
    if not wait and time.perf_counter() < _next_look:   # looked moments ago: fit calls this often, keep it ~free
        return torch.get_num_threads()
    _next_look = time.perf_counter() + MIN_WINDOW
    if cpu_quota() is not None:     # a container's share: its quota's cores, whatever the host is doing
        n = usable_cores()
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        return n
    others = busy_elsewhere(wait)
    if others is not None:
        n = chosen_threads(others, usable_cores())
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
    return torch.get_num_threads()
