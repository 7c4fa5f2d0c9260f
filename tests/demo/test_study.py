"""The evidence study's own logic: learning-rate selection on val, mean /
spread over seeds, resuming, the time budget, the table and the figure (the
study itself is not run here; its configs are checked in
test_study_configs.py)."""
import json
import os
import os.path as osp

import pytest

import demo.finetune
from demo.study import arms, cli, design, report, summary, tables, units


def write_result(args, task, arm, lr, seed, val, test, zir=None):
    if arm == 'scratch' and zir is None:
        zir = True
    path = units.result_file(args, task, arm, (lr, zir), seed)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(dict(val=val, test=test, value=test, seconds=1.0), f)


def test_lr_is_chosen_on_val_and_seeds_are_averaged(tmp_path):
    args = cli.parse_args([
        '--work-dir',
        str(tmp_path), '--arms', 'scratch,kdep10', '--tasks', 'cls,det',
        '--seeds', '0,1'
    ])
    # cls / kdep10: lr 0.05 wins on val although 0.02 is better on test
    write_result(args, 'cls', 'kdep10', 0.02, 0, val=70, test=90)
    write_result(args, 'cls', 'kdep10', 0.05, 0, val=75, test=80)
    write_result(args, 'cls', 'kdep10', 0.05, 1, val=74, test=84)
    c = units.collect(args, 'cls', 'kdep10')
    assert c['lr'] == 0.05 and set(c['runs']) == {0, 1}
    # det / kdep10: the grid is finished, seed 1 is not
    write_result(args, 'det', 'kdep10', 0.01, 0, val=0.2, test=0.25)
    write_result(args, 'det', 'kdep10', 0.02, 0, val=0.1, test=0.3)
    pre = dict(
        scratch={},
        kdep10={0: dict(seconds=360.0, images_seen=18000, final_val={})})
    s = summary.summarise(args, pre)
    row = {r['arm']: r for r in s['rows']}
    k = row['kdep10']
    assert k['tasks']['cls']['mean'] == pytest.approx(82.0)
    # standard error: sample std (2.83) / sqrt(2)
    assert k['tasks']['cls']['se'] == pytest.approx(2.0)
    assert k['tasks']['det']['mean'] == pytest.approx(25.0)  # mAP x 100
    assert k['tasks']['det']['seeds'] == 1
    assert k['average'] is None  # det has one seed only
    assert k['hours'] == pytest.approx(0.1)
    assert 'det/kdep10' in s['missing'] and 'cls/scratch' in s['missing']
    assert 'cls/kdep10' not in s['missing']
    table = tables.make_table(s, args.tasks)
    assert '| KDEP (SVD+PTS), 10% | 18k, 0.100 h | 82.0 +- 2.0 (lr 0.05)' \
        in table
    assert '25.0 +- 0.0 (1 seed(s)) (lr 0.01) | - |' in table


def test_finished_units_are_reused_and_time_budget_stops(
        tmp_path, monkeypatch):
    out = tmp_path / 'docs'
    argv = [
        '--work-dir',
        str(tmp_path), '--out-dir',
        str(out), '--arms', 'scratch', '--tasks', 'cls', '--stage', 'finetune',
        '--max-minutes', '0'
    ]
    args = cli.parse_args(argv)
    for lr in (0.02, 0.05):
        for zir in (True, False):
            write_result(
                args, 'cls', 'scratch', lr, 0, val=60, test=61, zir=zir)
    calls = []

    def fake_run(cmd, log):
        calls.append(cmd)
        if 'tools/train.py' in cmd:
            raise AssertionError('no fine-tune may start: budget spent')

    monkeypatch.setattr(cli, 'run_command', fake_run)
    monkeypatch.setattr(demo.finetune, 'run_command', fake_run)
    # seed 1 would be next: the budget stops it cleanly
    assert cli.main(argv) == 0
    assert len(calls) == 1 and calls[0][1:3] == ['-m', 'demo.prepare_assets']
    saved = json.loads((out / 'study_results.json').read_text())
    assert saved['missing'] == ['cls/scratch', 'probe/cls/scratch']
    cell = saved['rows'][0]['tasks']['cls']
    # a tie: the smaller lr, then zero_init_residual False
    assert (cell['lr'], cell['zero_init_residual']) == (0.02, False)
    assert (out / 'study_results.md').exists()


def test_figure(tmp_path):
    rows = [
        dict(arm='scratch', label='from scratch', hours=0, average=50.0),
        dict(arm='sup100', label='sup', hours=0.05, average=60.0),
        dict(arm='sup100_5x', label='sup 5x', hours=0.25, average=65.0),
        dict(arm='kdep10', label='KDEP', hours=0.06, average=66.0),
        dict(arm='nopts10', label='no PTS', hours=0.06, average=None),
    ]
    out = report.plot_fig1(dict(rows=rows), str(tmp_path / 'f.png'))
    assert osp.getsize(out) > 5000
    assert report.plot_fig1(dict(rows=rows[-1:]), str(tmp_path / 'g.png')) \
        is None


def test_bad_arguments_are_refused():
    for argv in (['--arms', 'kdep10,kdep5'], ['--tasks',
                                              'depth'], ['--lr-grid', 'cls']):
        with pytest.raises(SystemExit):
            cli.parse_args(argv)
    args = cli.parse_args(['--lr-grid', 'det=0.005,0.01'])
    assert args.lr_grid['det'] == (0.005, 0.01)
    assert args.lr_grid['cls'] == design.LR_GRID['cls']


def test_claim_respects_live_and_takes_over_stale_locks(tmp_path):
    work = str(tmp_path / 'cls' / 'scratch' / 'lr0.02_s0')
    assert units.claim(work)
    assert not units.claim(work)  # held by a live process (this one)
    units.release(work)
    # a dead process's lock on this host is taken over
    dead = 2**22 + 12345
    with open(work + '.lock', 'w') as f:
        f.write(f'{units.socket.gethostname()} {dead}')
    assert not units._alive(dead)
    assert units.claim(work)
    units.release(work)
    # another host's lock is respected (its process cannot be checked)
    with open(work + '.lock', 'w') as f:
        f.write(f'elsewhere.example {os.getpid()}')
    assert not units.claim(work)


def test_processes_sharing_a_work_dir_split_the_units(tmp_path, monkeypatch):
    args = cli.parse_args(
        ['--work-dir',
         str(tmp_path), '--arms', 'scratch', '--tasks', 'cls'])
    args.check_time = lambda: None
    other = units.unit_dir(args, 'cls', 'scratch', (0.02, True), 0)
    assert units.claim(other)  # "another process" runs lr 0.02, seed 0
    runs, sleeps = [], []

    def fake_unit(args_, task, arm, pre, setting, seed):
        runs.append((setting, seed))
        write_result(args_, task, arm['name'], *setting[:1], seed, 50, 50,
                     setting[1])

    def fake_sleep(seconds):
        sleeps.append(seconds)  # meanwhile the other process finishes
        write_result(args, 'cls', 'scratch', 0.02, 0, 70, 70, True)
        units.release(other)

    monkeypatch.setattr(units, 'finetune_unit', fake_unit)
    monkeypatch.setattr(units.time, 'sleep', fake_sleep)
    units.finetune_all(args, args.arms, dict(scratch={}), poll=0.1)
    # the free grid units (both zero_init_residual values: scratch's grid),
    # then (after waiting) seeds 1 and 2 at the setting val chose
    assert runs == [((0.05, True), 0), ((0.02, False), 0), ((0.05, False), 0),
                    ((0.02, True), 1), ((0.02, True), 2)]
    assert sleeps == [0.1]
    assert not list(tmp_path.rglob('*.lock'))


def test_average_and_its_seed_spread(tmp_path):
    args = cli.parse_args([
        '--work-dir',
        str(tmp_path), '--arms', 'kdep10', '--tasks', 'cls,det,segfrozen',
        '--seeds', '0,1'
    ])
    # a readout: reported beside the average, never in it
    write_result(args, 'segfrozen', 'kdep10', 0.02, 0, val=10, test=11)
    write_result(args, 'segfrozen', 'kdep10', 0.05, 0, val=9, test=99)
    write_result(args, 'segfrozen', 'kdep10', 0.02, 1, val=10, test=13)
    write_result(args, 'cls', 'kdep10', 0.02, 0, val=75, test=80)
    write_result(args, 'cls', 'kdep10', 0.05, 0, val=70, test=90)
    write_result(args, 'cls', 'kdep10', 0.02, 1, val=74, test=84)
    write_result(args, 'det', 'kdep10', 0.01, 0, val=0.2, test=0.25)
    write_result(args, 'det', 'kdep10', 0.02, 0, val=0.1, test=0.3)
    write_result(args, 'det', 'kdep10', 0.01, 1, val=0.2, test=0.27)
    pre = dict(
        kdep10={0: dict(seconds=360.0, images_seen=18000, final_val={})})
    s = summary.summarise(args, pre)
    row = s['rows'][0]
    # per-seed averages (80 + 25) / 2 and (84 + 27) / 2
    assert row['average'] == pytest.approx(54.0)
    assert row['average_se'] == pytest.approx(1.5)
    assert s['missing'] == ['probe/cls/kdep10']
    assert tables.make_table(
        s, args.tasks).endswith('| 54.0 +- 1.5 | 12.0 +- 1.0 (lr 0.02) | - |')
    out = report.plot_fig1(s, str(tmp_path / 'f.png'))
    assert osp.getsize(out) > 5000


def test_a_failed_unit_is_an_error_message_and_exit_status_1(
        tmp_path, monkeypatch, capsys):
    argv = [
        '--work-dir',
        str(tmp_path), '--out-dir',
        str(tmp_path / 'docs'), '--arms', 'scratch', '--tasks', 'cls',
        '--stage', 'finetune'
    ]

    def fake_run(cmd, log):
        if 'tools/train.py' in cmd:
            raise demo.DemoError(f'stage failed: {" ".join(cmd)}')

    monkeypatch.setattr(cli, 'run_command', fake_run)
    monkeypatch.setattr(demo.finetune, 'run_command', fake_run)
    assert cli.main(argv) == 1
    assert 'stage failed:' in capsys.readouterr().err
    assert not list(tmp_path.rglob('*.lock'))  # the claim is released


def test_a_study_continued_elsewhere_must_reproduce_its_students(tmp_path):
    """The results directory outlives the work directory: an arm whose
    student is pre-trained again must match the recorded run exactly, or
    the study stops instead of mixing fine-tunes of two students."""
    args = cli.parse_args(['--work-dir', str(tmp_path), '--arms', 'kdep10'])
    arm = args.arms[0]
    recorded = dict(
        arm='kdep10',
        checkpoint='kdep_r18.pth',
        images_seen=17970,
        seconds=160.0,
        final_val={'kdep/r2': 0.0946})
    kept = arms.record_file(args, arm)
    os.makedirs(osp.dirname(kept))
    demo.finetune.dump_json(recorded, kept)
    local = osp.join(args.work_dir, 'pretrain', 'kdep10', 'pretrain.json')
    os.makedirs(osp.dirname(local))
    again = dict(
        recorded,
        checkpoint='/here/kdep_r18.pth',
        seconds=300.0,
        student_digest='abc')
    demo.finetune.dump_json(again, local)
    got = arms.pretrain(args, arm)
    # the recorded run is reported; this machine gives the student file
    assert got['seconds'] == 160.0
    assert got['checkpoint'] == '/here/kdep_r18.pth'
    assert demo.finetune.load_json(kept)['student_digest'] == 'abc'
    assert arms.local_record(args, arm)['checkpoint'] == '/here/kdep_r18.pth'
    # another student (other final val): refused, naming both
    demo.finetune.dump_json(dict(again, final_val={'kdep/r2': 0.0947}), local)
    with pytest.raises(demo.DemoError) as err:
        arms.pretrain(args, arm)
    assert "pre-training arm kdep10 again gave" in str(err.value)
    assert '0.0947' in str(err.value) and '0.0946' in str(err.value)
    assert 'resumed' not in str(err.value)
    # a recorded run that was resumed says why it may not reproduce
    demo.finetune.dump_json(
        dict(demo.finetune.load_json(kept), resumed=True), kept)
    with pytest.raises(demo.DemoError, match='interrupted and resumed'):
        arms.pretrain(args, arm)
