"""Tests of mlp_helpers.plotting: each helper draws the right data and saves a real PNG."""
import os
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlp_helpers import plotting  # noqa: E402
from mlp_helpers.plotting import style  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_history(seed=0, epochs=4, n_train=5000, log_every=1000, lr=0.01, as_dict=True):
    """A History-shaped record with known numbers (what train() returns, as a dict)."""
    rng = np.random.default_rng(seed)
    train = list(1.0 / np.arange(1, epochs + 1) + 0.05 * rng.random(epochs))
    val = list(np.array(train) + 0.1)
    at = list(range(log_every, epochs * n_train + 1, log_every))
    running = list(2.0 / np.sqrt(np.arange(1, len(at) + 1)))
    d = dict(lr=lr, batch_size=1, epochs=epochs, seed=seed, n_train=n_train,
             train_loss=train, val_loss=val, val_acc=[0.9] * epochs,
             running_loss=running, running_at=at, epoch_time=[0.1] * epochs,
             diverged=False, stopped=False)
    return d if as_dict else SimpleNamespace(**d)


# ---------------------------------------------------------------- saving ---

def test_save_writes_png_atomically(tmp_path):
    target = tmp_path / "new" / "dir" / "fig1.png"
    fig = plotting.loss_curves(make_history(), save=target)
    assert isinstance(fig, Figure)
    data = target.read_bytes()
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    assert os.listdir(target.parent) == ["fig1.png"]          # no temp file left behind
    # saving again replaces the file in place
    plotting.loss_curves(make_history(seed=1), save=str(target))
    assert os.listdir(target.parent) == ["fig1.png"]


def test_a_full_disk_while_saving_names_the_figure(tmp_path, monkeypatch):
    """issue 23: the OSError of a full disk said "No space left on device", not which file."""
    import errno

    def full_disk(self, f, **kwargs):
        f.write(PNG_SIGNATURE)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))      # a failed write: no file name

    monkeypatch.setattr(Figure, "savefig", full_disk)
    target = tmp_path / "figures" / "fig7.png"
    for save in (lambda: plotting.loss_curves(make_history(), save=target),
                 lambda: plotting.save_figure(plt.figure(), target)):
        with pytest.raises(OSError, match=r"No space left on device: '.*fig7\.png'") as raised:
            save()
        assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(target)
        assert os.listdir(target.parent) == []                      # no half-written PNG, no temp


def test_save_rejects_other_extension(tmp_path):
    with pytest.raises(ValueError, match=r"save must be a path ending in \.png"):
        plotting.loss_curves(make_history(), save=tmp_path / "fig.pdf")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_leaves_no_temp_file(tmp_path, monkeypatch):
    fig = plotting.loss_curves(make_history())

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")
    monkeypatch.setattr(fig, "savefig", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        style._finish(fig, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_rcparams_unchanged():
    before = dict(matplotlib.rcParams)
    plotting.loss_curves(make_history())
    plotting.weight_images(np.ones((784, 4)), n=4)
    assert dict(matplotlib.rcParams) == before


# ----------------------------------------------------------- loss curves ---

@pytest.mark.parametrize("as_dict", [True, False])
def test_loss_curves_data(as_dict):
    h = make_history(as_dict=as_dict)
    fig = plotting.loss_curves(h)
    (ax,) = fig.axes
    train, val = ax.get_lines()
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])      # epochs are 1-based
    d = h if as_dict else vars(h)
    np.testing.assert_allclose(train.get_ydata(), d["train_loss"])
    np.testing.assert_allclose(val.get_ydata(), d["val_loss"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training loss", "validation loss"]
    assert ax.get_xlabel() == "epoch" and "loss" in ax.get_ylabel()


def test_loss_curves_running_panel_and_same_axis():
    h = make_history()
    fig = plotting.loss_curves(h, running=True)
    assert len(fig.axes) == 2
    (run,) = fig.axes[1].get_lines()
    np.testing.assert_allclose(run.get_xdata(), np.array(h["running_at"]) / h["n_train"])
    np.testing.assert_allclose(run.get_ydata(), h["running_loss"])

    fig = plotting.loss_curves(h, running="same")
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 3


def test_loss_curves_into_given_axes_and_several_histories():
    fig0, (a, b) = plt.subplots(1, 2)
    fig = plotting.loss_curves([make_history(lr=0.01), make_history(seed=1, lr=0.03)], ax=b)
    assert fig is fig0
    assert len(a.get_lines()) == 0 and len(b.get_lines()) == 4
    labels = [t.get_text() for t in b.get_legend().get_texts()]
    assert labels[0] == "lr = 0.01: training loss" and labels[3] == "lr = 0.03: validation loss"


def test_loss_curves_names_its_curves(tmp_path):
    fig = plotting.loss_curves(make_history(), train_label="training loss (mean during epoch)",
                               val_label="test loss", save=tmp_path / "final.png")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["training loss (mean during epoch)", "test loss"]
    assert (tmp_path / "final.png").stat().st_size > 0


def test_loss_curves_without_validation():
    h = make_history()
    h["val_loss"] = []
    fig = plotting.loss_curves(h)
    assert len(fig.axes[0].get_lines()) == 1


def test_loss_curves_bad_inputs():
    with pytest.raises(ValueError, match="'train_loss' field"):
        plotting.loss_curves({"val_loss": [1.0]})
    with pytest.raises(ValueError, match="no epochs"):
        plotting.loss_curves(make_history() | {"train_loss": []})
    with pytest.raises(ValueError, match="running must be"):
        plotting.loss_curves(make_history(), running="yes")
    with pytest.raises(ValueError, match="non-empty list"):
        plotting.loss_curves([])
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="two panels"):
        plotting.loss_curves(make_history(), running="panel", ax=ax)


# ---------------------------------------------------------- running loss ---

def test_running_loss_identity_and_rebinning():
    h = make_history(epochs=2, n_train=5000, log_every=1000)     # 10 logs
    fig = plotting.running_loss(h, every=1000)
    (line,) = fig.axes[0].get_lines()
    np.testing.assert_allclose(line.get_xdata(), h["running_at"])
    np.testing.assert_allclose(line.get_ydata(), h["running_loss"])

    fig = plotting.running_loss(h, every=2000)
    (line,) = fig.axes[0].get_lines()
    r = np.array(h["running_loss"])
    np.testing.assert_allclose(line.get_ydata(), r.reshape(5, 2).mean(axis=1))
    np.testing.assert_allclose(line.get_xdata(), [2000, 4000, 6000, 8000, 10000])


def test_running_loss_rebin_weights_by_examples():
    # logs of unequal width (a batch size that does not divide log_every): 1024, 2048, 2500
    h = {"running_at": [1024, 2048, 2500], "running_loss": [1.0, 2.0, 4.0], "n_train": 2500}
    fig = plotting.running_loss(h, every=2500)
    (line,) = fig.axes[0].get_lines()
    expected = (1.0 * 1024 + 2.0 * 1024 + 4.0 * 452) / 2500
    np.testing.assert_allclose(line.get_ydata(), [expected])


def test_running_loss_bad_inputs():
    with pytest.raises(ValueError, match="every must be >= the logging interval"):
        plotting.running_loss(make_history(), every=10)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        plotting.running_loss(make_history(), every=0)
    with pytest.raises(ValueError, match="equal, non-zero length"):
        plotting.running_loss({"running_at": [1000, 2000], "running_loss": [1.0], "n_train": 10})


# ---------------------------------------------------------- mean +- std ---

def test_mean_std_bands_values():
    hs = [make_history(seed=s) for s in range(3)]
    fig = plotting.mean_std_bands(hs, key=("train_loss", "val_loss"))
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 2 and len(ax.collections) == 2        # two means, two bands
    stack = np.array([h["train_loss"] for h in hs])
    mean, std = stack.mean(axis=0), stack.std(axis=0, ddof=1)
    np.testing.assert_allclose(lines[0].get_ydata(), mean)
    # the band's vertices span exactly mean - std .. mean + std at each epoch
    verts = ax.collections[0].get_paths()[0].vertices
    for e, (m, s) in enumerate(zip(mean, std), start=1):
        ys = verts[np.isclose(verts[:, 0], e), 1]
        np.testing.assert_allclose([ys.min(), ys.max()], [m - s, m + s])


def test_mean_std_bands_single_run_and_show_runs():
    fig = plotting.mean_std_bands([make_history()], key="val_acc")
    assert len(fig.axes[0].collections) == 0 and fig.axes[0].get_ylabel() == "accuracy"
    fig = plotting.mean_std_bands([make_history(seed=s) for s in range(3)], show_runs=True)
    assert len(fig.axes[0].get_lines()) == 4


def test_mean_std_bands_bad_inputs():
    short = make_history(epochs=2)
    with pytest.raises(ValueError, match=r"same number of 'train_loss' values.*\[2, 4\]"):
        plotting.mean_std_bands([make_history(), short])
    with pytest.raises(ValueError, match="mixes losses and accuracies"):
        plotting.mean_std_bands([make_history()], key=("train_loss", "val_acc"))


# ------------------------------------------------------- learning rates ---

def test_lr_comparison_lines_bands_labels_colours():
    by_lr = {0.03: make_history(lr=0.03), 0.001: [make_history(seed=s) for s in range(3)],
             0.003: make_history(lr=0.003)}
    fig = plotting.lr_comparison(by_lr, key="val_loss")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["lr = 0.001", "lr = 0.003", "lr = 0.03"]           # sorted by lr
    assert len(ax.collections) == 1                                      # band only with seeds
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[2].get_ydata(), by_lr[0.03]["val_loss"])
    np.testing.assert_allclose(lines[0].get_ydata(),
                               np.mean([h["val_loss"] for h in by_lr[0.001]], axis=0))
    colors = [ln.get_color() for ln in lines]
    assert len({tuple(c) for c in colors}) == 3
    # log-spaced: 0.003 sits near the middle of 0.001..0.03 on the colormap
    assert plotting.lr_colors([0.001, 0.01, 0.1])[1] == plt.get_cmap("viridis")(0.5)


def test_lr_comparison_two_keys():
    fig = plotting.lr_comparison({0.01: make_history(), 0.1: make_history()},
                                 key=("train_loss", "val_loss"))
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4 and lines[1].get_linestyle() == "--"


def test_lr_comparison_bad_inputs():
    with pytest.raises(ValueError, match="non-empty dict"):
        plotting.lr_comparison({})
    with pytest.raises(ValueError, match=r"keys must be learning rates.*-0\.1"):
        plotting.lr_comparison({-0.1: make_history()})


# ---------------------------------------------------- decision boundary ---

def ellipse_data(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, size=(n, 2)).astype(np.float32)
    t = ((x[:, 0] / 2) ** 2 + x[:, 1] ** 2 < 1).astype(np.int64)
    return x, t


def true_ellipse():
    a = np.linspace(0, 2 * np.pi, 100)
    return np.column_stack([2 * np.cos(a), np.sin(a)])


def test_decision_boundary_covers_data_and_draws_boundary():
    x, t = ellipse_data()
    predict = lambda p: ((p[:, 0] / 2) ** 2 + p[:, 1] ** 2 < 1).astype(np.int64)  # noqa: E731
    fig = plotting.decision_boundary(predict, x, t, boundary=true_ellipse, max_points=500)
    ax = fig.axes[0]
    (cs,) = [c for c in ax.collections if isinstance(c, ContourSet)]
    verts = np.vstack([p.vertices for p in cs.get_paths() if len(p.vertices)])
    assert (verts.min(axis=0) <= x.min(axis=0)).all() and (verts.max(axis=0) >= x.max(axis=0)).all()
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 2 and sum(len(s.get_offsets()) for s in scatters) == 500
    (bline,) = ax.get_lines()
    np.testing.assert_allclose(bline.get_xydata(), true_ellipse())
    assert ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    # both classes predicted somewhere on the grid
    assert len(cs.get_paths()) == 2 and all(len(p.vertices) for p in cs.get_paths())


def test_decision_boundary_with_net_like_object_and_probabilities():
    x, t = ellipse_data(200)

    class Net:                                        # predict_proba-style output (M, 2)
        def predict(self, p):
            inside = ((p[:, 0] / 2) ** 2 + p[:, 1] ** 2 < 1).astype(float)
            return np.column_stack([1 - inside, inside])
    fig = plotting.decision_boundary(Net(), x, t, resolution=50)
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections
               if isinstance(c, PathCollection)) == 200


def test_decision_boundary_bad_inputs():
    x, t = ellipse_data(100)
    const = lambda p: np.zeros(len(p), dtype=np.int64)  # noqa: E731
    with pytest.raises(ValueError, match="x must have 2 columns"):
        plotting.decision_boundary(const, np.zeros((10, 3)), t[:10])
    with pytest.raises(ValueError, match="one label per row of x"):
        plotting.decision_boundary(const, x, t[:50])
    with pytest.raises(ValueError, match="^t must hold integer class labels"):
        plotting.decision_boundary(const, x, t.astype(float))
    with pytest.raises(ValueError, match=r"boundary must be an \(M, 2\) array"):
        plotting.decision_boundary(const, x, t, boundary=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="one label per point"):
        plotting.decision_boundary(lambda p: np.zeros(3), x, t)
    with pytest.raises(ValueError, match="model must be a network"):
        plotting.decision_boundary(42, x, t)


# --------------------------------------------------------------- digits ---

def test_digit_grid_titles_and_colours():
    rng = np.random.default_rng(0)
    images = rng.random((12, 784)).astype(np.float32)
    labels = np.arange(12) % 10
    preds = labels.copy()
    preds[3] = 5
    fig = plotting.digit_grid(images, labels, preds, n_cols=5)
    assert len(fig.axes) == 12                             # empty grid cells removed
    titles = [ax.title for ax in fig.axes]
    assert titles[3].get_text() == "true 3 / pred 5" and titles[3].get_color() == "red"
    assert titles[2].get_text() == "true 2 / pred 2" and titles[2].get_color() == "black"
    np.testing.assert_array_equal(fig.axes[7].get_images()[0].get_array(), images[7].reshape(28, 28))

    fig = plotting.digit_grid(images.reshape(12, 28, 28)[:4], labels[:4])
    assert [ax.title.get_text() for ax in fig.axes] == ["0", "1", "2", "3"]


def test_digit_grid_bad_inputs():
    with pytest.raises(ValueError, match="square images"):
        plotting.digit_grid(np.zeros((3, 780)))
    with pytest.raises(ValueError, match=r"one label per image \(3\)"):
        plotting.digit_grid(np.zeros((3, 784)), t=np.array([1, 2]))
    with pytest.raises(ValueError, match="^t must hold integer class labels"):
        plotting.digit_grid(np.zeros((2, 784)), t=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="empty"):
        plotting.digit_grid(np.zeros((0, 784)))


# ----------------------------------------------------- confusion matrix ---

def test_confusion_matrix_counts_exact():
    t = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2])
    cm = plotting.confusion_matrix(t, predicted)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 1], [1, 0, 3]])
    assert cm.dtype == np.int64
    cm5 = plotting.confusion_matrix(list(t), list(predicted), n_classes=5)
    assert cm5.shape == (5, 5) and cm5.sum() == 9 and cm5[3:].sum() == 0


def test_plot_confusion_matrix_annotations():
    t = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2])
    fig = plotting.plot_confusion_matrix(t, predicted)
    ax = fig.axes[0]
    assert len(fig.axes) == 2                                       # matrix + colorbar
    texts = [text.get_text() for text in ax.texts]
    assert texts == ["1", "1", "0", "0", "2", "1", "1", "0", "3"]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), [[1, 1, 0], [0, 2, 1], [1, 0, 3]])
    assert "66.67%" in ax.get_title()
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    fig = plotting.plot_confusion_matrix(t, predicted, normalize=True)
    assert fig.axes[0].texts[0].get_text() == "1\n50%"


def test_confusion_matrix_bad_inputs():
    with pytest.raises(ValueError, match="same length, got 3 and 2"):
        plotting.confusion_matrix(np.array([0, 1, 2]), np.array([0, 1]))
    with pytest.raises(ValueError, match="^predicted must hold integer class labels"):
        plotting.confusion_matrix(np.array([0, 1]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"^t must be class labels in \[0, 2\)"):
        plotting.confusion_matrix(np.array([0, 3]), np.array([0, 1]), n_classes=2)
    with pytest.raises(ValueError, match="^t must be class labels"):
        plotting.confusion_matrix(np.array([0, -1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="^t is empty"):
        plotting.confusion_matrix(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="1-D"):
        plotting.confusion_matrix(np.zeros((2, 2), dtype=int), np.zeros(4, dtype=int))


def test_label_arguments_are_named_t_as_in_the_maths():
    x, t = ellipse_data(100)
    inside = lambda p: ((p[:, 0] / 2) ** 2 + p[:, 1] ** 2 < 1).astype(np.int64)  # noqa: E731
    plotting.decision_boundary(inside, x=x, t=t, resolution=20)
    counts = plotting.confusion_matrix(t=t, predicted=inside(x), n_classes=2)
    assert counts.trace() == 100
    plotting.plot_confusion_matrix(t=t, predicted=inside(x))
    fig = plotting.digit_grid(np.zeros((2, 784)), t=np.array([1, 2]), predictions=np.array([1, 3]))
    assert fig.axes[1].get_title() == "true 2 / pred 3"
    with pytest.raises(ValueError, match=r"^t and predicted must have the same length"):
        plotting.confusion_matrix(t=t, predicted=t[:3])

# ------------------------------------------------------- weight images ---

def test_weight_images_symmetric_scale():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(784, 20)).astype(np.float32)
    W[5, 2] = -9.0                                   # the largest magnitude sets the scale
    fig = plotting.weight_images(W, n=10, n_cols=5)
    image_axes = [ax for ax in fig.axes if ax.get_images()]
    assert len(image_axes) == 10 and len(fig.axes) == 11          # + colorbar
    im = image_axes[2].get_images()[0]
    assert im.get_clim() == (-9.0, 9.0)
    np.testing.assert_array_equal(im.get_array(), W[:, 2].reshape(28, 28))

    net = SimpleNamespace(params={"W": W})
    assert len(plotting.weight_images(net, n=50).axes) == 21     # n capped at H = 20


def test_weight_images_bad_inputs():
    with pytest.raises(ValueError, match=r"cannot be reshaped to shape \(28, 28\)"):
        plotting.weight_images(np.zeros((100, 4)))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        plotting.weight_images(np.zeros((784, 4)), n=0)


# -------------------------------------------- the real History, if present ---

def test_with_real_history_from_train():
    training = pytest.importorskip("mlp_helpers.training")
    network = pytest.importorskip("mlp_helpers.network")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2)).astype(np.float32)
    t = (x[:, 0] > 0).astype(np.int64)
    net = network.MLP(2, 4, 2, seed=0)
    h = training.train(net, (x, t), val=(x[:100], t[:100]), lr=0.1, epochs=2, seed=0,
                       log_every=100, progress=False)
    for record in (h, h.to_dict()):
        fig = plotting.loss_curves(record, running=True)
        np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), h.train_loss)
        plotting.running_loss(record, every=100)
        plotting.mean_std_bands([record, record])
    plotting.decision_boundary(net, x, t, resolution=30)


# -------------------------------------------- notebook 04's lessons' figures ---

def with_after(seed=0, **kw):
    d = make_history(seed=seed, **kw)
    d["train_loss_after"] = [v - 0.05 for v in d["train_loss"]]
    d["epoch_lr"] = [d["lr"] * 0.5 ** e for e in range(d["epochs"])]
    return d


def test_epoch_losses_same_weights_and_midpoints(tmp_path):
    h = with_after()
    fig = plotting.epoch_losses(h, eval_name="test", save=tmp_path / "e.png")
    ax = fig.axes[0]
    running, recorded, after, held_out = ax.get_lines()
    np.testing.assert_allclose(recorded.get_xdata(), [0.5, 1.5, 2.5, 3.5])   # means over each epoch
    np.testing.assert_allclose(after.get_ydata(), h["train_loss_after"])
    np.testing.assert_allclose(held_out.get_ydata(), h["val_loss"])
    assert held_out.get_label() == "test loss, weights after epoch"
    top = 1.15 * max(h["train_loss"] + h["val_loss"])
    assert ax.get_ylim() == pytest.approx((0, top)) and h["running_loss"][0] > top   # the spike is clipped
    assert "off the top" in running.get_label()
    with pytest.raises(ValueError, match="train_loss_after"):
        plotting.epoch_losses(make_history())
    with pytest.raises(ValueError, match="eval_name must be 'validation' or 'test'"):
        plotting.epoch_losses(h, eval_name="val")


def test_seed_spread_shows_deviation_from_the_mean():
    hs = [make_history(seed=s) for s in range(3)]
    fig = plotting.seed_spread(hs, keys=("train_loss", "val_acc"))
    assert len(fig.axes) == 4
    bottom = fig.axes[2]                       # row 2, column 1: each run minus the mean
    mean = np.mean([h["train_loss"] for h in hs], axis=0)
    np.testing.assert_allclose(bottom.get_lines()[0].get_ydata(), np.array(hs[0]["train_loss"]) - mean)
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), 90.0)   # accuracy in percent
    with pytest.raises(ValueError, match="at least 2 runs"):
        plotting.seed_spread(hs[:1])


def test_loss_readings_between_and_pooled():
    losses = np.array([[[0.0, 2.0], [1.0, 1.0]], [[1.0, 3.0], [1.0, 1.0]]])    # (runs, epochs, examples)
    fig = plotting.loss_readings(losses)
    left, right = fig.axes
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), [1.5, 1.0])       # mean of run means
    np.testing.assert_allclose(right.get_lines()[0].get_ydata(), [1.5, 1.0])
    between = left.collections[0].get_paths()[0].vertices[:, 1]
    pooled = right.collections[0].get_paths()[0].vertices[:, 1]
    assert between.max() == pytest.approx(1.5 + np.std([1.0, 2.0], ddof=1))
    assert pooled.max() == pytest.approx(1.5 + np.std([0, 2, 1, 3], ddof=1))
    with pytest.raises(ValueError, match=r"\(runs >= 2, epochs, examples\)"):
        plotting.loss_readings(losses[:1])


def test_lr_panels_palette_and_outside_legend():
    by_lr = {lr: [make_history(seed=s, lr=lr) for s in range(2)] for lr in (0.001, 0.01, 0.1)}
    fig = plotting.lr_panels(by_lr)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    colors = [line.get_color() for line in fig.axes[0].get_lines()]
    assert colors == list(plotting.SAFE_COLORS[:3]) and "#F0E442" not in plotting.SAFE_COLORS
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lr = 0.001", "lr = 0.01", "lr = 0.1"]


def test_accuracy_vs_lr_log_axis_error_bars_and_choice():
    rows = [{"lr": lr, "val_acc_mean": acc, "val_acc_std": 0.002, "runs": 3}
            for lr, acc in ((0.1, 0.97), (0.01, 0.95))]
    fig = plotting.accuracy_vs_lr(rows, n_eval=5000, chosen=0.1, report={0.01: 92.6})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_xticklabels()] == ["0.01", "0.1"]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "chosen: lr = 0.1" in labels and any("sampling error" in s for s in labels)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [95.0, 97.0])   # sorted by lr


def test_early_stopping_marks_the_minimum():
    h = {"train_loss_after": [1.0, 0.5, 0.2, 0.1], "val_loss": [1.1, 0.7, 0.8, 0.9],
         "val_acc": [0.80, 0.86, 0.87, 0.85]}
    fig = plotting.early_stopping(h)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "minimum: epoch 2, 0.700" in labels
    right = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "early stop (epoch 2): 86.00%" in right and "best: epoch 3, 87.00%" in right


def test_lr_schedules_draws_rates_and_accuracy():
    fig = plotting.lr_schedules({"halved": [with_after(seed=s) for s in range(2)],
                                 "constant": [make_history() | {"epoch_lr": [0.01] * 4}]})
    left, right = fig.axes
    np.testing.assert_allclose(left.get_lines()[0].get_ydata(), [0.01, 0.005, 0.0025, 0.00125])
    assert left.get_yscale() == "log" and len(right.collections) == 1      # a band only with seeds


def test_activation_histograms_report_saturation():
    h = np.array([0.0, 0.005, 0.5, 0.999, 0.3])
    fig = plotting.activation_histograms({"normal": h})
    assert fig.axes[0].get_title() == "normal: 60% within 0.01 of 0 or 1"
    with pytest.raises(ValueError, match=r"activations in \[0, 1\]"):
        plotting.activation_histograms({"bad": np.array([1.5])})


def test_confusion_matrix_mistakes_only_leaves_the_diagonal_out():
    t = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    predicted = np.array([0, 0, 0, 1, 1, 1, 1, 1])
    fig = plotting.plot_confusion_matrix(t, predicted, normalize=True, mistakes_only=True)
    ax = fig.axes[0]
    colored = ax.get_images()[1].get_array()
    assert colored.mask.tolist() == [[True, False], [False, True]] and colored[0, 1] == 25.0
    assert ax.texts[0].get_text() == "3\n75.0%" and ax.texts[1].get_text() == "1"


def test_digit_grid_shows_probabilities():
    images = np.zeros((2, 784), dtype=np.float32)
    fig = plotting.digit_grid(images, [1, 2], [1, 3], probabilities=[0.5, 0.97])
    assert fig.axes[1].get_title() == "true 2 / pred 3\np = 0.97"
    with pytest.raises(ValueError, match="probabilities must be 2 numbers in"):
        plotting.digit_grid(images, [1, 2], [1, 3], probabilities=[0.5, 1.5])


# ------------------------------------------------------- nbA: boundary line, histograms ---

def test_decision_boundary_contour_draws_the_predicted_boundary():
    x, t = ellipse_data()
    predict = lambda p: ((p[:, 0] / 2) ** 2 + p[:, 1] ** 2 < 1).astype(np.int64)  # noqa: E731
    fig = plotting.decision_boundary(predict, x, t, contour=True, resolution=400, max_points=300)
    ax = fig.axes[0]
    filled, line = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert not line.filled and list(line.levels) == [0.5]
    verts = np.vstack([p.vertices for p in line.get_paths() if len(p.vertices)])
    radius = np.sqrt((verts[:, 0] / 2) ** 2 + verts[:, 1] ** 2)     # the predicted boundary is the ellipse
    np.testing.assert_allclose(radius, 1.0, atol=0.03)
    assert "predicted boundary" in [text.get_text() for text in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="contour must be True or False, got 'yes'"):
        plotting.decision_boundary(predict, x, t, contour="yes")


def test_histograms_counts_every_value_in_shared_bins(tmp_path):
    a, b = np.array([0.05, 0.15, 0.15, 0.95]), np.array([[0.5, 0.5], [0.5, 0.99]])
    fig = plotting.histograms([a, b], labels=["a", "b"], bins=10, range=(0, 1), density=False,
                              xlabel="h", save=tmp_path / "h.png")
    ax = fig.axes[0]
    heights = [patch.get_path().vertices[:, 1].max() for patch in ax.patches]
    assert heights == [2.0, 3.0]                     # the tallest bin of each: 0.1-0.2 twice, 0.5-0.6 three times
    assert ax.get_xlabel() == "h" and ax.get_ylabel() == "count"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert (tmp_path / "h.png").read_bytes()[:8] == PNG_SIGNATURE
    one = plotting.histograms(np.full(5, 0.5), density=False).axes[0]   # one value: still drawn
    assert one.patches[0].get_path().vertices[:, 1].max() == 5.0


def test_histograms_bad_inputs():
    with pytest.raises(ValueError, match="non-empty list"):
        plotting.histograms([])
    with pytest.raises(ValueError, match=r"samples\[1\] must be finite"):
        plotting.histograms([np.ones(3), np.array([1.0, np.nan])])
    with pytest.raises(ValueError, match=r"samples\[0\] must be an array of real numbers"):
        plotting.histograms([["a", "b"]])
    with pytest.raises(ValueError, match="labels must have one entry per sample"):
        plotting.histograms([np.ones(3)], labels=["a", "b"])
    with pytest.raises(ValueError, match="finite lo < hi"):
        plotting.histograms(np.ones(3), range=(1, 0))
    with pytest.raises(ValueError, match="bins"):
        plotting.histograms(np.ones(3), bins=0)
