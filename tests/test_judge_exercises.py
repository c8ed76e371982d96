"""The realism judge, Dataset.subset, the exercise self-check and the 1-D code plot."""
import matplotlib.pyplot as plt
import pytest
import torch

import vae_helpers as vh
from vae_helpers.judge import class_balance


@pytest.fixture(scope="module")
def judge(mnist5k):
    return vh.realism_judge(mnist5k)


def test_judge_accepts_digits_and_rejects_non_digits(judge, mnist5k):
    real = judge.report(mnist5k.test)
    noise = judge.report(torch.rand(200, 1, 28, 28))
    # measured: real test digits realism 0.75, accepted 86% (people accept ~95% of a sample), balance 1.00;
    # uniform noise realism 0.002, accepted 0%; the network's own class accuracy 98.4%
    assert real["realism"] > 0.65 and real["accepted"] > 0.8 and real["class_balance"] > 0.95
    assert noise["realism"] < 0.05 and noise["accepted"] < 0.02
    accuracy = (judge.probabilities(mnist5k.test)[:, :10].argmax(1) == mnist5k.test_labels).float().mean().item()
    assert accuracy > 0.95
    verdict = judge.predict(mnist5k.test)
    assert torch.equal(verdict == judge.reject, ~judge.accepts(mnist5k.test))
    assert judge.score(mnist5k.test[:5]).shape == (5,)
    assert judge.reject_name == "not a digit" and judge.class_shares(mnist5k.test).sum().item() == pytest.approx(1)


def test_judge_batch_size_does_not_change_its_outputs(judge, mnist5k):
    x = mnist5k.test[:230]                                   # not a multiple of the batch: a short last batch
    reference = judge._outputs(x, batch=len(x))
    for batch in (7, 100):
        for got, want in zip(judge._outputs(x, batch=batch), reference):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_judge_names_follow_the_dataset(mnist5k):
    fashion = vh.Dataset("fashion-mnist", mnist5k.train[:300], mnist5k.test[:50], mnist5k.train_labels[:300],
                         mnist5k.test_labels[:50], vh.data.FASHION_CLASSES)
    judge = vh.realism_judge(fashion)
    assert judge.reject_name == "not a fashion item" and judge.classes[9] == "Ankle boot"
    assert judge.probabilities(fashion.test).shape == (50, 11)
    assert vh.realism_judge("mnist").classes == vh.realism_judge(mnist5k.subset(50)).classes


def test_judge_refuses_unknown_datasets_and_other_versions(tmp_path):
    with pytest.raises(ValueError, match="No realism judge for dataset 'cifar'.*train_judge"):
        vh.realism_judge("cifar")
    judge = vh.realism_judge("mnist-5k")
    judge.save(tmp_path / "j.pt", {"note": "test"})
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(vh.RealismJudge.load(tmp_path / "j.pt").readout_logit(x), judge.readout_logit(x))
    blob = torch.load(tmp_path / "j.pt", weights_only=True)
    torch.save({**blob, "version": 1}, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="version 1.*reads version"):
        vh.RealismJudge.load(tmp_path / "old.pt")


def test_class_balance():
    assert class_balance(torch.full((10,), 0.1)) == pytest.approx(1.0)
    assert class_balance(torch.tensor([1.0] + [0.0] * 9)) == pytest.approx(0.0)
    assert class_balance(torch.tensor([0.5, 0.5] + [0.0] * 8)) == pytest.approx(0.30103, abs=1e-4)  # log 2 / log 10


def test_subset_is_stratified_and_keeps_the_test_set(mnist5k):
    small = mnist5k.subset(50)
    assert torch.bincount(small.train_labels).tolist() == [5] * 10
    assert small.test is mnist5k.test and small.name == "mnist-5k[train:50]"
    assert torch.equal(mnist5k.subset(50).train, small.train)  # fixed seed
    with pytest.raises(ValueError, match="between 1 and 4000"):
        mnist5k.subset(0)


def test_verdict_messages_for_an_exercise_outside_the_registry():
    from vae_helpers.exercises import Exercise, verdict
    three = Exercise(answer=lambda: 3.0, hint="Look again.", rel=0.01)
    ok, message = verdict(three, None)
    assert ok is False and "Not answered yet" in message
    ok, message = verdict(three, 3.01)
    assert ok is True and "Correct" in message
    ok, message = verdict(three, 4)
    assert ok is False and "Not quite. Look again." in message
    assert verdict(Exercise(answer=lambda: "up"), "up")[0] is True
    ok, message = verdict(three, "three")
    assert ok is False and "Expected a number" in message


def test_plot_codes_on_a_line(mnist5k):
    ax = vh.plot_codes_on_a_line(torch.tensor([0.0, 1.0, 5.0]), mnist5k.test[:3])
    assert ax.get_xlabel().startswith("z") and len(ax.artists) == 3
    plt.close("all")


def test_training_negatives_and_positives_keep_shape_range_and_class_rule(mnist5k):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    import train_judge
    torch.manual_seed(0)
    x, y = mnist5k.train[:64], mnist5k.train_labels[:64]
    pos = train_judge.positives(x, y)
    neg = train_judge.negatives(x, y, train_judge.NEGATIVE_KINDS["mnist"])
    assert pos.shape == x.shape and 0 < len(neg) <= 64 and neg.shape[1:] == (1, 28, 28)
    assert pos.min() >= 0 and pos.max() <= 1 and neg.min() >= 0 and neg.max() <= 1
    same = torch.zeros(64, dtype=torch.long)                       # one class only: no two-class rejects
    only = train_judge.negatives(x, same, (2, 3, 8))
    assert len(only) == 0
