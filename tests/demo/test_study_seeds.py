"""Pre-training seeds in the study (issue 29): fine-tune seed s loads the
student of pre-training seed s, the first protocol's files stay apart, a
probe per pre-training seed with its grid edge marked, and the budget
pilot's pre-registered decision rule."""
import json
import os
import os.path as osp

import pytest

from demo.study import arms, cli, design, pilot, probe, summary, tables, units


def _write(path, **res):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(res, f)


def test_finetune_seed_s_loads_pretraining_seed_s(tmp_path, monkeypatch):
    args = cli.parse_args(
        ['--work-dir',
         str(tmp_path), '--arms', 'kdep10', '--tasks', 'cls'])
    args.check_time = lambda: None
    kdep = design.ARM_BY_NAME['kdep10']
    # the first protocol's seed-1 file (pre-training seed 0) is not a unit
    # of this one: its name has no _p1
    old = osp.join(args.results_dir, 'finetune', 'cls', 'kdep10',
                   'lr0.02_s1.json')
    new = units.result_file(args, 'cls', 'kdep10', (0.02, None), 1)
    assert osp.basename(new) == 'lr0.02_s1_p1.json'
    assert units.unit_dir(args, 'cls', 'scratch', (0.02, True), 1).endswith(
        'lr0.02_zir1_s1')  # scratch loads nothing
    _write(old, val=1, test=1)
    loaded = []

    def fake_unit(args_, task, arm, pre, setting, seed):
        loaded.append((seed, pre['checkpoint']))
        _write(
            units.result_file(args_, task, arm['name'], setting, seed),
            val=70 + setting[0],
            test=70)

    monkeypatch.setattr(units, 'finetune_unit', fake_unit)
    pre = dict(kdep10={
        0: dict(checkpoint='s0.pth'),
        1: None,
        2: dict(checkpoint='s2.pth')
    })
    units.finetune_all(args, [kdep], pre, poll=0.0)
    # seed 1's student is not here: its unit is left out, not waited for
    assert loaded == [(0, 's0.pth'), (0, 's0.pth'), (2, 's2.pth')]
    c = units.collect(args, 'cls', 'kdep10')
    assert set(c['runs']) == {0, 2}
    assert arms.run_name(kdep, 0) == 'kdep10'
    assert arms.run_name(kdep, 2) == 'kdep10_p2'
    assert arms.pretrain_options(kdep, 'd', False, 2)[-1] == \
        'randomness.seed=2'
    assert not any('randomness' in o
                   for o in arms.pretrain_options(kdep, 'd', False, 0))


def test_probes_per_pretraining_seed_mark_grid_edges(tmp_path):
    args = cli.parse_args(['--work-dir', str(tmp_path), '--arms', 'kdep10'])
    for seed, (chosen, l2) in enumerate([('l20.001', 1e-3), ('l21e-05', 1e-5),
                                         ('l20.01', 1e-2)]):
        grid = {
            f'l2{v:g}': dict(l2=v, zir=None, val=0, test=0)
            for v in probe.PROBE_L2
        }
        _write(
            probe.probe_file(args, 'cls', 'kdep10', seed),
            grid=grid,
            chosen=chosen,
            test=80.0 + seed,
            val=0)
    got = probe.collect_probe(args, 'cls', 'kdep10')
    assert [got[s]['edge'] for s in (0, 1, 2)] == [None, 'low', None]
    s = summary.summarise(args, dict(kdep10={}))
    cell = s['rows'][0]['probes']['cls']
    assert cell['test'] == pytest.approx(81.0) and cell['seeds'] == 3
    table = tables.make_table(s, args.tasks)
    # an edge choice is never reported unmarked
    assert '81.0 +- 0.6 (L2 on grid edge: s1 low)' in table


def test_committed_probe_choices_on_an_edge_are_marked():
    """Every probe in the committed results whose L2 choice sits on an edge
    of its grid is marked in the committed table."""
    args = cli.parse_args([])
    for task in probe.PROBE_TASKS:
        for arm in design.ARM_NAMES:
            for seed, res in probe.collect_probe(args, task, arm).items():
                if res['edge'] is None:
                    continue
                s = summary._probe_cell({seed: res})
                assert 'L2 on grid edge' in tables._probe_text(s)


def _gap(mean, half, n=3):
    return dict(
        mean=mean,
        low=mean - half,
        high=mean + half,
        n=n,
        clear=mean - half > 0 or mean + half < 0)


def test_pilot_decision_rule():
    budgets = (1, 4, 10)
    # 4x: clear but not larger than 1x; 10x: clear and larger -> 10x
    gaps = {
        ('kdep - scratch', 'seg'): {
            1: _gap(2.0, 1.0),
            4: _gap(1.5, 1.0),
            10: _gap(3.0, 1.0)
        }
    }
    assert pilot.decide(budgets, gaps)['budget'] == 10
    gaps = {('kdep - sup', 'probe'): {b: _gap(0.5, 2.0) for b in budgets}}
    got = pilot.decide(budgets, gaps)
    assert got['budget'] is None and 'stays at 1x' in got['text']
    gaps[('kdep - sup', 'probe')][10] = None
    assert pilot.decide(budgets, gaps)['text'] == 'not finished'


def test_pilot_arms_and_their_configs():
    args = cli.parse_args(['--pilot'])
    names = [a['name'] for a in args.arms]
    assert names == [
        'scratch', 'kdep10', 'sup10', 'kdep10_4x', 'sup10_4x', 'kdep10_10x',
        'sup10_10x'
    ]
    assert args.tasks == ['cls', 'mnist', 'seg']
    assert design.arm_tasks(design.ARM_BY_NAME['kdep10'], args.tasks,
                            True) == ['seg']
    from mmengine.config import Config
    for x in (4, 10):
        for base in ('kdep10', 'sup10'):
            a = design.ARM_BY_NAME[f'{base}_{x}x']
            cfg = Config.fromfile(osp.join(arms.STUDY_CONFIGS, a['config']))
            ref = Config.fromfile(
                osp.join(arms.STUDY_CONFIGS,
                         design.ARM_BY_NAME[base]['config']))
            assert cfg.train_cfg.max_epochs == 30 * x
            assert cfg.param_scheduler.T_max == 30 * x
            # nothing else changes
            for key in ('model', 'optim_wrapper', 'train_dataloader'):
                assert cfg[key] == ref[key], (a['name'], key)


def test_a_recorded_pretraining_is_not_run_again_without_reproduce(
        tmp_path, monkeypatch):
    argv = [
        '--work-dir',
        str(tmp_path), '--out-dir',
        str(tmp_path / 'docs'), '--arms', 'kdep10', '--tasks', 'cls',
        '--seeds', '0', '--stage', 'pretrain'
    ]
    args = cli.parse_args(argv)
    kdep = design.ARM_BY_NAME['kdep10']
    _write(
        arms.record_file(args, kdep),
        arm='kdep10',
        images_seen=1,
        seconds=1.0,
        final_val={},
        config='c.py',
        epochs=1)
    ran = []
    monkeypatch.setattr(
        arms, 'pretrain', lambda a, arm, seed=0: ran.append(seed))
    monkeypatch.setattr(cli, 'pretrain', arms.pretrain)
    monkeypatch.setattr(cli, 'run_command', lambda cmd, log: None)
    assert cli.main(argv) == 0
    assert ran == []  # recorded: its student is simply not here
    assert cli.main(argv + ['--reproduce']) == 0
    assert ran == [0]
