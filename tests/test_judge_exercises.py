"""The realism judge, Dataset.subset, the exercise self-check and the 1-D code plot."""
import matplotlib.pyplot as plt
import pytest
import torch

import vae_helpers as vh
from vae_helpers.judge import NOT_A_DIGIT, synthetic_non_digits


@pytest.fixture(scope="module")
def judge(mnist5k, tmp_path_factory):
    return vh.realism_judge(mnist5k, epochs=5, cache_dir=tmp_path_factory.mktemp("judge"))


def test_judge_accepts_digits_and_rejects_non_digits(judge, mnist5k):
    real = judge.report(mnist5k.test)
    noise = judge.report(torch.rand(200, 1, 28, 28))
    assert real["realism"] > 0.75 and real["judged_digit"] > 0.85
    assert noise["realism"] < 0.2 and noise["judged_digit"] < 0.1
    accuracy = (judge.predict(mnist5k.test) == mnist5k.test_labels).float().mean().item()
    assert accuracy > 0.85
    assert judge.score(mnist5k.test[:5]).shape == (5,)


def test_judge_nearest_distance_is_zero_for_training_images(judge, mnist5k):
    assert torch.allclose(judge.nearest_distance(mnist5k.train[:10]), torch.zeros(10), atol=0.05)  # cdist: matmul rounding
    assert (judge.nearest_distance(torch.rand(5, 1, 28, 28)) > 5).all()


def test_judge_is_cached(mnist5k, tmp_path, monkeypatch):
    first = vh.realism_judge(mnist5k, epochs=1, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("judge-*.pt"))) == 1
    monkeypatch.setattr(vh.RealismJudge, "fit", lambda *a, **k: pytest.fail("must load, not train"))
    second = vh.realism_judge(mnist5k, epochs=1, cache_dir=tmp_path)
    assert torch.equal(first.probabilities(mnist5k.test[:3]), second.probabilities(mnist5k.test[:3]))


def test_synthetic_non_digits_never_blend_a_digit_with_its_own_class(mnist5k):
    torch.manual_seed(0)
    x, y = mnist5k.train[:64], mnist5k.train_labels[:64]
    fake = synthetic_non_digits(x, y)
    assert 0 < len(fake) <= 64 and fake.shape[1:] == (1, 28, 28)
    assert fake.min() >= 0 and fake.max() <= 1
    assert NOT_A_DIGIT == 10


def test_subset_is_stratified_and_keeps_the_test_set(mnist5k):
    small = mnist5k.subset(50)
    assert torch.bincount(small.train_labels).tolist() == [5] * 10
    assert small.test is mnist5k.test and small.name == "mnist-5k[train:50]"
    assert torch.equal(mnist5k.subset(50).train, small.train)  # fixed seed
    with pytest.raises(ValueError, match="between 1 and 4000"):
        mnist5k.subset(0)


def test_check_answer_messages(capsys):
    assert vh.check_answer(None, 3.0) is False
    assert "Not answered yet" in capsys.readouterr().out
    assert vh.check_answer(3.01, 3.0, rel=0.01) is True
    assert "Correct" in capsys.readouterr().out
    assert vh.check_answer(4, 3.0, hint="Look again.") is False
    assert "Not quite. Look again." in capsys.readouterr().out
    assert vh.check_answer("up", "up") is True
    assert vh.check_answer("three", 3.0) is False
    assert "Expected a number" in capsys.readouterr().out


def test_plot_codes_on_a_line(mnist5k):
    ax = vh.plot_codes_on_a_line(torch.tensor([0.0, 1.0, 5.0]), mnist5k.test[:3])
    assert ax.get_xlabel().startswith("z") and len(ax.artists) == 3
    plt.close("all")
