"""The ``--cfg-options`` the demo and the study give ``tools/train.py`` and
``tools/test.py``, every key spelled out.

``--cfg-options key=value`` sets that one key (mmengine's semantics). A
config's top-level variable, such as ``data_root`` or ``checkpoint``, is
copied into the dataloaders and the model when the config is read, so
moving the data or choosing the backbone file means setting every copy:
the functions below name each key that holds one (the variable itself
included, so the resolved config records the value once more, as the
config file does). ``tests/demo`` checks that no copy is left behind.
"""
from typing import List, Sequence, Union

#: The demo's real teachers: their file under the data root (``python -m
#: demo.prepare_assets``) and the demo pre-training config that uses them.
TEACHERS = dict(
    mobilenetv2=dict(
        file='teachers/mobilenet-v2_in1k.pth',
        config='kdep_mbv2-r18_demo-pool.py'),
    lite2=dict(
        file='teacher_lite2/efficientnet-lite2_in1k.pth',
        config='kdep_lite2-r18_demo-pool.py'))
#: The default teacher's file.
TEACHER_FILE = TEACHERS['mobilenetv2']['file']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def kdep_pool_options(
        data_root: str,
        teacher: Union[str, Sequence[str]] = 'mobilenetv2') -> List[str]:
    """Data root of a KDEP pre-training on the demo pool: the demo's
    ``demo/configs/pretrain/kdep_*_demo-pool.py`` and the study's
    KDEP-family arms (the pool images and the file of ``teacher``, a key
    of :data:`TEACHERS`; several keys: the files of ``model.teachers``,
    in order)."""
    root = data_root.rstrip('/')
    options = [f'data_root={data_root}'] + [
        f'{loader}.dataset.data_root={root}/pool' for loader in _LOADERS
    ]
    if isinstance(teacher, str):
        return options + [
            f"model.teacher.checkpoint={root}/{TEACHERS[teacher]['file']}"
        ]
    return options + [
        f"model.teachers.{i}.checkpoint={root}/{TEACHERS[t]['file']}"
        for i, t in enumerate(teacher)
    ]


def cached_pool_options(data_root: str) -> List[str]:
    """Data root of the study's arm that trains from a target cache
    (``demo/configs/study/kdep-cached_*``: the pool images only; no
    teacher, no validation loaders)."""
    return [
        f'data_root={data_root}',
        f"train_dataloader.dataset.data_root={data_root.rstrip('/')}/pool"
    ]


def sup_pool_options(data_root: str) -> List[str]:
    """Data root of the study's supervised arms
    (``demo/configs/study/sup_r18_pool-*.py``: the pool images and their
    class list)."""
    root = data_root.rstrip('/')
    options = [f'data_root={data_root}']
    for holder in ('_dataset', ) + tuple(f'{loader}.dataset'
                                         for loader in _LOADERS):
        options += [
            f'{holder}.data_root={root}/pool',
            f'{holder}.classes={root}/pool/meta/classes.txt'
        ]
    return options


def checkpoint_options(checkpoint: str) -> List[str]:
    """The pre-trained backbone of a fine-tune
    (``demo/configs/finetune/*_kdep.py``)."""
    return [
        f'checkpoint={checkpoint}',
        f'model.backbone.init_cfg.checkpoint={checkpoint}'
    ]
