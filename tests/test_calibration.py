"""The judge's calibration set (labels by eye), its report, and the kernel distance between image sets."""
import csv
from importlib import resources

import numpy as np
import pytest
import torch

import vae_helpers as vh
from vae_helpers import judge as J


def _labels(name):
    with resources.as_file(resources.files("vae_helpers") / "calibration" / f"{name}-labels.csv") as path:
        with open(path, newline="") as f:
            return [{k: int(v) for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.mark.parametrize("name, per_source", [("mnist-5k", 120), ("fashion-mnist", 80)])   # 3 and 2 batches
def test_calibration_sets_are_complete_and_two_labellings_agree(name, per_source):
    cal = J.load_calibration(name)
    assert cal.images.shape == (9 * per_source, 1, 28, 28) and 0 <= cal.images.min() and cal.images.max() <= 1
    assert len(cal.sources) == 9 and torch.bincount(cal.source).tolist() == [per_source] * 9
    rows = _labels(name)
    a, b, eye = (np.array([r[k] for r in rows]) for k in ("eye_a", "eye_b", "eye"))
    assert set(np.unique(eye)) <= {0, 1}
    assert np.all(eye[a == b] == a[a == b])                     # the final label is the two where they agree
    agree = (a == b).mean()
    chance = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    assert (agree - chance) / (1 - chance) > 0.6                 # Cohen's kappa: 0.69 digits, 0.85 garments
    assert cal.held_out.sum() == len(cal.images) // 2 and torch.equal(cal.eye, torch.from_numpy(eye))


# The shipped judges against the eye on the held-out half (540 digits, 360 garments), as measured when they were
# made (tools/train_judge.py): agreement 87.4% digits, 88.6% garments; largest per-source gap 12.7 points
# (digits, the codes' box: 2 of 63 accepted against the eye's 10) and 10.2 (garments). Verdicts do not flip
# between 1 and 2 threads; under bfloat16 the readout logits move by up to 0.06 (one held-out digit flips) and
# the closest held-out logit is 0.003 from the threshold, so the margins below are two images (0.4-0.6 points
# of agreement, 3-5 points of a source's share).
@pytest.mark.parametrize("name, images, agreement, gap",
                         [("mnist-5k", 540, 0.866, 0.16), ("fashion-mnist", 360, 0.88, 0.155)])
def test_shipped_judge_agrees_with_the_eye_on_held_out_images(name, images, agreement, gap):
    cal = J.load_calibration(name)
    report = vh.realism_judge(name).calibration_report(cal)
    assert report.images == images and report.agreement >= agreement
    for source, (judge_share, eye_share, n) in report.by_source.items():
        assert abs(judge_share - eye_share) <= gap, (source, judge_share, eye_share)
    reject_all = 1 - cal.eye[cal.held_out].float().mean().item()     # the best constant verdict: "no" to all
    assert report.agreement > reject_all + 0.15


def test_calibration_names_and_errors():
    assert J.load_calibration("mnist").name == "mnist-5k"       # full MNIST is judged with the digits' labels
    with pytest.raises(ValueError, match="No calibration set for 'cifar'"):
        J.load_calibration("cifar")


class _AcceptsAll(J.RealismJudge):
    def accepts(self, x):
        return torch.ones(len(x), dtype=torch.bool)


def test_calibration_report_on_a_known_answer():
    cal = J.load_calibration("mnist-5k")
    report = _AcceptsAll().calibration_report(cal)
    held = cal.held_out
    assert report.images == 540
    assert report.agreement == pytest.approx(cal.eye[held].float().mean().item())
    for k, name in enumerate(cal.sources):
        judge_share, eye_share, n = report.by_source[name]
        mask = cal.source[held] == k
        assert judge_share == 1.0 and n == int(mask.sum())
        assert eye_share == pytest.approx(cal.eye[held][mask].float().mean().item())
    assert "agreement with the eye" in str(report)


@pytest.fixture(scope="module")
def judge(mnist5k):
    return vh.realism_judge(mnist5k)


def test_accepts_is_the_verdict_of_predict(judge, mnist5k):
    x = torch.cat([mnist5k.test[:50], torch.rand(50, 1, 28, 28)])
    assert torch.equal(judge.accepts(x), judge.predict(x) != judge.reject)
    assert judge.accepts(x).dtype == torch.bool and judge.features(x).shape == (100, 128)


def test_kid_is_near_zero_for_one_distribution_and_large_for_another(judge, mnist5k):
    half = len(mnist5k.test) // 2
    same, same_sd = J.kid(judge, mnist5k.test[:half], mnist5k.test[half:], subsets=5, subset_size=300)
    ones = mnist5k.test[mnist5k.test_labels == 1]                # one class only: no diversity
    other, _ = J.kid(judge, ones, mnist5k.test, subsets=5, subset_size=90)
    noise, _ = J.kid(judge, torch.rand(500, 1, 28, 28), mnist5k.test, subsets=5, subset_size=300)
    assert abs(same) < 50 < other and 50 < noise
    scaled = J.kid(judge, mnist5k.test[:half], mnist5k.test[half:], subsets=5, subset_size=300)
    assert scaled[0] == pytest.approx(same)                        # repeatable for a seed
    with pytest.raises(ValueError, match="at least 2 images"):
        J.kid(judge, mnist5k.test[:1], mnist5k.test)


def test_sources_eye_shares_and_the_judges_excess_over_the_eye():
    cal = J.load_calibration("fashion-mnist")
    images, eye = cal.of("real test image")
    assert images.shape == (80, 1, 28, 28) and eye.shape == (80,)           # garments: two batches
    shares = cal.eye_shares()
    assert list(shares) == list(cal.sources) and shares["real test image"] == pytest.approx(eye.float().mean().item())
    excess, se = _AcceptsAll().excess_over_eye(cal, "16-D AE decoding N(0, I)")   # accepts all: 1 - eye share
    assert excess == pytest.approx(1 - shares["16-D AE decoding N(0, I)"]) and se > 0
    with pytest.raises(ValueError, match="No source 'dreams'"):
        cal.of("dreams")


def test_labeller_agreement_is_the_share_where_the_two_labellings_agree():
    cal = J.load_calibration("mnist-5k")
    a, b = cal.labellings
    assert cal.labeller_agreement() == pytest.approx((a == b)[cal.held_out].float().mean().item())
    assert cal.labeller_agreement(held_out=False) == pytest.approx((a == b).float().mean().item())
    assert 0.8 < cal.labeller_agreement(held_out=False) < 0.9      # 85.6% on the digits


@pytest.mark.parametrize("name, eye_share, judge_share", [("mnist-5k", 23 / 60, 11 / 60), ("fashion-mnist", 9 / 60, 39 / 60)])
def test_the_judge_misjudges_gan_samples_as_notebook_07_says(name, eye_share, judge_share):
    """60 GAN samples labelled by eye (never used to fit the judge): notebook 07's caveat rests on these numbers.
    Measured: digits eye 23/60, judge 11/60 (too strict); garments eye 9/60, judge 39/60 (too lenient)."""
    images, eye = vh.judge.load_gan_check(name)
    verdicts = vh.realism_judge(name).accepts(images)
    assert eye.float().mean().item() == pytest.approx(eye_share, abs=1e-6)
    assert verdicts.float().mean().item() == pytest.approx(judge_share, abs=2.5 / 60)     # two images of margin
    assert abs(verdicts.float().mean().item() - eye_share) > 10 / 60                       # the gap the notebook reports
