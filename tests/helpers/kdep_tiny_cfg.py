"""A tiny config derived from the real KDEP config, for runs of the tools
in tests: the plain pipeline, no fault hooks (see :mod:`.tiny` for the
reliability set-up)."""
from .tiny import REAL_CONFIG

TEMPLATE = '''_base_ = {base!r}
data_root = {data_root!r}
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=32),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size={batch}, num_workers=0, persistent_workers=False,
    pin_memory=False,
    dataset=dict(data_root=data_root, ann_file='', data_prefix='',
                 with_label=False, pipeline=train_pipeline))
val_dataloader = None
val_cfg = None
val_evaluator = None
test_dataloader = None
test_cfg = None
test_evaluator = None
model = dict(
    teacher=dict(model={teacher_model!r}, checkpoint={teacher_ckpt!r},
                 prefix=None),
    loss=dict(loss_weight=3.0),
    probe_size=32{model_extra})
optim_wrapper = dict(optimizer=dict(lr={lr}))
param_scheduler = []
train_cfg = dict(max_epochs={epochs}, val_interval=1000)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=True)
'''


def write_tiny_config(path: str,
                      data_root: str,
                      teacher: dict,
                      epochs: int = 2,
                      batch: int = 8,
                      lr: float = 0.05,
                      model_extra: str = '',
                      base: str = REAL_CONFIG) -> str:
    """Write a config that inherits a real KDEP config (by default the
    paper's recipe) and shrinks it."""
    with open(path, 'w') as f:
        f.write(
            TEMPLATE.format(
                base=base,
                data_root=data_root,
                batch=batch,
                teacher_model=teacher['model'],
                teacher_ckpt=teacher['checkpoint'],
                epochs=epochs,
                lr=lr,
                model_extra=model_extra))
    return path
