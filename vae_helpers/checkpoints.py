"""Saving and loading trained models, and a train-or-load cache keyed by the full configuration."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import torch

from .models import build_model, reset_layers
from .training import History, fit, set_seed

FORMAT = "vae_helpers/1"
CACHE_ENV_VAR = "VAE_HELPERS_CACHE_DIR"
SHARED_ENV_VAR = "VAE_HELPERS_SHARED_CACHE"   # read-only caches filled by a teacher (os.pathsep-separated)
# Bumped whenever `fit`'s defaults change what a given call trains (optimizer, schedule, precision),
# so a cache never returns a model trained by an older recipe.
RECIPE = "adam-fused/lr-decay-0.6/bf16-auto/2"


class CheckpointError(RuntimeError):
    """A checkpoint file could not be used; the message says why."""


def save_model(model: torch.nn.Module, path: str | os.PathLike, *, history: History | None = None,
               meta: dict | None = None) -> Path:
    """Write the model (weights, config, optional history) atomically: never a half-written file."""
    return atomic_save({
        "config": model.config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": history.to_dict() if history is not None else None,
        "meta": meta or {},
    }, path)


def atomic_save(payload: dict, path: str | os.PathLike) -> Path:
    """torch.save `payload` (tagged with the format) via a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, **payload}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)  # atomic on one filesystem: readers see the old file or the new one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and validate a checkpoint written by `save_model` (safe: weights_only=True)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint at {path}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(err).__name__}); "
                              "it may be truncated or not written by vae_helpers.save_model.") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by vae_helpers.save_model (format {FORMAT}).")
    return payload


def load_model(path: str | os.PathLike, model: torch.nn.Module | None = None) -> torch.nn.Module:
    """Load weights into `model` (its config must match the file's) or into a newly built one."""
    payload = load_checkpoint(path)
    if model is None:
        model = build_model(payload["config"])
    elif model.config != payload["config"]:
        raise CheckpointError(f"{path} holds a {payload['config']}, which does not match the "
                              f"model given, a {model.config}. Build a matching model or pass model=None.")
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def model_cache_dir() -> Path:
    """Where train_or_load keeps models: $VAE_HELPERS_CACHE_DIR, else a per-user cache."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR])
    import pooch
    return Path(pooch.os_cache("vae_helpers")) / "models"


def shared_cache_dirs() -> list[Path]:
    """Read-only model caches to load from when the learner's own has no copy: $VAE_HELPERS_SHARED_CACHE."""
    return [Path(d) for d in os.environ.get(SHARED_ENV_VAR, "").split(os.pathsep) if d]


def _find_cached(name: str, folders: list[Path], module: torch.nn.Module) -> tuple[dict | None, Path]:
    """The first usable checkpoint `name` in `folders`, in order: (payload, its path), else (None, None)."""
    for folder in folders:
        try:
            payload = load_cached(folder / name, module)
        except OSError:       # a shared folder this learner may not enter: as if it had no copy
            continue
        if payload is not None and payload.get("history") is not None:
            return payload, folder / name
    return None, None


def _fingerprint(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def config_digest(config: dict, data, settings: dict, recipe: str = RECIPE) -> str:
    """12 hex digits unique to (architecture config, training data, settings, training recipe, torch version)."""
    settings = {k: _fingerprint(v) if isinstance(v, torch.Tensor) else v for k, v in settings.items()}
    desc = {"config": config, "data": getattr(data, "name", "tensor"),
            "train": _fingerprint(getattr(data, "train", data)), "torch": torch.__version__.split("+")[0],
            "recipe": recipe, **settings}
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:12]


def cache_key(model: torch.nn.Module, data, settings: dict) -> str:
    """A file name unique to (architecture, data, training settings, seed, torch version)."""
    recipe = getattr(model, "recipe", RECIPE)   # a model that trains by its own fit (the GAN) has its own recipe
    digest = config_digest(model.config, data, settings, recipe)
    return f"{model.config['class'].lower()}-z{model.latent_dim}-{digest}"


def load_cached(path: Path, module: torch.nn.Module) -> dict | None:
    """Load a cached checkpoint's weights into `module`; None (and a note) if absent or unusable."""
    if not path.is_file():
        return None
    try:
        payload = load_checkpoint(path)
        module.load_state_dict(payload["state_dict"])
        return payload
    except (CheckpointError, RuntimeError) as err:
        print(f"Ignoring an unusable cache file ({err}); training again.")
        return None


def reset_parameters(model: torch.nn.Module) -> None:
    """Re-draw the model's initial weights from the current torch RNG state: its own `reset_parameters` when it
    has one (the series' models do, so parameters defined on the model itself are reset too), else every layer's."""
    if hasattr(model, "reset_parameters"):
        model.reset_parameters()
    else:
        reset_layers(model)


def train_or_load(model: torch.nn.Module, data, *, epochs: int, seed: int = 0,
                  cache_dir: str | os.PathLike | None = None, retrain: bool = False,
                  **fit_kwargs) -> History:
    """Train `model` from a seeded start, or load the result of an identical earlier run.

    The cache key covers the architecture, the training data, `epochs`, `seed` and every
    `fit` keyword, so a changed setting trains afresh. A model with its own `fit` method trains with it. An interrupted or stopped run is not cached.
    Without `cache_dir`, a model missing from the learner's own cache is looked for in the read-only shared
    caches of $VAE_HELPERS_SHARED_CACHE (a class's, filled once by the teacher); what trains is saved to the
    learner's own cache, and a cache that cannot be written costs the saved copy, never the run.
    """
    settings = {"epochs": epochs, "seed": seed,
                **{k: v for k, v in fit_kwargs.items() if k not in ("progress", "device")}}
    name, own = f"{cache_key(model, data, settings)}.pt", Path(cache_dir or model_cache_dir())
    folders = [own] if cache_dir is not None else [own, *shared_cache_dirs()]
    payload, path = (None, None) if retrain else _find_cached(name, folders, model)
    if payload is not None:
        where = "cache" if path.parent == own else "the shared cache"
        print(f"Loaded {type(model).__name__} from {where} ({path.name}); retrain=True trains again.")
        return History(**payload["history"])
    set_seed(seed)
    reset_parameters(model)
    if hasattr(model, "fit"):          # a model that trains by its own rules (the GAN: a game, not a loss)
        history = model.fit(data, epochs=epochs, **fit_kwargs)
    else:
        history = fit(model, data, epochs=epochs, **fit_kwargs)
    if not (history.interrupted or history.stopped):
        try:
            save_model(model.cpu(), own / name, history=history, meta={"settings": settings})
        except (OSError, RuntimeError) as err:   # read-only or full (torch reports some write errors as RuntimeError)
            reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
            print(f"Could not save the model to the cache ({reason}); it is kept for this session "
                  f"only. Set {CACHE_ENV_VAR} to a writable folder to keep models between sessions.")
    return history
