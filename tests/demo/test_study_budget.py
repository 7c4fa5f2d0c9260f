"""The study at the pilot's budget (issue 29): the budget option resolves to
the pilot's own configs key for key (so the pilot's students are the
study's), every budget keeps its own folders and report, and the pilot's
records are imported under the study's names with their source."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from demo.study import arms, cli, design
from demo.study.import_pilot import import_pilot


@pytest.mark.parametrize('arm', ['kdep10', 'sup10'])
@pytest.mark.parametrize('budget', [4, 10])
def test_budget_options_are_the_pilots_configs(arm, budget):
    base = osp.join(arms.STUDY_CONFIGS, design.ARM_BY_NAME[arm]['config'])
    pilot = osp.join(arms.STUDY_CONFIGS,
                     design.ARM_BY_NAME[f'{arm}_{budget}x']['config'])
    options = {
        k: int(v)
        for k, v in (o.split('=', 1)
                     for o in arms.budget_options(base, budget))
    }
    cfg = Config.fromfile(base)
    cfg.merge_from_dict(options)
    got, want = cfg.to_dict(), Config.fromfile(pilot).to_dict()
    # the top-level variable max_epochs is only read by the config itself
    assert got.pop('max_epochs') * budget == want.pop('max_epochs')
    assert got == want
    assert arms.budget_options(base, 1) == []


def test_budget_options_keep_a_run_without_validation():
    cached = osp.join(arms.STUDY_CONFIGS,
                      design.ARM_BY_NAME['cached10']['config'])
    options = arms.budget_options(cached, 4)
    assert 'train_cfg.max_epochs=120' in options
    assert not any(o.startswith('train_cfg.val_interval') for o in options)
    full = osp.join(arms.STUDY_CONFIGS,
                    design.ARM_BY_NAME['kdep100']['config'])
    assert 'default_hooks.checkpoint.interval=1' in \
        arms.budget_options(full, 4)  # 12 epochs: every epoch


def test_every_budget_has_its_own_folders_and_report():
    args = cli.parse_args([])
    assert args.budget == design.BUDGET == 4
    assert args.work_dir.endswith(osp.join('work_dirs', 'study_4x'))
    assert args.results_dir.endswith(osp.join('docs', 'study_runs', '4x'))
    assert args.report_suffix == ''
    names = [a['name'] for a in args.arms]
    assert 'sup100_5x' not in names and 'kdep10' in names
    old = cli.parse_args(['--budget', '1'])
    assert old.work_dir.endswith(osp.join('work_dirs', 'study'))
    assert old.results_dir.endswith(osp.join('docs', 'study_runs'))
    assert old.report_suffix == '_1x'
    assert 'sup100_5x' in [a['name'] for a in old.arms]
    pilot = cli.parse_args(['--pilot'])
    assert pilot.budget == 1
    assert pilot.results_dir.endswith(osp.join('study_runs', 'pilot'))
    with pytest.raises(SystemExit):
        cli.parse_args(['--arms', 'sup100_5x'])  # not run at 4x
    with pytest.raises(SystemExit):
        cli.parse_args(['--arms', 'kdep10_4x'])  # would be 16x
    with pytest.raises(SystemExit):
        cli.parse_args(['--pilot', '--budget', '4'])


def _write(path, **rec):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(rec, f)


def _read(path):
    with open(path) as f:
        return json.load(f)


def test_import_pilot_renames_and_names_the_source(tmp_path):
    runs, work = tmp_path / 'runs', tmp_path / 'work'
    cfg = 'demo/configs/study/kdep_mbv2-r18_pool-10pct-4x.py'
    _write(
        runs / 'pilot/pretrain/kdep10_4x_p1.json',
        arm='kdep10_4x',
        config=cfg,
        seed=1)
    _write(runs / 'pilot/pretrain/kdep10_10x.json', arm='kdep10_10x')
    _write(
        work / 'study_pilot/pretrain/kdep10_4x_p1/pretrain.json',
        arm='kdep10_4x',
        checkpoint='/w/s.pth')
    _write(runs / 'pilot/probe/spatial/kdep10_4x_p1.json', test=1.0)
    _write(runs / 'pilot/probe/cls/scratch_p2.json', test=2.0)
    _write(runs / 'pilot/finetune/seg/kdep10_4x/lr0.05_s1_p1.json', test=3.0)
    _write(runs / 'pilot/finetune/seg/kdep10/lr0.05_s1_p1.json', test=4.0)
    _write(runs / 'finetune/det/scratch/lr0.02_zir0_s2.json', test=5.0)
    _write(runs / 'finetune/det/kdep10/lr0.02_s0.json', test=6.0)
    assert import_pilot(4, str(runs), str(work)) == 5
    out = runs / '4x'
    rec = _read(out / 'pretrain/kdep10_p1.json')
    assert rec['arm'] == 'kdep10' and rec['budget'] == 4
    assert rec['config'] == 'demo/configs/study/kdep_mbv2-r18_pool-10pct.py'
    assert rec['imported_from'].endswith('pilot/pretrain/kdep10_4x_p1.json')
    local = _read(work / 'study_4x/pretrain/kdep10_p1/pretrain.json')
    assert local['checkpoint'] == '/w/s.pth'
    assert _read(out / 'probe/spatial/kdep10_p1.json')['test'] == 1.0
    assert _read(out / 'probe/cls/scratch_p2.json')['test'] == 2.0
    assert _read(out / 'finetune/seg/kdep10/lr0.05_s1_p1.json')['test'] == 3
    assert _read(out / 'finetune/det/scratch/lr0.02_zir0_s2.json')['test'] \
        == 5.0
    # the pilot's 1x and 10x arms, and pre-trained arms at 1x, are not
    assert sorted(os.listdir(out / 'pretrain')) == ['kdep10_p1.json']
    assert not osp.exists(out / 'finetune/det/kdep10')
    assert import_pilot(4, str(runs), str(work)) == 0  # kept as they are
