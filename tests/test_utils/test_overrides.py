"""``--cfg-options`` keys that change nothing are named, with the fix."""
import os.path as osp
import subprocess
import sys

from mmengine.config import Config

from demo import CONFIG_DIR, ROOT
from kdep_mm.utils.overrides import holders, unread_overrides
from tests.helpers.tiny import REAL_CONFIG, run_tool_failing

REPO_CFG = osp.join(CONFIG_DIR, 'pretrain', 'kdep_mbv2-r18_demo-pool.py')


def test_variable_override_names_the_keys_that_hold_it():
    cfg = Config.fromfile(REPO_CFG)
    msg, = unread_overrides(cfg, {'data_root': '/elsewhere'})
    assert "'data_root' is a variable of the config file" in msg
    for key in ('train_dataloader.dataset.data_root',
                'val_dataloader.dataset.data_root',
                'model.teacher.checkpoint'):
        assert key in msg, msg


def test_misspelt_key_is_named_with_a_suggestion():
    cfg = Config.fromfile(REPO_CFG)
    msg, = unread_overrides(cfg, {'randomnes.seed': 1})
    assert "no 'randomnes'" in msg and "Did you mean 'randomness'" in msg


def test_run_keys_and_complete_explicit_overrides_pass():
    cfg = Config.fromfile(REPO_CFG)
    assert unread_overrides(cfg, {
        'randomness.seed': 1,
        'train_cfg.max_epochs': 2
    }) == []
    old = cfg.data_root
    every = {k: '/x' for k in holders(cfg.to_dict(), old)}
    assert every  # the variable is used in the run keys
    assert unread_overrides(cfg, dict(every, data_root='/x')) == []
    # a sub-key of a dict variable points at the sub-keys of its copies
    cfg = Config(
        dict(
            norm_cfg=dict(type='SyncBN'),
            model=dict(backbone=dict(norm_cfg=dict(type='SyncBN')))))
    msg, = unread_overrides(cfg, {'norm_cfg.type': 'BN'})
    assert 'model.backbone.norm_cfg.type' in msg


def test_train_py_warns_or_stops_before_any_work(tmp_path):
    cmd = [
        sys.executable, 'tools/train.py', REPO_CFG, '--work-dir',
        str(tmp_path), '--cfg-options', 'randomnes.seed=1'
    ]
    strict = subprocess.run(
        cmd + ['--strict-cfg-options'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300)
    assert strict.returncode != 0
    assert "no 'randomnes'" in strict.stderr
    assert not list(tmp_path.iterdir())  # stopped before the run began


def test_run_keys_the_runner_ignores_are_named():
    """``env_cfg`` and ``auto_scale_lr`` keys that mmengine's Runner reads
    but, as the run is set, ignores (mmengine 0.10.7: ``setup_env``,
    ``set_random_seed``, ``scale_lr``)."""
    cfg = Config(
        dict(
            randomness=dict(seed=0, deterministic=True),
            env_cfg=dict(cudnn_benchmark=False),
            auto_scale_lr=dict(base_batch_size=512),
            launcher='none'))
    ignored = {
        'env_cfg.cudnn_benchmark': (True, 'randomness.deterministic=True'),
        'env_cfg.dist_cfg.backend': ('gloo', 'not distributed'),
        'env_cfg.cudnn_benchmarks': (True, "'env_cfg.cudnn_benchmark'?"),
        'env_cfg.resource_limit': (1, 'never lowers it'),
        'auto_scale_lr.base_batch_size': (256, '--auto-scale-lr'),
    }
    msgs = unread_overrides(cfg, {k: v for k, (v, _) in ignored.items()})
    assert len(msgs) == len(ignored)
    for msg, (key, (_, why)) in zip(msgs, ignored.items()):
        assert msg.startswith(f'--cfg-options {key}: this changes nothing')
        assert why in msg, msg
    # the same keys where they do change something: no message
    assert unread_overrides(
        cfg, {
            'env_cfg.cudnn_benchmark': True,
            'randomness.deterministic': False,
            'auto_scale_lr.enable': True,
            'auto_scale_lr.base_batch_size': 256,
            'env_cfg.resource_limit': 1 << 30,
        }) == []
    cfg.launcher = 'pytorch'
    assert unread_overrides(cfg, {'env_cfg.dist_cfg.backend': 'gloo'}) == []


def test_train_py_names_a_disabled_auto_scale_lr_before_any_work(tmp_path):
    out = run_tool_failing([
        sys.executable, 'tools/train.py', REAL_CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options', 'auto_scale_lr.base_batch_size=256',
        '--strict-cfg-options'
    ])
    assert '--cfg-options auto_scale_lr.base_batch_size: this changes ' \
        'nothing: auto_scale_lr.enable is False' in out
    assert not list(tmp_path.iterdir())
