import numpy as np
import pytest

from smart_sql.smart.mix import mix_cost, solve_mix

COSTS = [10.0, 1.0, 0.1]
"""reference, a good cheap model, a useless cheaper one"""


def test_a_model_with_slack_is_mixed_with_the_useless_one():
    mix = solve_mix(COSTS, [1.0, 0.95, 0.0], 0.9, reference=0)
    share = 0.9 / 0.95
    assert mix.shares == pytest.approx([0.0, share, 1 - share])
    assert mix.cost_per_item == pytest.approx(share * 1.0 + (1 - share) * 0.1)


def test_a_high_target_mixes_the_cheap_model_with_the_reference():
    mix = solve_mix(COSTS, [1.0, 0.95, 0.0], 0.98, reference=0)
    assert mix.shares == pytest.approx([0.6, 0.4, 0.0])
    assert mix.cost_per_item == pytest.approx(6.4)


def test_single_uses_one_model_besides_the_reference():
    mix = solve_mix(COSTS, [1.0, 0.95, 0.0], 0.9, reference=0, single=True)
    assert mix.shares == pytest.approx([0.0, 1.0, 0.0])


def test_unreachable_target_falls_back_to_the_reference():
    mix = solve_mix(COSTS, [1.0, 0.5, 0.0], 1.0, reference=0)
    assert mix.shares == pytest.approx([1.0, 0.0, 0.0])


def test_nothing_owed_goes_to_the_cheapest_model():
    mix = solve_mix(COSTS, [1.0, 0.95, 0.0], 0.0, reference=0)
    assert mix.shares == pytest.approx([0.0, 0.0, 1.0])


@pytest.mark.parametrize("single", [False, True])
def test_closed_form_agrees_with_the_linear_program(single):
    rng = np.random.default_rng(7)
    costs = np.array([30.0, 1.5, 1.0, 0.4])
    agreements = rng.random((60, 4))
    agreements[:, 0] = 1.0
    owed = rng.random(60)
    fast = mix_cost(costs, agreements, owed, reference=0, single=single)
    slow = [solve_mix(costs, a, o, reference=0, single=single).cost_per_item for a, o in zip(agreements, owed)]
    assert fast == pytest.approx(slow)
