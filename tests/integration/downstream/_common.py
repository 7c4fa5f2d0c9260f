"""Run a real downstream config for one iteration on a tiny dataset."""
import copy

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from kdep_mm.utils.checkpoint import load_weights
from kdep_mm.utils.misc import unwrap_model
from tests.helpers.config_keys import student_options, sync_bn_keys
from tests.helpers.tiny import config_path


def replace_prefix(obj, old: str, new: str):
    """Every string in ``obj`` starting with ``old`` now starts with
    ``new`` (moves a config's data root, evaluator files included)."""
    if isinstance(obj, str):
        return new + obj[len(old):] if obj.startswith(old) else obj
    if isinstance(obj, dict):
        return {k: replace_prefix(v, old, new) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(replace_prefix(v, old, new) for v in obj)
    return obj


def shrink(obj, size: int):
    """Set every resize / crop of the pipelines to ``size`` pixels."""
    if isinstance(obj, list):
        return [shrink(v, size) for v in obj]
    if not isinstance(obj, dict):
        return obj
    obj = {k: shrink(v, size) for k, v in obj.items()}
    t = obj.get('type')
    if t in ('Resize', 'RandomResize') and 'scale' in obj:
        obj['scale'] = (size, size)
    elif t == 'RandomChoiceResize':
        obj['scales'] = [(size, size)]
    elif t == 'RandomResizedCrop':
        obj['scale'] = size
    elif t == 'ResizeEdge':
        obj['scale'] = size
    elif t in ('RandomCrop', 'CenterCrop') and 'crop_size' in obj:
        cs = obj['crop_size']
        obj['crop_size'] = size if isinstance(cs, int) else (size, size)
        obj.pop('padding', None)
    elif t == 'Pad' and 'size' in obj:
        obj['size'] = (size, size)
    return obj


def _set_key(obj, key: str, value):
    if isinstance(obj, dict):
        return {
            k: (value if k == key else _set_key(v, key, value))
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_set_key(v, key, value) for v in obj]
    return obj


class _Snapshot(Hook):
    """Copies the model's state right after weight initialisation."""

    def __init__(self):
        self.state = None

    def before_train(self, runner):
        model = unwrap_model(runner.model)
        self.state = {
            k: v.detach().clone()
            for k, v in model.state_dict().items()
        }


def load_config(rel: str, checkpoint: str, data_root_old: str,
                data_root_new: str, size: int, work_dir: str) -> Config:
    """The real config with what ``--cfg-options`` would set (the student
    file and plain BN, at every key that holds them), the data moved to the
    tiny dataset and everything made small."""
    cfg = Config.fromfile(config_path(rel))
    cfg.merge_from_dict(student_options(cfg, checkpoint))
    assert not sync_bn_keys(cfg)
    d = replace_prefix(cfg.to_dict(), data_root_old, data_root_new)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        d[key]['dataset'] = shrink(d[key]['dataset'], size)
        d[key].update(
            batch_size=2 if key == 'train_dataloader' else 1,
            num_workers=0,
            persistent_workers=False)
        sampler = d[key].get('sampler', {})
        if sampler.get('type') == 'InfiniteSampler':
            d[key]['sampler'] = dict(type='DefaultSampler', shuffle=True)
        d[key].pop('batch_sampler', None)
    # a random detector scores below the usual thresholds: keep its boxes
    # so that the metrics are computed on something
    d['model'] = _set_key(d['model'], 'score_thr', 0.0)
    dp = d['model'].get('data_preprocessor', {})
    if 'size' in dp:
        dp['size'] = (size, size)
    d['train_cfg'] = dict(
        type='IterBasedTrainLoop', max_iters=1, val_interval=1000)
    d['val_cfg'] = dict(type='ValLoop')
    d['test_cfg'] = dict(type='TestLoop')
    d['param_scheduler'] = None
    d['default_hooks'] = dict(
        logger=dict(type='LoggerHook', interval=1),
        checkpoint=dict(type='CheckpointHook', interval=1000))
    d.pop('visualizer', None)
    d['log_processor'] = dict(by_epoch=False)
    d['work_dir'] = work_dir
    d['launcher'] = 'none'
    d['env_cfg'] = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
    return Config(d)


def train_and_eval(cfg: Config):
    """One training iteration then one evaluation pass; returns the model
    state right after initialisation and the metrics."""
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    snap = _Snapshot()
    runner.register_hook(snap, priority='VERY_LOW')
    runner.train()
    metrics = runner.val()
    return snap.state, metrics


def assert_backbone_equal(state: dict, exported: str, where: dict) -> None:
    """Every tensor of the exported file equals the model's.

    ``where`` maps an exported key prefix to the model prefix holding it,
    longest match first (e.g. ``{'layer4.': 'roi_head.shared_head.layer4.',
    '': 'backbone.'}``).
    """
    ref = load_weights(exported)['state_dict']
    assert ref
    for k, v in ref.items():
        for src, dst in sorted(where.items(), key=lambda x: -len(x[0])):
            if k.startswith(src):
                mk = dst + k[len(src):]
                break
        assert mk in state, f'{mk} not in the model'
        assert torch.equal(state[mk], v), f'{mk} differs from the export'
