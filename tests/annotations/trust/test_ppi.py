"""PPI rows are ppi-python's output (computed here from the same numbers), with the baselines beside them."""

from __future__ import annotations

import numpy as np
import ppi_py
import pytest

from annotations.trust import ppi


def data(seed: int, n: int, big_n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 10, n + big_n)
    critic = np.round(np.clip(truth + rng.normal(0.8, 1.5, truth.size), 0, 10))  # a biased critic
    label = np.where(np.arange(truth.size) < n, np.round(truth), np.nan)
    return label, critic, truth


@pytest.mark.parametrize(("seed", "n", "big_n"), [(0, 50, 2000), (1, 300, 5000), (2, 12, 100)])
def test_rows_equal_ppi_python_with_its_default_power_tuning(seed: int, n: int, big_n: int) -> None:
    label, critic, _ = data(seed, n, big_n)
    [row] = ppi.ppi_rows(["m"] * label.size, label, critic)
    y, yhat, yhat_u = label[:n], critic[:n], critic[n:]
    assert row["estimate"] == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u)[0]), abs=1e-12)
    lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.05)
    assert row["ci95"] == pytest.approx([float(lo[0]), float(hi[0])], abs=1e-12)
    assert row["n_labeled"] == n
    assert row["n_unlabeled"] == big_n
    c_lo, c_hi = ppi_py.classical_mean_ci(y, alpha=0.05)
    assert row["human_only"]["value"] == pytest.approx(y.mean())
    assert row["human_only"]["ci95"] == pytest.approx([c_lo, c_hi])
    assert row["critic_only"]["value"] == pytest.approx(critic.mean())
    # Effective labels: the human-only interval would need this many labels to be as narrow as PPI's.
    width = hi[0] - lo[0]
    assert row["effective_labels"] == pytest.approx(n * ((c_hi - c_lo) / width) ** 2, rel=1e-3)


def test_ppi_corrects_a_biased_critic() -> None:
    label, critic, truth = data(3, 400, 20_000)
    [row] = ppi.ppi_rows(["m"] * label.size, label, critic)
    lo, hi = row["ci95"]
    assert lo <= np.round(truth).mean() <= hi
    assert not row["critic_only"]["ci95"][0] <= np.round(truth).mean() <= row["critic_only"]["ci95"][1]
    assert hi - lo < row["human_only"]["ci95"][1] - row["human_only"]["ci95"][0]


def test_too_few_labels_give_no_estimate_but_the_reason() -> None:
    label, critic, _ = data(4, 5, 100)
    [row] = ppi.ppi_rows(["m"] * label.size, label, critic)
    assert row["estimate"] is None
    assert row["ci95"] is None
    assert "PPI needs at least 10" in row["reason"]
    assert row["human_only"]["value"] is None


def test_one_row_per_model() -> None:
    label, critic, _ = data(5, 100, 400)
    models = np.where(np.arange(label.size) % 2 == 0, "even", "odd")
    rows = ppi.ppi_rows(models, label, critic)
    assert [r["model"] for r in rows] == ["even", "odd"]
    mine = models == "odd"
    y, f = label[mine], critic[mine]
    has = ~np.isnan(y)
    assert rows[1]["estimate"] == pytest.approx(float(ppi_py.ppi_mean_pointestimate(y[has], f[has], f[~has])[0]))
