"""The class hub's configuration (hub/jupyterhub_config.py), loaded as JupyterHub loads it; the load test runs in CI."""
import os
import runpy
import sys
import types
from pathlib import Path

import pytest

pytest.importorskip("jupyterhub")
from traitlets.config import Config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def load(monkeypatch, tmp_path, **env) -> Config:
    for key, value in {"HUB_ROOT": str(tmp_path), "HUB_PORT": "8123", "HUB_PASSWORD": "a-class-password",
                       "HUB_ALLOW_ROOT": "1", **env}.items():
        monkeypatch.setenv(key, value)
    config = Config()
    runpy.run_path(str(ROOT / "hub" / "jupyterhub_config.py"), init_globals={"get_config": lambda: config})
    return config


def test_everything_listens_on_loopback_and_learners_get_their_own_home(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, VAE_HELPERS_SHARED_CACHE="/srv/vae-models")
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.hub_ip == "127.0.0.1" and c.JupyterHub.port == 8123
    assert "127.0.0.1" in c.ConfigurableHTTPProxy.api_url
    assert Path(c.ConfigurableHTTPProxy.command[0]).name == "configurable-http-proxy"
    assert c.SimpleLocalProcessSpawner.home_dir_template == str(tmp_path / "home" / "{username}")
    assert Path(c.Spawner.cmd[0]).parent == Path(sys.executable).parent   # the series' own environment


def test_no_password_or_learners_as_root_refuse_to_start(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="HUB_PASSWORD"):
        load(monkeypatch, tmp_path, HUB_PASSWORD="short")
    c = load(monkeypatch, tmp_path)
    assert c.JupyterHub.authenticator_class == "shared-password"
    assert c.SharedPasswordAuthenticator.user_password == "a-class-password"
    monkeypatch.delenv("HUB_ALLOW_ROOT")
    if os.geteuid() == 0:
        with pytest.raises(SystemExit, match="as root"):
            load(monkeypatch, tmp_path, HUB_ALLOW_ROOT="0")
    else:
        assert "--allow-root" not in load(monkeypatch, tmp_path).Spawner.args


def test_each_kernel_has_its_own_cache_above_the_shared_one(monkeypatch, tmp_path):
    c = load(monkeypatch, tmp_path, VAE_HELPERS_SHARED_CACHE="/srv/vae-models")
    spawner = types.SimpleNamespace(user=types.SimpleNamespace(name="ada"))
    env = {k: v(spawner) if callable(v) else v for k, v in c.Spawner.environment.items()}
    assert env["VAE_HELPERS_CACHE_DIR"] == str(tmp_path / "home" / "ada" / ".cache" / "vae_helpers")
    assert env["VAE_HELPERS_SHARED_CACHE"] == "/srv/vae-models"


def test_kernels_use_unix_sockets_whose_paths_fit(monkeypatch, tmp_path):
    """TCP ports can be taken between the server's choice and the kernel's bind (a class starting together)."""
    assert "--KernelManager.transport=ipc" in load(monkeypatch, tmp_path).Spawner.args
    socket_name = "/kernel-00000000-0000-0000-0000-000000000000-ipc-5"
    for root in ("/srv/vae-hub", str(tmp_path / ("a-long-folder-name-" * 6))):   # a long one: the temp folder
        runtime = load(monkeypatch, tmp_path, HUB_ROOT=root).Spawner.environment["JUPYTER_RUNTIME_DIR"]
        for name in ("ada", "firstname.lastname-of-a-learner@university.example"):
            folder = runtime(types.SimpleNamespace(user=types.SimpleNamespace(name=name)))
            assert len(folder + socket_name) < 108
            assert folder.startswith("/srv/vae-hub/run/") == (root == "/srv/vae-hub")
            assert folder != runtime(types.SimpleNamespace(user=types.SimpleNamespace(name=name + "2")))


def test_the_sizing_table_reports_failures_and_medians():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import hub_test
    finally:
        sys.path.remove(str(ROOT / "tools"))
    learners = [hub_test.Learner("a", login=4, run=20, peak_mb=600, trained=0),
                hub_test.Learner("b", login=6, run=30, peak_mb=620, trained=0),
                hub_test.Learner("c", error="RuntimeError: cell 3 of 30: boom")]
    table = hub_test.sizing_table({"shared": (learners, [], 40.0), "own": (learners[2:], [], 9.0)}, "02_x.ipynb")
    assert "| shared (the teacher filled it) | 2 of 3 | 25 / 30 | 5 | 610 / 620 | 0 |" in table
    assert "| each learner's own only | 0 of 1 | - | - | - | - |" in table
    lines = hub_test.report("with the shared cache", learners, ["123 stray"], 40.0)
    assert lines[0].startswith("with the shared cache: 2 of 3 finished")
    assert any("FAILED c" in line for line in lines) and any("123 stray" in line for line in lines)


def test_a_failed_learner_is_reported_with_its_kernels_server_log(tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import hub_test
    finally:
        sys.path.remove(str(ROOT / "tools"))
    (tmp_path / "hub.log").write_text("[I] Kernel started: k-1\n[I] Kernel started: k-2\n[I] 200 GET /x\n"
                                      "zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:5')\n")
    with open(tmp_path / "hub.log", "a") as log:
        said = hub_test.server_log_about(types.SimpleNamespace(folder=tmp_path, log=log), hub_test.Learner("a", kernel="k-2"))
    assert said.splitlines()[1:] == ["    server log: [I] Kernel started: k-2",
                                     "    server log: zmq.error.ZMQError: Address already in use (addr='tcp://127.0.0.1:5')"]
