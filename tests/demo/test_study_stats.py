"""The sharper study's instruments: the linear probe (a convex fit whose
answer is known on constructed features) and the seed-paired statistics."""
import pytest
import torch

from demo.study import probe, stats


def _blobs(n, dims, classes, gen, shift=4.0):
    labels = torch.arange(n) % classes
    centres = torch.randn(classes, dims, generator=gen) * shift
    x = centres[labels] + torch.randn(n, dims, generator=gen)
    return x, labels


def test_probe_separates_separable_features():
    gen = torch.Generator().manual_seed(0)
    x, y = _blobs(600, 32, 5, gen)
    train, val, test = (x[:300], y[:300]), (x[300:450], y[300:450]), \
        (x[450:], y[450:])
    val_acc, test_acc = probe.fit_probe(train, [val, test], l2=1e-3)
    assert val_acc > 99.0 and test_acc > 99.0


def test_probe_on_shuffled_labels_is_at_chance():
    gen = torch.Generator().manual_seed(1)
    x, y = _blobs(2000, 32, 4, gen)
    y = y[torch.randperm(len(y), generator=gen)]  # labels carry no signal
    (test_acc, ) = probe.fit_probe((x[:1000], y[:1000]),
                                   [(x[1000:], y[1000:])],
                                   l2=1e-2)
    assert abs(test_acc - 25.0) < 5.0


def test_probe_choice_is_made_on_val_and_ties_prefer_strong_l2():
    runs = {
        'l20.001': dict(l2=1e-3, zir=None, val=80.0, test=99.0),
        'l20.1': dict(l2=0.1, zir=None, val=85.0, test=70.0),
        'l21': dict(l2=1.0, zir=None, val=85.0, test=60.0),
    }
    assert probe.select_probe(runs) == 'l21'
    runs['l21']['val'] = 84.0
    assert probe.select_probe(runs) == 'l20.1'


def test_mean_and_standard_error():
    r = stats.mean_se([1.0, 2.0, 6.0])
    assert r['mean'] == pytest.approx(3.0)
    # sample std sqrt(7) over sqrt(3)
    assert r['se'] == pytest.approx((7.0 / 3)**0.5)
    assert (r['min'], r['max'], r['n']) == (1.0, 6.0, 3)
    assert stats.mean_se([5.0])['se'] == 0.0


def test_paired_difference_removes_the_shared_seed_noise():
    # per-seed scores swing by 10 points, the difference is always ~+1
    a = {0: 50.0, 1: 60.0, 2: 70.0}
    b = {0: 49.0, 1: 58.8, 2: 69.1}
    d = stats.paired(a, b)
    assert d['mean'] == pytest.approx(1.0333, abs=1e-3)
    assert d['n'] == 3 and d['clear']
    # t(0.975, 2) = 4.303
    assert d['high'] - d['mean'] == pytest.approx(4.303 * d['se'], rel=1e-3)
    # unpaired, the same means would be far inside the seed spread
    assert stats.mean_se(list(a.values()))['se'] > 5.0


def test_paired_difference_within_noise_is_not_clear():
    d = stats.paired({0: 50.0, 1: 52.0, 2: 49.0}, {0: 51.0, 1: 50.0, 2: 49.5})
    assert d['low'] < 0 < d['high'] and not d['clear']
    assert stats.paired({0: 1.0}, {1: 2.0}) is None  # no shared seed
    one = stats.paired({0: 3.0, 1: 1.0}, {0: 1.0})
    assert one['n'] == 1 and one['low'] is None and not one['clear']
    # two seeds with the same difference: a zero-width interval, not clear
    two = stats.paired({0: 50.2, 1: 60.2}, {0: 50.0, 1: 60.0})
    assert two['low'] == pytest.approx(two['high']) and not two['clear']


def test_a_pre_training_timed_under_load_is_marked_busy():
    from demo.study.summary import busy_note
    from demo.study.tables import make_table
    assert busy_note(dict(load_average=2.2, cpus=2)) is None
    assert busy_note(dict()) is None  # records before the load was kept
    assert '4.1 on 2 cores' in busy_note(dict(load_average=4.1, cpus=2))
    assert busy_note(dict(load_average=0.1, cpus=2,
                          timing_note='by hand')) == 'by hand'
    row = dict(
        label='arm A',
        tasks={},
        probes={},
        images_seen=18000,
        hours=0.1,
        average=None,
        busy='by hand')
    table = make_table(
        dict(rows=[row, dict(row, label='arm B', busy=None)]), ['cls'])
    assert '| arm A | 18k, 0.100 h (busy) |' in table
    assert '| arm B | 18k, 0.100 h |' in table
    assert '(busy) arm A:' in table and '(busy) arm B' not in table


def test_holm_on_a_known_example():
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06,
    # 0.04 x1 = 0.04 -> 0.06 (non-decreasing)
    got = stats.holm([0.01, 0.04, 0.03, 0.005])
    assert got == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_p_value_matches_the_interval():
    d = stats.paired({0: 3.0, 1: 5.0, 2: 4.0}, {0: 0.0, 1: 0.0, 2: 0.0})
    # an interval at level 1 - p just touches 0
    low, _ = stats.interval(d, 1 - d['p'])
    assert low == pytest.approx(0.0, abs=1e-9)
    assert d['clear'] and d['p'] < 0.05


def test_equivalence_is_claimed_only_inside_the_margin():
    tight = stats.paired({0: 0.1, 1: -0.1, 2: 0.05}, {0: 0, 1: 0, 2: 0})
    loose = stats.paired({0: 2.0, 1: -2.0, 2: 0.5}, {0: 0, 1: 0, 2: 0})
    big = stats.paired({0: 5.0, 1: 5.2, 2: 4.9}, {0: 0, 1: 0, 2: 0})
    out = stats.primary_family([
        dict(diff=tight, margin=1.0),
        dict(diff=loose, margin=1.0),
        dict(diff=big),
        dict(diff=None)
    ])
    assert out[0]['verdict'] == 'equal within 1'
    assert -1 < out[0]['low'] and out[0]['high'] < 1
    # a mean near 0 with a wide interval is not "equal"
    assert out[1]['verdict'] == 'not shown'
    assert out[1]['low'] < -1 or out[1]['high'] > 1
    assert out[2]['verdict'] == 'differ' and out[2]['p_holm'] < 0.05
    assert out[3]['verdict'] == 'not finished'
    # three finished: the smallest p is tested at 1 - 0.05 / 3
    levels = sorted(o['level'] for o in out[:3])
    assert levels == pytest.approx([0.95, 1 - 0.05 / 2, 1 - 0.05 / 3])


def test_a_family_waits_for_all_its_comparisons():
    """Holm over part of a registered family would correct for too few
    comparisons: until every item has every seed, none gets a verdict."""
    from demo.study import summary

    def row(arm, by_seed):
        return dict(arm=arm, average_by_seed=by_seed, tasks={}, probes={})

    family = (dict(a='a', b='b',
                   on='average'), dict(a='c', b='b', on='average'))
    three = {0: 5.0, 1: 5.2, 2: 4.9}
    rows = [
        row('a', three),
        row('b', {
            0: 0.0,
            1: 0.0,
            2: 0.0
        }),
        row('c', {
            0: 1.0,
            1: 2.0
        })
    ]
    out = summary.primary(rows, family, 3)
    assert [o['verdict'] for o in out] == ['not finished'] * 2
    rows[2] = row('c', {0: 1.0, 1: 2.0, 2: 1.5})
    out = summary.primary(rows, family, 3)
    assert out[0]['verdict'] == 'differ'
    assert sorted(o['level'] for o in out) == pytest.approx([0.95, 0.975])
