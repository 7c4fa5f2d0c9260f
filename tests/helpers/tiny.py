"""Tiny KDEP set-ups for tests (CPU, seconds each): a distiller and its
basis, batches without a dataset, a config derived from the real KDEP
config, and the repository's tools run in fresh processes."""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import List, Optional

import torch

from kdep_mm.basis import StreamingCovariance
from kdep_mm.utils.misc import build_mmpretrain

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL_CONFIG = osp.join(ROOT, 'configs', 'kdep',
                       'kdep_r50-r18_4xb128-90e_in1k-10pct.py')
PYTHON = sys.executable
#: Config lines for a run without random augmentation or shuffling: the
#: ranks of a multi-process run together see exactly the images one
#: process sees, so their statistics must match.
FIXED_PIPELINE = """
train_pipeline = [
    dict(type='LoadImageFromFileSafe'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='PackInputs'),
]
train_dataloader['sampler']['shuffle'] = False
train_dataloader['dataset']['pipeline'] = train_pipeline
"""


def config_path(rel: str) -> str:
    """A config of the repository: ``configs/<rel>``."""
    return osp.join(ROOT, 'configs', rel)


def build_kdep(teacher: dict,
               backbone: Optional[dict] = None,
               probe_size: int = 32,
               **kwargs):
    """A KDEP distiller onto ``teacher`` (``dict(model, checkpoint)``);
    the student defaults to a ResNet-18 with plain initialisation (as the
    real config)."""
    backbone = backbone or dict(
        type='ResNet', depth=18, zero_init_residual=False)
    return build_mmpretrain(
        dict(
            type='KDEP',
            backbone=backbone,
            teacher=teacher,
            probe_size=probe_size,
            **kwargs))


class Batches(list):
    """mmengine data batches of ``images`` (N, 3, H, W), ``batch`` at a
    time, with the ``dataset`` length a dataloader has."""

    def __init__(self, images: torch.Tensor, batch: int):
        super().__init__(dict(inputs=list(b)) for b in images.split(batch))
        self.dataset = range(len(images))


def basis_of(feats: torch.Tensor, chunk: int = 7) -> dict:
    """:meth:`StreamingCovariance.decompose` of ``feats`` (N, D), fed in
    chunks of ``chunk`` rows."""
    stats = StreamingCovariance(feats.shape[1])
    for part in feats.split(chunk):
        stats.update(part)
    return stats.decompose()


def fill_basis(model, n: int = 24, size: int = 32) -> dict:
    """Give ``model`` (a KDEP) the basis of its teacher on ``n`` random
    images; returns the decomposition."""
    res = basis_of(
        model.extract_teacher_feat(torch.randn(n, 3, size, size)), chunk=n)
    model.align.set_basis(res['mean'], res['basis'], res['spectrum'], n)
    return res


def set_random_basis(align, seed: int = 0, num_images: int = 0) -> None:
    """A random orthonormal basis (zero mean, spectrum 2 -> 1) for an
    SVDPTSAlignment of full rank (as if from ``num_images``, default D_t +
    1, rows: fewer rows cap the rank)."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(align.d_t, align.k, generator=g))
    align.set_basis(
        torch.zeros(align.d_t),
        basis,
        torch.linspace(2.0, 1.0, align.d_t),
        num_images=num_images or align.d_t + 1)


def write_fake_manifest(folder: str, model_cfg: dict) -> dict:
    """A target-cache manifest (no shards) whose columns fit the cached
    terms of ``model_cfg`` (a pooled column of r = 512, and one 512 x 2 x 2
    column per map term); returns the columns."""
    strides = [
        t['stride'] for t in model_cfg.get('terms') or [] if t.get('stride')
    ]
    columns = dict(
        pooled=dict(dim=512, rank=512, d_t=2048, teacher_tap='-', stride=None))
    for s in strides:
        columns[f'dense_s{s}'] = dict(
            dim=512,
            rank=512,
            d_t=2048,
            teacher_tap='-',
            stride=s,
            teacher_stride=s,
            grid=[2, 2])
    with open(osp.join(folder, 'manifest.json'), 'w') as f:
        json.dump(
            dict(
                format='kdep_target_cache/3',
                columns=columns,
                teacher=dict(fingerprint='-'),
                basis_sha256='-',
                crops_per_image=1,
                shard_size=1), f)
    return columns


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
    imports=['kdep_mm', 'tests.helpers.fault_hooks'],
    allow_failed_imports=False)
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
    # The repository first: the tiny configs import tests.helpers.
    full_env['PYTHONPATH'] = os.pathsep.join(
        [ROOT] + [p for p in [full_env.get('PYTHONPATH')] if p])
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


def run_tool(args: List[str],
             env: Optional[dict] = None,
             ok: bool = True,
             **kwargs) -> str:
    """Run a repository tool (``[sys.executable, 'tools/train.py', ...]``)
    in a fresh process until it ends; it must succeed (``ok=False``: it
    must fail). Returns its output (stdout, then stderr); ``kwargs`` go to
    ``subprocess.run`` (``preexec_fn=...``)."""
    full_env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    full_env.update(env or {})
    proc = subprocess.run(
        args, cwd=ROOT, env=full_env, capture_output=True, text=True, **kwargs)
    assert (proc.returncode == 0) == ok, \
        proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


def run_tool_failing(args: List[str], **kwargs) -> str:
    """:func:`run_tool` of a command that must fail."""
    return run_tool(args, ok=False, **kwargs)


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
