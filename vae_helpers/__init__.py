"""vae_helpers: the small package behind the "Autoencoders to VAEs" notebook series.

Import it as `import vae_helpers as vh`. Importing has no side effects: no seeding,
no downloads, no matplotlib settings.
"""
from .checkpoints import (CheckpointError, load_checkpoint, load_model, save_model,
                          train_or_load)
from .checks import ImageInputError, as_images
from .data import DATASETS, Dataset, DatasetError, binarize, epochs_for, load_dataset
from . import claims, estimators, evidence, exercises, judge, likelihoods, metrics, plotting, posterior, threads
from .display import alt, describe_figure, notebook_setup
from .gan import GAN
from .judge import RealismJudge, realism_judge
from .latent import code_box, decode_path, interpolate, manifold_grid, plot_manifold, plot_traversal, traversal
from .losses import LossParts, kl_divergence, loss_per_image, model_loss, negative_elbo, reconstruction_loss
from .likelihoods import LIKELIHOODS, Likelihood, make_likelihood
from .models import (VAE, Autoencoder, ConditionalVAE, LabelRegressor, build_model, embed, reconstruct,
                     reparameterize)
from .plotting import (draw_gaussians, plot_codes_on_a_line, plot_encode_decode, plot_history, plot_latent,
                       plot_reconstructions, show_images)
from .threads import set_threads
from .training import History, default_device, evaluate, fit, set_seed
from .widgets import LatentExplorer, latent_explorer

__version__ = "0.1.0"
