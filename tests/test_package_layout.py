"""The package's layering and its likelihood seam: generated picture up to date, no cycle, one home per likelihood."""
import ast
import subprocess
import sys
from pathlib import Path

import vae_helpers as vh

ROOT = Path(__file__).resolve().parent.parent


def test_import_graph_in_contributing_is_generated_and_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_likelihoods_py_knows_a_likelihood_by_name():
    """Adding a likelihood touches one module: no other module names a likelihood class or its formula."""
    names = {cls.__name__ for cls in vh.LIKELIHOODS.values()} | {"binary_cross_entropy_with_logits", "reconstruction_loss"}
    bernoulli_by_design = {"reconstruction_loss"}     # the Bernoulli baselines (metrics) and the Bernoulli exercise
    allowed = {"likelihoods.py": names, "losses.py": {"Bernoulli", "reconstruction_loss"},
               "metrics.py": bernoulli_by_design, "exercises.py": bernoulli_by_design,
               "gan.py": {"binary_cross_entropy_with_logits"}}     # the discriminator's loss, not a likelihood
    for path in sorted((ROOT / "vae_helpers").glob("*.py")):
        used = {node.id if isinstance(node, ast.Name) else node.attr
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, (ast.Name, ast.Attribute))}
        unexpected = (used & names) - allowed.get(path.name, set())
        assert not unexpected, f"{path.name} names {sorted(unexpected)}: ask the model's likelihood instead"
