"""The thread policy: usable cores minus the cores other processes keep busy, and its overrides."""
import os
import subprocess
import sys
import time

import pytest
import torch

import vae_helpers as vh
from vae_helpers import threads


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_setting", None)
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("others, cores, expected", [
    (0.0, 2, 2), (0.25, 2, 2), (0.35, 2, 1), (1.0, 2, 1), (1.9, 2, 1), (3.0, 2, 1), (0.1, 8, 8), (2.6, 8, 5)])
def test_one_thread_per_core_not_kept_busy(others, cores, expected):
    assert threads.chosen_threads(others, cores) == expected


def test_usable_cores_is_within_the_affinity_mask():
    assert 1 <= threads.usable_cores() <= len(os.sched_getaffinity(0))


def test_a_fixed_count_and_the_environment_override_the_policy(monkeypatch):
    assert vh.set_threads(1) == 1 and torch.get_num_threads() == 1
    monkeypatch.setattr(threads, "_setting", None)
    monkeypatch.setenv(threads.ENV_VAR, "1")
    assert threads.adapt() == 1
    monkeypatch.setenv(threads.ENV_VAR, "many")
    with pytest.raises(ValueError, match="VAE_HELPERS_THREADS must be a whole number"):
        threads.adapt()
    with pytest.raises(ValueError, match="set_threads takes a whole number"):
        vh.set_threads(0)


@pytest.mark.skipif(not os.path.exists("/proc/stat") or threads.usable_cores() < 2, reason="needs Linux, 2 cores")
def test_a_busy_competitor_takes_one_thread_and_its_end_gives_it_back():
    competitor = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        others = threads.busy_elsewhere(wait=0.5)
        assert others > 0.6                                # the busy loop holds (most of) a core
        assert vh.set_threads("auto") < threads.usable_cores()
    finally:
        competitor.kill()
        competitor.wait()
    assert threads.busy_elsewhere(wait=0.5) < others - 0.5   # its end is seen too
