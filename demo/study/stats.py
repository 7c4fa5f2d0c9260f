"""The study's statistics: mean and standard error over seeds, and paired
differences between two arms.

Two arms fine-tuned with the same seed share the seed's head
initialisation and data order, so the per-seed difference removes that
part of the noise; its standard error over seeds is the honest yardstick
for "this difference exceeds the noise". With three seeds the 95%
interval uses Student's t with two degrees of freedom (4.30 standard
errors), so only differences that are large against their seed-to-seed
variation are called clear.
"""
import math
from typing import Dict, Optional, Sequence

from scipy import stats as scipy_stats


def mean_se(values: Sequence[float]) -> Dict:
    """Mean, standard error of the mean (sample std / sqrt(n); 0 for one
    value), min and max."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.0
    return dict(
        mean=mean,
        se=math.sqrt(var / n),
        min=min(values),
        max=max(values),
        n=n)


def paired(a: Dict,
           b: Dict,
           level: float = 0.95,
           min_n: int = 3) -> Optional[Dict]:
    """The seed-paired difference ``a - b`` of two arms' scores.

    Args:
        a, b (dict): Score per seed.
        level (float): Confidence level of the interval.
        min_n (int): Seeds needed before a difference may be called clear
            (with two, one test-set step of the same size in both seeds
            gives a zero-width interval).

    Returns:
        dict or None: ``mean``, ``se``, ``n`` (seeds both have), the
        interval ``low`` / ``high`` (None for one seed), ``clear`` (at least
        ``min_n`` seeds and the interval excludes 0) and the per-seed
        ``diffs``; None when no seed is shared.
    """
    seeds = sorted(set(a) & set(b), key=str)
    if not seeds:
        return None
    diffs = {s: a[s] - b[s] for s in seeds}
    res = mean_se(list(diffs.values()))
    res.update(diffs=diffs, low=None, high=None, clear=False)
    if res['n'] > 1:
        half = float(scipy_stats.t.ppf(0.5 + level / 2,
                                       res['n'] - 1)) * res['se']
        res.update(
            low=res['mean'] - half,
            high=res['mean'] + half,
            clear=bool(res['n'] >= min_n and abs(res['mean']) > half))
    return res
