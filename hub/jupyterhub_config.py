"""JupyterHub for a class on one server: the series' environment, a shared read-only model cache, local spawner.

Started by `make hub` (try it) and `make hub-test` (the load test), which set the environment variables below;
on a real server set them yourself (see the README, "Teaching a class on JupyterHub"). Everything listens on
127.0.0.1 unless HUB_IP says otherwise: put TLS (a reverse proxy) in front before opening it to a network.

HUB_ROOT           folder for the hub's state (database, cookie secret) and, by default, the learners' homes
HUB_PORT           the public port of the proxy (default 8000)
HUB_PASSWORD       the one class password of the shared-password authenticator (8 characters at least; the hub
                   refuses to start without it). Anyone with it can log in under any name: a graded class uses
                   its university's login instead (an OAuthenticator or LTI authenticator, same config otherwise)
HUB_ALLOW_ROOT=1   let learners' servers run as root (only in a throw-away container or the load test)

The local spawner used here runs every learner as the hub's own user, with no isolation between learners:
it is for trying the hub and for the load test. On a shared server, use jupyterhub's LocalProcessSpawner
(one system user per learner) or Kubernetes (hub/values.yaml).
VAE_HELPERS_SHARED_CACHE  the read-only model cache the teacher filled (`make class-cache`), passed to every
                   learner's kernel; each learner also has a writable cache in their home, layered on top
"""
import hashlib
import os
import sys
import tempfile
from pathlib import Path

c = get_config()  # noqa: F821 - provided by JupyterHub when it loads this file

ROOT = Path(os.environ.get("HUB_ROOT", "/srv/vae-hub")).resolve()
REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent   # the hub runs in the series' own environment, so do the learners

# Where to listen: the proxy on HUB_IP:HUB_PORT, the hub and its API on loopback only.
c.JupyterHub.ip = os.environ.get("HUB_IP", "127.0.0.1")
c.JupyterHub.port = int(os.environ.get("HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('HUB_PROXY_API_PORT', '8001'))}"
c.ConfigurableHTTPProxy.command = [str(REPO / "node_modules" / ".bin" / "configurable-http-proxy")]
c.JupyterHub.db_url = f"sqlite:///{ROOT / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(ROOT / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(ROOT / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True       # stopping the hub stops every learner's server
c.JupyterHub.cleanup_proxy = True

# Who may log in: any user name with the one class password.
if len(os.environ.get("HUB_PASSWORD", "")) < 8:
    raise SystemExit("Set HUB_PASSWORD to the class password (8 characters at least): without it anyone could log in.")
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = os.environ["HUB_PASSWORD"]
c.Authenticator.allow_all = True

# One single-user Jupyter server per learner, as a local process with its own home folder.
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(ROOT / "home" / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    # each learner's own writable cache, in their home; the class's shared one read-only beneath it
    "VAE_HELPERS_CACHE_DIR": lambda spawner: str(ROOT / "home" / spawner.user.name / ".cache" / "vae_helpers"),
    "VAE_HELPERS_SHARED_CACHE": os.environ.get("VAE_HELPERS_SHARED_CACHE", ""),
    "MPLCONFIGDIR": lambda spawner: str(ROOT / "home" / spawner.user.name / ".config" / "matplotlib"),
    "JUPYTER_RUNTIME_DIR": lambda spawner: kernel_runtime_dir(spawner.user.name),
}
# Kernels talk to their server over unix sockets (ipc), not TCP ports. With TCP, each server picks 5 free
# ports per kernel and the kernel binds them a second or two later; when a class starts its kernels together,
# another process can take one of them in between, the kernel dies with "Address already in use", and
# jupyter_client's restarts reuse the same ports: the kernel is declared dead and the learner's notebook shows
# "Kernel does not exist" (2 failed CI load tests, 2026-12; reproduced by holding a kernel's port on purpose:
# 5 restarts on the same port, then 404). A unix socket's path must stay under 108 bytes, so the socket files
# live in a short folder per learner rather than in their home. With LocalProcessSpawner (one system user per
# learner) delete the JUPYTER_RUNTIME_DIR line above: a learner cannot write in the hub's folder, and the
# default, ~/.local/share/jupyter/runtime, is short enough in /home/<user> (user names up to 22 characters).
IPC_NAME_BYTES = len("/kernel-00000000-0000-0000-0000-000000000000-ipc-5")
RUN_BASE = ROOT / "run" if len(str(ROOT)) <= 40 else \
    Path(tempfile.gettempdir()) / f"vae-hub-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]}"


def kernel_runtime_dir(name: str) -> str:
    """A learner's Jupyter runtime folder (connection files, kernel sockets), short enough for unix sockets."""
    folder = RUN_BASE / (name if len(name) <= 16 else hashlib.sha256(name.encode()).hexdigest()[:16])
    if len(str(folder)) + IPC_NAME_BYTES >= 108:
        raise RuntimeError(f"{folder} is too long for a kernel's unix sockets (108 bytes with the file name): "
                           "set TMPDIR or HUB_ROOT to a shorter folder")
    return str(folder)


# Idle kernels hold memory: the server culls them after 20 minutes idle (even with a tab still open), and
# itself after an hour without kernels. The local spawner enforces no memory or CPU limit.
c.Spawner.args = ["--MappingKernelManager.cull_idle_timeout=1200", "--MappingKernelManager.cull_connected=True",
                  "--ServerApp.shutdown_no_activity_timeout=3600", "--KernelManager.transport=ipc"]
if os.geteuid() == 0:
    # Every learner would get a root terminal: refuse, unless this is a throw-away container or the load test.
    if os.environ.get("HUB_ALLOW_ROOT") != "1":
        raise SystemExit("Refusing to run learners' servers as root: start the hub as an ordinary user "
                         "(or set HUB_ALLOW_ROOT=1 in a throw-away container).")
    c.Spawner.args.append("--allow-root")
