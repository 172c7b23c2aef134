"""Tests of notebook 03's plotting helpers: readable log axes and the minibatch gradient noise."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlp_helpers import plotting  # noqa: E402
from mlp_helpers.gradnoise import minibatch_variance  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(axis):
    """The visible major tick labels of an axis, after drawing."""
    axis.figure.canvas.draw()
    lo, hi = sorted(axis.get_view_interval())
    return [t.get_text() for t, v in zip(axis.get_majorticklabels(), axis.get_majorticklocs())
            if lo <= v <= hi]


# ---------------------------------------------------------------------- log_axis ---

def test_log_axis_labels_plain_numbers_within_three_decades():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [1.0, 5.0, 30.0])
    assert plotting.log_axis(ax, "y") is ax
    assert ax.get_yscale() == "log"
    labels = _labels(ax.yaxis)
    assert {"1", "2", "5", "10", "20"} <= set(labels)
    assert not any("10^" in s or "$" in s for s in labels), labels
    assert all(t.get_text() == "" for t in ax.yaxis.get_minorticklabels())


def test_log_axis_powers_of_ten_only_over_many_decades():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1e-4, 10.0])
    plotting.log_axis(ax, "y")
    labels = _labels(ax.yaxis)
    assert {"0.0001", "0.001", "0.01", "0.1", "1", "10"} <= set(labels)
    assert "2" not in labels and "0.5" not in labels


def test_log_axis_fixed_ticks_on_both_axes():
    fig, ax = plt.subplots()
    ax.plot([1, 16, 64, 256], [0.3, 0.2, 0.1, 0.05])
    plotting.log_axis(ax, "both", ticks=[1, 16, 64, 256])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert _labels(ax.xaxis) == ["1", "16", "64", "256"]


def test_log_axis_bad_inputs():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"axis must be 'x', 'y' or 'both', got 'z'"):
        plotting.log_axis(ax, "z")
    with pytest.raises(ValueError, match=r"ticks must be a non-empty sequence of finite numbers > 0"):
        plotting.log_axis(ax, "x", ticks=[0, 1])
    with pytest.raises(ValueError, match=r"ax must be a matplotlib Axes, got list"):
        plotting.log_axis([], "x")
    assert ax.get_xscale() == "linear"                 # nothing half-done


# ---------------------------------------------------------------- gradient_noise ---

def _measurement(trace=80.0, full=3.5, n_train=10_000):
    B = np.array([1, 4, 16, 64])
    law = minibatch_variance(trace, B, n_train)
    return {"batch_sizes": B.tolist(), "variance": (law * 1.05).tolist(), "variance_se": (law * 0.02).tolist(),
            "sq_norm": (full + law).tolist(), "sq_norm_se": ((full + law) * 0.02).tolist(),
            "trace": trace, "full_sq_norm": full, "n_train": n_train}


def test_gradient_noise_draws_measurements_and_law(tmp_path):
    m = {"at init": _measurement(), "trained": _measurement(trace=16.0, full=0.1)}
    target = tmp_path / "03_gradient_noise.png"
    fig = plotting.gradient_noise(m, save=target)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    ax_v, ax_n = fig.axes
    for ax in (ax_v, ax_n):
        assert ax.get_xscale() == ax.get_yscale() == "log"
        assert _labels(ax.xaxis) == ["1", "4", "16", "64"]
    # the law on the left: tr(Sigma)/B (N - B)/(N - 1), on a grid from the smallest to the largest B
    law_line = next(line for line in ax_v.get_lines() if line.get_label().startswith("at init: tr"))
    xs, ys = law_line.get_data()
    np.testing.assert_allclose(ys, 80.0 / xs * (10_000 - xs) / 9_999)
    assert xs[0] == 1 and xs[-1] == 64
    # the measured points, as given
    points = [c for c in ax_v.containers if c.get_label() == "trained: measured"][0]
    np.testing.assert_allclose(points.lines[0].get_ydata(), m["trained"]["variance"])
    # right: |g|^2 + the law, and the dotted floor |g|^2
    floor = next(line for line in ax_n.get_lines() if line.get_label() == "trained: $|g|^2$ = 0.1")
    np.testing.assert_allclose(floor.get_ydata(), [0.1, 0.1])
    prediction = next(line for line in ax_n.get_lines() if line.get_label().startswith("at init: $|g|^2$ +"))
    xs, ys = prediction.get_data()
    np.testing.assert_allclose(ys, 3.5 + 80.0 / xs * (10_000 - xs) / 9_999)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("trace"), r"measurements\['a'\] is missing trace"),
    (lambda m: m.update(variance=[1.0, 2.0]), r"must be non-empty and of equal length, got lengths \[4, 2, 4, 4, 4\]"),
    (lambda m: m.update(variance=[1.0, 0.0, 1.0, 1.0]), r"variance, sq_norm > 0"),
    (lambda m: m.update(trace=-1.0), r"trace must be > 0 and full_sq_norm >= 0, got -1.0"),
    (lambda m: m.update(n_train=0), r"measurements\['a'\]\['n_train'\] must be an integer >= 1, got 0"),
])
def test_gradient_noise_bad_inputs(change, message, tmp_path):
    m = _measurement()
    change(m)
    with pytest.raises(ValueError, match=message):
        plotting.gradient_noise({"a": m}, save=tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_gradient_noise_needs_a_dict_of_dicts():
    with pytest.raises(ValueError, match=r"measurements must be a non-empty dict"):
        plotting.gradient_noise({})
    with pytest.raises(ValueError, match=r"measurements\['a'\] must be a dict with keys batch_sizes"):
        plotting.gradient_noise({"a": [1, 2]})
