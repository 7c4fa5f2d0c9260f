"""Tiny KDEP set-ups for the reliability tests (CPU, seconds each)."""
import os
import os.path as osp
import subprocess
import sys
from typing import List, Optional

import numpy as np
import torch

import kdep_mm  # noqa: F401  (compat shims first)

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(HERE))
if HERE not in sys.path:  # fault_hooks, imported by the tiny configs
    sys.path.insert(0, HERE)
REAL_CONFIG = osp.join(ROOT, 'configs', 'kdep',
                       'kdep_r50-r18_4xb128-90e_in1k-10pct.py')
PYTHON = sys.executable


def make_images(folder: str, num: int, size: int = 40, seed: int = 0) -> str:
    """Write ``num`` random JPEG images into ``folder`` (no labels)."""
    import cv2
    os.makedirs(folder, exist_ok=True)
    rng = np.random.RandomState(seed)
    for i in range(num):
        img = rng.randint(0, 256, (size, size, 3), dtype=np.uint8)
        # Smooth a little, so the images have some structure.
        img = cv2.GaussianBlur(img, (5, 5), 0)
        cv2.imwrite(osp.join(folder, f'img_{i:03d}.jpg'), img)
    return folder


def make_teacher(filename: str, depth: int = 18, seed: int = 0) -> str:
    """Save a randomly initialised mmpretrain ResNet as a teacher file."""
    from mmpretrain.registry import MODELS
    torch.manual_seed(seed)
    net = MODELS.build(dict(type='ResNet', depth=depth))
    net.init_weights()
    torch.save(net.state_dict(), filename)
    return filename


def write_config(filename: str,
                 data_root: str,
                 teacher_ckpt: str,
                 work_dir: Optional[str] = None,
                 extra: str = '',
                 base: Optional[str] = None,
                 batch_size: int = 4,
                 teacher_depth: int = 18) -> str:
    """A tiny config derived from the real KDEP config.

    ``extra`` is appended verbatim (Python config syntax) and wins.
    """
    base = base or REAL_CONFIG
    text = f"""
_base_ = {base!r}
data_root = {data_root!r}
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='RandomResizedCrop', scale=32),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='ColorJitter', brightness=0.1, contrast=0.1, saturation=0.1),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size={batch_size},
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        data_root=data_root,
        ann_file='',
        data_prefix='',
        with_label=False,
        pipeline=train_pipeline))
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
model = dict(
    teacher=dict(
        model=dict(type='ResNet', depth={teacher_depth}),
        checkpoint={teacher_ckpt!r},
        prefix=None),
    probe_size=32)
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = []
auto_scale_lr = dict(enable=False, base_batch_size=512)
randomness = dict(seed=0, deterministic=True)
custom_imports = dict(
    imports=['kdep_mm', 'fault_hooks'], allow_failed_imports=False)
custom_hooks = [
    dict(type='KDEPBasisHook'),
    dict(type='KDEPRandomStateHook'),
    dict(type='KDEPCheckInvalidLossHook'),
    dict(type='KDEPTestFaultHook'),
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=-1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
"""
    if work_dir is not None:
        text += f'work_dir = {work_dir!r}\n'
    with open(filename, 'w') as f:
        f.write(text + extra)
    return filename


def start_tool(args: List[str],
               log: str,
               env: Optional[dict] = None) -> subprocess.Popen:
    """Start a repository tool in a fresh Python process; output to
    ``log``."""
    full_env = dict(os.environ)
    full_env['PYTHONPATH'] = os.pathsep.join(
        [ROOT, HERE] + [p for p in [full_env.get('PYTHONPATH')] if p])
    full_env.setdefault('OMP_NUM_THREADS', '1')
    full_env.setdefault('PYTHONFAULTHANDLER', '1')
    full_env.update(env or {})
    with open(log, 'w') as f:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, log: str, timeout: int = 300) -> tuple:
    """Wait for a process; returns ``(returncode, output)``."""
    rc = proc.wait(timeout=timeout)
    with open(log) as f:
        return rc, f.read()


def student_state(checkpoint: str) -> dict:
    """The student backbone's tensors in a training checkpoint."""
    obj = torch.load(checkpoint, map_location='cpu', weights_only=True)
    return {
        k: v
        for k, v in obj['state_dict'].items() if k.startswith('backbone.')
    }
