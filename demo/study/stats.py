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
from typing import Dict, List, Optional, Sequence

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
        interval ``low`` / ``high`` and the two-sided ``p`` (None for one
        seed), ``clear`` (at least ``min_n`` seeds and the interval
        excludes 0; uncorrected) and the per-seed ``diffs``; None when no
        seed is shared.
    """
    seeds = sorted(set(a) & set(b), key=str)
    if not seeds:
        return None
    diffs = {s: a[s] - b[s] for s in seeds}
    res = mean_se(list(diffs.values()))
    res.update(diffs=diffs, low=None, high=None, clear=False, p=None)
    if res['n'] > 1:
        low, high = interval(res, level)
        res.update(
            low=low,
            high=high,
            p=t_pvalue(res),
            clear=bool(res['n'] >= min_n and (low > 0 or high < 0)))
    return res


def interval(d: Dict, level: float) -> tuple:
    """The two-sided Student-t interval of a mean (``mean``, ``se``,
    ``n`` > 1) at ``level``."""
    half = float(scipy_stats.t.ppf(0.5 + level / 2, d['n'] - 1)) * d['se']
    return d['mean'] - half, d['mean'] + half


def t_pvalue(d: Dict, margin: Optional[float] = None) -> float:
    """The p-value of a seed-paired difference (``mean``, ``se``, ``n`` >
    1): two-sided against 0, or with ``margin`` the equivalence test's
    (the larger of the two one-sided p-values against -margin and
    +margin). A zero standard error gives 0 or 1."""
    df = d['n'] - 1

    def above(shift):  # P(T >= t) for H0: difference <= shift
        if d['se'] == 0:
            return 0.0 if d['mean'] > shift else 1.0
        return float(scipy_stats.t.sf((d['mean'] - shift) / d['se'], df))

    if margin is None:
        return min(1.0, 2 * min(above(0.0), 1 - above(0.0)))
    return max(above(-margin), 1 - above(margin))


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values (in the order given): the i-th
    smallest of m times (m - i + 1), made non-decreasing, at most 1."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def primary_family(items: Sequence[Dict], alpha: float = 0.05) -> List[Dict]:
    """Holm-correct a family of pre-registered comparisons.

    Args:
        items: Each a seed-paired difference (:func:`paired`, None when
            not finished) under ``diff`` and an optional equivalence
            ``margin``.
        alpha (float): The family-wise error rate.

    Returns:
        The items with ``p`` (the test's p-value: two-sided, or the
        equivalence test's), ``p_holm``, ``level`` (the step-down level of
        its rank, ``1 - alpha / (m - rank)``), the interval ``low`` /
        ``high`` at that level, and ``verdict``: 'differ' (a difference
        with ``p_holm`` < alpha), 'equal within m' (an equivalence item
        whose whole interval lies inside +-margin), or 'not shown'. The
        family is the finished items only (``verdict`` 'not finished'
        otherwise).
    """
    done = [
        i for i, it in enumerate(items)
        if it.get('diff') and it['diff'].get('n', 0) > 1
    ]
    ps = [t_pvalue(items[i]['diff'], items[i].get('margin')) for i in done]
    adjusted = holm(ps)
    order = sorted(range(len(done)), key=lambda k: ps[k])
    out = [dict(it, verdict='not finished') for it in items]
    for rank, k in enumerate(order):
        it = out[done[k]]
        level = 1 - alpha / (len(done) - rank)
        low, high = interval(it['diff'], level)
        margin = it.get('margin')
        if margin is None:
            verdict = 'differ' if adjusted[k] < alpha else 'not shown'
        else:
            verdict = (f'equal within {margin:g}'
                       if -margin < low and high < margin else 'not shown')
        it.update(
            p=ps[k],
            p_holm=adjusted[k],
            level=level,
            low=low,
            high=high,
            verdict=verdict)
    return out
