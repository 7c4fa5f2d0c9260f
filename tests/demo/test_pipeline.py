"""The demo's own code paths: the report and table from result files, the
plots, stage skipping and argument checks (the full demo is not run)."""
import json
import os.path as osp

import pytest

from demo import DemoError, cli, finetune, report, stages


def fake_scalars(work_dir, epochs=3, iters_per_epoch=4):
    folder = osp.join(work_dir, '20260101_000000', 'vis_data')
    import os
    os.makedirs(folder)
    it = 0
    with open(osp.join(folder, 'scalars.json'), 'w') as f:
        for e in range(1, epochs + 1):
            for _ in range(iters_per_epoch):
                it += 10
                f.write(
                    json.dumps(
                        dict(
                            lr=0.05, loss=15.0 -
                            e, epoch=e, iter=it, step=it)) + '\n')
            f.write(
                json.dumps({
                    'kdep/r2': 0.05 * e,
                    'kdep/r2_top8': 0.2 * e,
                    'kdep/r2_top32': 0.1 * e,
                    'step': e
                }) + '\n')


TASKS = [
    dict(
        task='classification',
        data='ELPV',
        metric='accuracy/top1',
        split='test',
        kdep=dict(value=80.5, lr=0.02),
        scratch=dict(value=75.25, lr=0.05)),
    dict(
        task='detection',
        data='trees',
        metric='coco/bbox_mAP',
        split='val',
        kdep=dict(value=0.10, lr=0.02),
        scratch=dict(value=0.125, lr=0.02)),
    dict(
        task='segmentation',
        data='glyphs',
        metric='mIoU',
        split='val',
        kdep=dict(value=40.0, lr=0.02),
        scratch=dict(value=None, lr=0.05)),
]


def test_table_and_score():
    table = report.make_table(TASKS)
    lines = table.splitlines()
    assert len(lines) == 2 + len(TASKS)
    assert '| 80.5 | 75.2 | +5.2 | 0.02 / 0.05 |' in lines[2]
    assert '| 0.100 | 0.125 | -0.025 |' in lines[3]
    assert '| 40.0 | - | - |' in lines[4]  # a missing arm is shown, not 0
    assert report.kdep_wins(TASKS) == dict(wins=1, losses=1, ties=0, tasks=2)


def test_write_results(tmp_path):
    results = dict(tasks=TASKS, timings=dict(total=12.0))
    report.write_results(str(tmp_path), results, 'a note')
    md = (tmp_path / 'results.md').read_text()
    assert 'KDEP ahead on 1 of 2 tasks' in md and 'a note' in md
    assert 'one seed: not a comparison beyond noise' in md
    assert 'zero_init_residual=True' in md
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['score']['wins'] == 1
    assert saved['tasks'][0]['kdep']['value'] == 80.5


def test_curves_from_scalars_and_plots(tmp_path):
    fake_scalars(str(tmp_path))
    rows = report.read_scalars(str(tmp_path))
    curves = report.pretrain_curves(rows)
    assert curves['epoch'] == [1, 2, 3]
    assert curves['loss'] == [14.0, 13.0, 12.0]
    assert curves['val_epoch'] == [1, 2, 3]
    assert curves['r2_top8'] == pytest.approx([0.2, 0.4, 0.6])
    out = report.plot_pretrain_curves(curves, str(tmp_path / 'c.png'))
    assert osp.getsize(out) > 1000
    spectrum = [100.0 / (i + 1) for i in range(20)] + [0.0] * 12
    out = report.plot_spectrum(
        spectrum, [1.0 / (i + 1)**0.3 for i in range(32)],
        rank=20,
        k=32,
        out_file=str(tmp_path / 's.png'),
        raw_std=[1.0 / (i + 1) for i in range(32)])
    assert osp.getsize(out) > 1000
    assert report.last_metric(rows, 'kdep/r2') == pytest.approx(0.15)
    assert report.best_metric(rows, 'kdep/r2_top8') == pytest.approx(0.6)


def test_finished_arm_is_reused(tmp_path, monkeypatch):
    args = cli.parse_args(['--work-dir', str(tmp_path), '--tasks', 'cls'])
    task = finetune.TASKS['cls']
    work = tmp_path / 'cls' / 'kdep'
    work.mkdir(parents=True)
    (work / 'result.json').write_text(
        json.dumps(dict(value=81.0, val=80.0, lr=0.02, seconds=5.0)))

    def no_run(*a, **k):
        raise AssertionError('a finished stage must not run again')

    monkeypatch.setattr(stages, 'run', no_run)
    res = stages.run_arm(args, task, 'kdep', 'student.pth')
    assert res['value'] == 81.0


def test_interrupted_arm_starts_over_and_fails_loudly(tmp_path, monkeypatch):
    args = cli.parse_args(['--work-dir', str(tmp_path), '--tasks', 'seg'])
    task = finetune.TASKS['seg']
    work = tmp_path / 'seg' / 'scratch'
    work.mkdir(parents=True)
    (work / 'stale.txt').write_text('half-written')
    calls = []
    monkeypatch.setattr(stages, 'run', lambda cmd, log: calls.append(cmd))
    # the runner "ran" but logged no metric: a clear error, no result file
    with pytest.raises(DemoError, match='no mIoU logged'):
        stages.run_arm(args, task, 'scratch', 'student.pth')
    assert not (work / 'stale.txt').exists()
    assert not (work / 'result.json').exists()
    assert calls and 'tools/train.py' in calls[0]
    assert calls[0][2].endswith('_scratch.py')  # scratch: no checkpoint
    assert not any(c.startswith('checkpoint=') for c in calls[0])


def test_arm_result_from_runner_logs(tmp_path, monkeypatch):
    args = cli.parse_args(
        ['--work-dir',
         str(tmp_path), '--tasks', 'det', '--quick'])
    task = finetune.TASKS['det']

    def fake_run(cmd, log):
        import os
        work = cmd[cmd.index('--work-dir') + 1]
        folder = osp.join(work, '20260101_000000')
        os.makedirs(osp.join(folder, 'vis_data'))
        if 'tools/train.py' in cmd:
            with open(osp.join(folder, 'vis_data', 'scalars.json'), 'w') as f:
                f.write(json.dumps({'coco/bbox_mAP': 0.123, 'step': 1}) + '\n')
            ckpt = osp.join(work, 'epoch_1.pth')
            open(ckpt, 'w').close()
            with open(osp.join(work, 'last_checkpoint'), 'w') as f:
                f.write(ckpt)
        else:  # tools/test.py on the last checkpoint, test split
            assert cmd[cmd.index('tools/test.py') + 2].endswith('epoch_1.pth')
            with open(osp.join(folder, '20260101_000000.json'), 'w') as f:
                json.dump({'coco/bbox_mAP': 0.101}, f)

    monkeypatch.setattr(stages, 'run', fake_run)
    res = stages.run_arm(args, task, 'kdep', 'student.pth', lr=0.01)
    assert res['val'] == pytest.approx(0.123) and res['lr'] == 0.01
    assert res['value'] == res['test'] == pytest.approx(0.101)
    assert (tmp_path / 'det' / 'kdep_lr0.01' / 'result.json').exists()
    assert (tmp_path / 'det' / 'kdep_lr0.01' / 'epoch_1.pth').exists()
    # the study's fine-tunes drop their checkpoints once the result is kept
    res = finetune.finetune(
        str(tmp_path / 'study_unit'),
        task,
        'student.pth',
        lr=0.02,
        seed=1,
        keep_checkpoints=False,
        run=fake_run)
    assert res['seed'] == 1 and res['test'] == pytest.approx(0.101)
    assert (tmp_path / 'study_unit' / 'result.json').exists()
    assert not list((tmp_path / 'study_unit').glob('*.pth'))


def test_lr_grid_picks_on_val(tmp_path, monkeypatch):
    args = cli.parse_args([
        '--work-dir',
        str(tmp_path), '--tasks', 'cls', '--lr-grid', '0.01,0.05'
    ])
    scores = {
        ('kdep', 0.01): (70, 71),
        ('kdep', 0.05): (75, 69),
        ('scratch', 0.01): (60, 62),
        ('scratch', 0.05): (65, 64)
    }

    def fake_arm(args, task, arm, student, lr=None):
        val, test = scores[(arm, lr)]
        return dict(val=val, value=test, lr=lr)

    monkeypatch.setattr(stages, 'run_arm', fake_arm)
    out = stages.stage_downstream(args, 4, finetune.TASKS['cls'],
                                  'student.pth')
    assert out['kdep']['lr'] == 0.05 and out['kdep']['value'] == 69
    assert out['scratch']['lr'] == 0.05 and out['scratch']['value'] == 64
    assert out['kdep']['grid'] == {0.01: 71, 0.05: 69}


def test_unknown_task_is_refused():
    with pytest.raises(SystemExit):
        cli.parse_args(['--tasks', 'cls,depth'])


def test_demo_configs_exist_for_every_task_and_arm():
    from mmengine.config import Config
    for task in finetune.TASKS.values():
        lrs = {}
        for arm in stages.ARMS:
            cfg = Config.fromfile(
                finetune.task_config(task, pretrained=arm == 'kdep'))
            init = cfg.model.backbone.get('init_cfg')
            assert (init is not None) == (arm == 'kdep'), (task, arm)
            lrs[arm] = cfg.optim_wrapper.optimizer.lr
        assert all(lr > 0 for lr in lrs.values())


def test_a_failed_stage_is_an_error_message_and_exit_status_1(
        tmp_path, monkeypatch, capsys):

    def failing(args):
        raise DemoError('stage failed: tools/train.py (log: x.log)')

    monkeypatch.setattr(cli, 'run_demo', failing)
    assert cli.main(['--work-dir', str(tmp_path)]) == 1
    assert 'stage failed: tools/train.py (log: x.log)' in \
        capsys.readouterr().err


def test_demo_schedules_shorten_every_part_of_the_schedule():
    """The demo's schedule overrides reach the loop, the scheduler and the
    checkpoint (a schedule that ends later than the loop, or a last
    checkpoint that is never written, would fail only at run time), and
    the configs themselves (the study's protocol) are left as they are."""
    from mmengine.config import Config, DictAction
    args = cli.parse_args(['--tasks', 'cls,det,seg'])
    for name in args.tasks:
        task = finetune.TASKS[name]
        path = finetune.task_config(task, True)
        full = Config.fromfile(path)
        short = Config.fromfile(path)
        opts = stages.demo_schedule(args, task)
        short.merge_from_dict({
            k: DictAction._parse_iterable(v)
            for k, v in (o.split('=', 1) for o in opts)
        })
        loop = short.train_cfg
        length = loop.get('max_epochs') or loop.get('max_iters')
        full_length = (
            full.train_cfg.get('max_epochs')
            or full.train_cfg.get('max_iters'))
        assert length < full_length, name
        scheds = short.param_scheduler
        scheds = scheds if isinstance(scheds, list) else [scheds]
        main = scheds[-1]
        assert main.get('end', length) == length, name
        if 'T_max' in main:
            assert main['T_max'] == length, name
        if name != 'cls':  # cls validates and checkpoints every epoch
            assert loop.val_interval == length, name
            assert short.default_hooks.checkpoint.interval == length, name
    full_args = cli.parse_args(['--full-schedules'])
    assert stages.demo_schedule(full_args, finetune.TASKS['det']) == []
