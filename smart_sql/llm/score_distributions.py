"""How confident the simulated models say they are: a Beta distribution of scores for the answers
that agree with the reference's and another for those that do not.

The further apart the two, the more a score tells about an answer (`informative`, `sharp`); equal
ones tell nothing (`uninformative`); `inverted` ones mislead; `miscalibrated` ones rank the answers
well but claim far more confidence than the agreement rate warrants. A score is the quantile of its
distribution at a number in [0, 1) fixed by a hash, so the same request always gets the same score.
"""

from __future__ import annotations

from typing import NamedTuple


class ScoreDistribution(NamedTuple):
    """Beta parameters (alpha, beta) of the scores of agreeing and of disagreeing answers."""

    agreeing: tuple[float, float]
    disagreeing: tuple[float, float]

    def draw(self, agrees: bool, quantile: float) -> float:
        from scipy.special import betaincinv

        alpha, beta = self.agreeing if agrees else self.disagreeing
        return float(betaincinv(alpha, beta, quantile))


PRESETS = {
    "uninformative": ScoreDistribution((4.0, 2.0), (4.0, 2.0)),
    "informative": ScoreDistribution((6.0, 2.0), (2.0, 3.0)),
    "sharp": ScoreDistribution((20.0, 1.0), (1.0, 4.0)),
    "miscalibrated": ScoreDistribution((30.0, 1.0), (12.0, 1.0)),
    "inverted": ScoreDistribution((2.0, 3.0), (6.0, 2.0)),
}
"""Named settings: mean score of agreeing / disagreeing answers 0.67/0.67, 0.75/0.4, 0.95/0.2,
0.97/0.92 and 0.4/0.75."""
