"""load_dataset: the embedded default, the full IDX datasets, and every error case."""
import functools
import gzip
import hashlib
import http.server
import shutil
import threading

import pytest
import torch

import vae_helpers as vh
import vae_helpers.data as data
from shared_paths import shared_datasets

SHARED = shared_datasets()
needs_shared = pytest.mark.skipif(SHARED is None, reason="official MNIST files not on this machine")


def _check_images(images, labels, n):
    assert images.shape == (n, 1, 28, 28)
    assert images.dtype == torch.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert images.max() == 1.0  # scaled by 255, not left in [0, 255] or squashed
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert set(labels.unique().tolist()) == set(range(10))


def test_mnist5k_shapes_ranges_and_classes(mnist5k):
    _check_images(mnist5k.train, mnist5k.train_labels, 4000)
    _check_images(mnist5k.test, mnist5k.test_labels, 1000)
    assert mnist5k.name == "mnist-5k"
    assert mnist5k.classes == tuple("0123456789")
    assert "4000" in repr(mnist5k)


def test_mnist5k_split_is_stratified_disjoint_and_fixed(mnist5k):
    assert torch.bincount(mnist5k.train_labels).tolist() == [400] * 10
    assert torch.bincount(mnist5k.test_labels).tolist() == [100] * 10
    train_rows = {hashlib.sha1(x.numpy().tobytes()).digest() for x in mnist5k.train}
    test_rows = {hashlib.sha1(x.numpy().tobytes()).digest() for x in mnist5k.test}
    assert len(train_rows & test_rows) <= 2  # MNIST has a few exact duplicates; the split is by row
    again = vh.load_dataset()
    assert torch.equal(again.test, mnist5k.test) and torch.equal(again.train_labels, mnist5k.train_labels)


def test_mnist5k_does_not_touch_global_rng(mnist5k):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    vh.load_dataset()
    assert torch.equal(torch.rand(3), expected)


@needs_shared
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_full_datasets_from_data_dir(name, isolated_dirs):
    ds = vh.load_dataset(name, data_dir=SHARED, download=False)
    _check_images(ds.train, ds.train_labels, 60000)
    _check_images(ds.test, ds.test_labels, 10000)
    assert len(ds.classes) == 10 and ds.name == name


@needs_shared
def test_full_dataset_found_through_environment_variable(isolated_dirs, monkeypatch):
    monkeypatch.setenv(data.DATA_ENV_VAR, str(SHARED))
    assert vh.load_dataset("mnist", download=False).test.shape == (10000, 1, 28, 28)


def test_unknown_name_lists_valid_names():
    with pytest.raises(vh.DatasetError, match="Unknown dataset 'cifar'.*'mnist-5k'.*'mnist'.*'fashion-mnist'"):
        vh.load_dataset("cifar")


def test_offline_and_missing_says_where_and_suggests_embedded(isolated_dirs, tmp_path):
    with pytest.raises(vh.DatasetError) as err:
        vh.load_dataset("mnist", data_dir=tmp_path / "nowhere", download=False)
    message = str(err.value)
    assert "nowhere" in message and str(isolated_dirs) in message
    assert "load_dataset('mnist-5k')" in message


def test_download_failure_on_every_mirror(isolated_dirs, monkeypatch):
    monkeypatch.setitem(data.MIRRORS, "mnist", ["http://127.0.0.1:9/"])  # port 9: nothing listens
    with pytest.raises(vh.DatasetError, match="could not be downloaded"):
        vh.load_dataset("mnist")
    assert not any(p.is_file() for p in isolated_dirs.rglob("*"))  # nothing half-written


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server whose folder tests fill: a mirror that never leaves this machine."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@needs_shared
def test_download_falls_back_to_a_good_mirror_and_caches_verified_files(isolated_dirs, mirror, monkeypatch):
    root, url = mirror
    (root / "bad").mkdir()
    (root / "good").mkdir()
    for f in data.CHECKSUMS["fashion-mnist"]:
        shutil.copy(SHARED / "fashion-mnist" / f, root / "good" / f)
        (root / "bad" / f).write_bytes(b"not the file you want")
    monkeypatch.setitem(data.MIRRORS, "fashion-mnist", [url + "bad/", url + "good/"])
    ds = vh.load_dataset("fashion-mnist")
    assert ds.train.shape == (60000, 1, 28, 28)
    cached = sorted(p.name for p in (isolated_dirs / "fashion-mnist").iterdir())
    assert cached == sorted(data.CHECKSUMS["fashion-mnist"])  # no temporary or bad file left
    for f in cached:
        assert data.sha256(isolated_dirs / "fashion-mnist" / f) == data.CHECKSUMS["fashion-mnist"][f]


def _truncated_copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes()[:5000] if src.is_file() else b"\x1f\x8b truncated")


@pytest.mark.parametrize("where", ["cache", "data_dir"])
def test_checksum_mismatch_is_reported_and_bad_cache_file_removed(isolated_dirs, tmp_path, where):
    folder = isolated_dirs if where == "cache" else tmp_path / "mine"
    name = "t10k-labels-idx1-ubyte.gz"
    src = (SHARED / "mnist" / name) if SHARED else tmp_path / "absent"
    for f in data.CHECKSUMS["mnist"]:
        _truncated_copy(src, folder / "mnist" / f)
    with pytest.raises(vh.DatasetError, match="Checksum mismatch") as err:
        vh.load_dataset("mnist", data_dir=folder if where == "data_dir" else None, download=False)
    bad = next(iter(data.CHECKSUMS["mnist"]))
    if where == "cache":
        assert "removed from the cache" in str(err.value)
        assert not (folder / "mnist" / bad).exists()
    else:
        assert "Replace it" in str(err.value)
        assert (folder / "mnist" / bad).exists()  # the user's own file is never deleted


def test_truncated_gzip_gives_clear_error(tmp_path):
    path = tmp_path / "images.gz"
    full = gzip.compress(b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c" + bytes(1568))
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(vh.DatasetError, match="truncated"):
        data._read_idx(path, magic=2051)


def test_idx_parsing_checks_magic_and_size(tmp_path):
    header = b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c"
    good = tmp_path / "good.gz"
    good.write_bytes(gzip.compress(header + bytes(range(256)) * 6 + bytes(32)))
    assert data._read_idx(good, magic=2051).shape == (2, 28, 28)
    with pytest.raises(vh.DatasetError, match="magic"):
        data._read_idx(good, magic=2049)
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(vh.DatasetError, match="header says"):
        data._read_idx(short, magic=2051)


def test_embedded_split_is_shuffled_not_sorted_by_class(mnist5k):
    # The source file is sorted by class; a first-n slice must still mix classes.
    assert len(set(mnist5k.test_labels[:20].tolist())) >= 8
    assert len(set(mnist5k.train_labels[:20].tolist())) >= 8
    assert torch.bincount(mnist5k.test_labels).tolist() == [100] * 10
    blocks = mnist5k.test_labels.reshape(-1, 10).sort(dim=1).values  # every block of ten: one of each class
    assert torch.equal(blocks, torch.arange(10).expand(100, 10))
    assert not torch.equal(mnist5k.test_labels[:10], mnist5k.test_labels[10:20])  # classes in random order


def test_nouns_class_names_and_one_per_class(mnist5k):
    assert mnist5k.noun == "digit" and mnist5k.class_name(7) == "7"
    idx = mnist5k.one_per_class()
    assert mnist5k.test_labels[idx].tolist() == list(range(10))
    fashion = vh.Dataset("fashion-mnist", mnist5k.train, mnist5k.test, mnist5k.train_labels,
                         mnist5k.test_labels, vh.data.FASHION_CLASSES)
    assert fashion.noun == "fashion item" and fashion.class_name(7) == "Sneaker"


def test_epochs_for_keeps_the_number_of_steps(mnist5k):
    assert vh.epochs_for(mnist5k, 20) == 20
    big = vh.Dataset("mnist", torch.zeros(60000, 1, 1, 1), mnist5k.test, torch.zeros(60000), mnist5k.test_labels,
                     mnist5k.classes)
    assert vh.epochs_for(big, 20) == 2 and vh.epochs_for(big, 60) == 4
