import numpy as np
import pytest
from scipy.stats import beta, hypergeom

from smart_sql.smart.bounds import (FIRST_CHECKPOINT, ErrorAllocation, approximate_upper_rate,
                                    assigned_disagreement_bound, checkpoint_schedule, disagreement_upper_bound,
                                    weighted_assigned_disagreement_bound)


@pytest.mark.parametrize("population, draws, seen, error", [
    (50, 10, 0, 0.05), (200, 60, 7, 0.01), (1000, 30, 30, 0.1), (1000, 999, 3, 0.001), (37, 1, 1, 0.2)])
def test_upper_bound_is_the_largest_plausible_count(population, draws, seen, error):
    counts = np.arange(seen, population - (draws - seen) + 1)
    plausible = counts[hypergeom.cdf(seen, population, counts, draws) > error]
    assert disagreement_upper_bound(population, draws, seen, error) == plausible.max()


def test_upper_bound_matches_clopper_pearson_on_a_huge_population():
    population = 10**8
    for draws, seen, error in [(30, 0, 0.05), (100, 5, 0.025), (500, 40, 0.001)]:
        exact_binomial = beta.ppf(1 - error, seen + 1, draws - seen)
        assert disagreement_upper_bound(population, draws, seen, error) / population == pytest.approx(
            exact_binomial, abs=1e-5)
    all_agree = disagreement_upper_bound(population, 30, 0, 0.05) / population
    assert all_agree == pytest.approx(1 - 0.05 ** (1 / 30), abs=1e-6)


@pytest.mark.parametrize("population, disagreeing, draws, error", [(200, 20, 50, 0.1), (120, 60, 40, 0.05),
                                                                   (500, 5, 100, 0.01)])
def test_upper_bound_covers_the_truth_with_the_promised_probability(population, disagreeing, draws, error):
    outcomes = np.arange(0, min(draws, disagreeing) + 1)
    bounds = disagreement_upper_bound(population, np.full(len(outcomes), draws), outcomes, error)
    missed = hypergeom.pmf(outcomes, population, disagreeing, draws)[bounds < disagreeing].sum()
    assert missed <= error


@pytest.mark.parametrize("population, disagreeing, draws, error", [(200, 20, 50, 0.1), (500, 5, 100, 0.01),
                                                                   (1000, 60, 300, 0.003)])
def test_a_uniform_tie_break_makes_the_miss_probability_exactly_the_level(population, disagreeing, draws, error):
    outcomes = np.arange(0, min(draws, disagreeing) + 1)[:, None]
    tie_breaks = ((np.arange(4000) + 0.5) / 4000)[None, :]
    bounds = disagreement_upper_bound(population, draws, outcomes, error, tie_breaks)
    missed = hypergeom.pmf(outcomes[:, 0], population, disagreeing, draws) @ (bounds < disagreeing).mean(axis=1)
    plain = disagreement_upper_bound(population, draws, outcomes[:, 0], error)
    plain_missed = hypergeom.pmf(outcomes[:, 0], population, disagreeing, draws)[plain < disagreeing].sum()
    assert missed == pytest.approx(error, abs=1e-3 * error + 1e-4)
    assert plain_missed < missed
    assert np.all(bounds <= plain[:, None])
    assert np.all(disagreement_upper_bound(population, draws, outcomes[:, 0], error, 1.0) == plain)


def test_upper_bound_accepts_one_error_level_per_bound():
    levels = np.array([0.1, 0.001])
    bounds = disagreement_upper_bound(1000, 100, np.array([5, 5]), levels)
    assert bounds[0] < bounds[1]


def test_assigned_bound_is_the_exact_hypergeometric_quantile():
    remaining, wrong, assigned, error = 1000, 80, 300, 0.01
    bound = assigned_disagreement_bound(remaining, wrong, assigned, error)
    assert hypergeom.sf(bound, remaining, wrong, assigned) <= error
    assert hypergeom.sf(bound - 1, remaining, wrong, assigned) > error
    assert assigned_disagreement_bound(remaining, 0, assigned, error) == 0
    assert assigned_disagreement_bound(remaining, remaining, assigned, error) == assigned


def test_weighted_assigned_bound_is_looser_than_exact_and_covers_a_simulation():
    exact = assigned_disagreement_bound(1000, 80, 300, 0.01)
    assert weighted_assigned_disagreement_bound(1000, 80, 300, 1, 0.01) >= exact
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 6, size=400)
    wrong_rows = np.where(rng.random(400) < 0.2, counts, 0)
    bound = weighted_assigned_disagreement_bound(400, wrong_rows.sum(), 150, counts.max(), 0.05)
    sums = [wrong_rows[rng.permutation(400)[:150]].sum() for _ in range(2000)]
    assert np.mean(np.array(sums) > bound) <= 0.05


def test_approximate_rate_is_close_to_exact_for_planning():
    for draws, seen in [(100, 5), (500, 30), (1000, 100)]:
        exact = disagreement_upper_bound(10**7, draws, seen, 0.005) / 10**7
        assert approximate_upper_rate(draws, seen, 0.005) == pytest.approx(exact, rel=0.05)


def test_schedule_grows_geometrically_up_to_half_the_table():
    schedule = checkpoint_schedule(10_000)
    assert schedule[0] == FIRST_CHECKPOINT and schedule[-1] <= 5_000
    assert np.all(np.diff(schedule) > 0)
    assert np.all(schedule[1:] / schedule[:-1] < 1.6)
    assert len(checkpoint_schedule(59)) == 0


def test_allocation_spends_exactly_the_error():
    weights = np.array([[0, 0, 0], [1, 3, 1], [0.5, 0, 0]])
    allocation = ErrorAllocation.planned(0.05, weights)
    assert allocation.stage_one.sum() + allocation.stage_two == pytest.approx(0.05)
    assert allocation.stage_one[0].sum() == 0
    levels = allocation.stage_two_levels([False, True, True])
    assert levels[0] == 0 and levels[1] == levels[2] and levels.sum() == pytest.approx(allocation.stage_two)
    assert allocation.stage_two_levels([False, True, False])[1] == pytest.approx(allocation.stage_two)
    uniform = ErrorAllocation.uniform(0.1, np.array([False, True, True]), 4)
    assert uniform.stage_one[1, 0] == pytest.approx(uniform.stage_one[2, 3])


def test_no_error_to_spend_excludes_nothing():
    bounds = disagreement_upper_bound(1000, 100, np.array([0, 7]), np.array([0.0, 0.0]))
    assert list(bounds) == [900, 907]


def test_approximate_rate_without_error_to_spend_is_one():
    rates = approximate_upper_rate(100, np.array([0, 10]), np.array([0.0, 0.01]))
    assert rates[0] == 1.0 and rates[1] == pytest.approx(0.19, abs=0.02)
