"""The alt-test (Calderon, Reichart & Dror 2025) on a small example worked by hand, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from annotations.trust import alt_test

A, B, TIE = 0, 1, 2


def pairwise_example() -> alt_test.Verdicts:
    """Three reviewers and the critic on four pairwise items:

    item  r1   r2  r3  critic
    1     A    A   A   A
    2     A    B   B   B
    3     B    B   A   B
    4     tie  A   A   A
    """
    table = {1: (A, A, A, A), 2: (A, B, B, B), 3: (B, B, A, B), 4: (TIE, A, A, A)}
    item, reviewer, value, critic = [], [], [], []
    for i, row in table.items():
        for r in (1, 2, 3):
            item.append(i)
            reviewer.append(r)
            value.append(row[r - 1])
            critic.append(row[3])
    return alt_test.Verdicts.of(item=item, reviewer=reviewer, value=value, pairwise=[True] * 12, critic=critic)


def test_a_small_example_worked_by_hand() -> None:
    # Alignment S = the share of the other two reviewers with the same preference.
    # Leaving r1 out:  item 1: S(r1) = 1,  S(critic) = 1   -> W_r1 = 1, W_critic = 1, d = W_r1 - W_critic = 0
    #                  item 2: others B, B: S(r1) = 0, S(critic) = 1    -> d = 0 - 1 = -1
    #                  item 3: others B, A: S(r1) = 1/2, S(critic) = 1/2 -> d = 0
    #                  item 4: others A, A: S(r1) = 0 (tie), S(critic) = 1 -> d = -1
    d1 = [0, -1, 0, -1]
    # Leaving r2 out:  items 1-4: r2 and the critic agree with exactly the same others each time -> d = 0 x 4
    d2 = [0, 0, 0, 0]
    # Leaving r3 out:  item 3: others B, B: S(r3) = 0 (A), S(critic) = 1 -> d = -1; the rest 0
    d3 = [0, 0, -1, 0]
    # The critic is at least as good as the reviewer on every item: W_critic = 1 throughout, so rho = 1.
    out = alt_test.alt_test(pairwise_example(), names={1: "r1", 2: "r2", 3: "r3"}, min_items=4)
    # H0: mean(d) >= epsilon (0.2) against "less": scipy's one-sample t-test on d.
    # r1: mean -0.5, sd sqrt(1/3), t = (-0.5 - 0.2) / (sqrt(1/3) / 2) = -2.42 on 3 df -> p ~ 0.047
    # r2: d has no spread and mean 0 < 0.2: t = -inf -> p = 0
    # r3: mean -0.25, sd 0.5, t = (-0.25 - 0.2) / 0.25 = -1.8 on 3 df -> p ~ 0.085
    want = [float(sps.ttest_1samp(d, 0.2, alternative="less").pvalue) for d in (d1, d2, d3)]
    assert want[0] == pytest.approx(0.0467, abs=1e-3)
    assert want[2] == pytest.approx(0.0849, abs=1e-3)
    got = [r["p_value"] for r in out["per_reviewer"]]
    assert got == pytest.approx(want)
    # Benjamini-Yekutieli with m = 3, c(3) = 1 + 1/2 + 1/3 = 11/6: sorted p (0, 0.047, 0.085) scaled by
    # m c(m) / rank = 5.5, 2.75, 1.83 -> 0, 0.128, 0.156 (then the running minimum from the top): only r2 is
    # rejected at q = 0.05, so the critic wins against one reviewer of three.
    assert [r["rejected"] for r in out["per_reviewer"]] == [False, True, False]
    assert out["winning_rate"] == pytest.approx(1 / 3)
    assert out["passed"] is False  # omega < 0.5: four items are too few to show it, although rho = 1
    assert out["advantage_probability"] == 1.0
    assert out["epsilon"] == 0.2
    assert out["n_items"] == 4
    assert set(out) == {"epsilon", "winning_rate", "passed", "advantage_probability", "n_items", "per_reviewer"}
    assert set(out["per_reviewer"][0]) == {"reviewer", "p_value", "rejected"}


def test_pointwise_alignment_is_one_minus_the_rmse_to_the_others_as_a_fraction_of_the_range() -> None:
    # One item, three reviewers at 0.2, 0.4, 0.9 of the range, critic at 0.5.
    v = alt_test.Verdicts.of(item=[7] * 3, reviewer=[1, 2, 3], value=[0.2, 0.4, 0.9], pairwise=[False] * 3,
                             critic=[0.5] * 3)  # fmt: skip
    others, s_human, s_critic = alt_test.leave_one_out(v)
    assert others.tolist() == [2, 2, 2]
    # Reviewer 1 left out: the others are 0.4 and 0.9.
    assert s_human[0] == pytest.approx(1 - np.sqrt(((0.2 - 0.4) ** 2 + (0.2 - 0.9) ** 2) / 2))
    assert s_critic[0] == pytest.approx(1 - np.sqrt(((0.5 - 0.4) ** 2 + (0.5 - 0.9) ** 2) / 2))


def panel(seed: int, critic: str) -> alt_test.Verdicts:
    """Five reviewers scoring 60 items around a true quality (noise 0.1 of the range); the critic either the
    reviewers' mean or random."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 1, 60)
    scores = np.clip(truth[:, None] + rng.normal(0, 0.1, (60, 5)), 0, 1)
    judged = scores.mean(1) if critic == "mean" else rng.uniform(0, 1, 60)
    item = np.repeat(np.arange(60), 5)
    return alt_test.Verdicts.of(item=item, reviewer=np.tile(np.arange(5), 60), value=scores.ravel(),
                                pairwise=np.zeros(300, dtype=bool), critic=np.repeat(judged, 5))  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_critic_equal_to_the_reviewers_mean_passes_and_a_random_one_fails(seed: int) -> None:
    good = alt_test.alt_test(panel(seed, "mean"), names={})
    assert good["passed"] is True
    assert good["advantage_probability"] > 0.8
    bad = alt_test.alt_test(panel(seed, "random"), names={})
    assert bad["passed"] is False
    assert bad["winning_rate"] == 0.0


def test_fewer_than_three_reviewers_with_enough_items_gives_the_reason() -> None:
    out = alt_test.alt_test(pairwise_example(), names={})  # 4 items each, the default needs 30
    assert set(out) == {"reason"}
    assert "needs 3" in out["reason"]


def test_the_human_ceiling_needs_no_critic() -> None:
    v = panel(3, "mean")
    no_critic = alt_test.Verdicts.of(item=v.item, reviewer=v.reviewer, value=v.value, pairwise=v.pairwise,
                                     critic=np.full(v.item.size, np.nan))  # fmt: skip
    out = alt_test.human_ceiling(no_critic, names={0: "ann"})
    block = out["pointwise"]
    assert block["overall"]["human"]["n"] == 300
    assert block["overall"]["critic"]["value"] is None
    assert "ann" in [row["reviewer"] for row in block["reviewers"]]
    lo, hi = block["overall"]["human"]["ci95"]
    assert lo <= block["overall"]["human"]["value"] <= hi
    # The critic that is the reviewers' mean sits above the ceiling: closer to each reviewer's peers than they are.
    with_critic = alt_test.human_ceiling(v, names={})["pointwise"]["overall"]
    assert with_critic["critic"]["value"] > with_critic["human"]["value"]


def test_an_alignment_near_one_keeps_its_interval_within_zero_and_one() -> None:
    """Alignments are shares (pairwise) or 1 - RMSE / range (pointwise): in [0, 1]. Reviewers who agree on all but
    one of twelve items have a mean of 0.958 whose normal interval passes 1; it is cut there."""
    shares = np.array([1.0] * 11 + [0.5])
    out = alt_test.mean_stat(shares, reason="none")
    half = 1.959963984540054 * shares.std() / np.sqrt(shares.size)
    assert out["value"] + half > 1
    assert out["ci95"] == pytest.approx([out["value"] - half, 1.0])
