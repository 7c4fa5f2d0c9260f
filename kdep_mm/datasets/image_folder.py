"""``KDEPImageDataset``: mmpretrain's ``CustomDataset`` with a clear error
for a dataset that holds no images.

``CustomDataset`` on an empty folder says ``Found 0 files in subfolders of:
{'img_path': ...}`` (also when the images are there but the folder has no
class subfolders), and an annotation file without entries gives an empty
dataset that fails later, far from the cause. This subclass takes the same
arguments and raises a ``ValueError`` that names the folder or annotation
file, says what it found there instead, and how to fix the config.
"""
import os
import os.path as osp
from typing import List

from mmpretrain.datasets import CustomDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class KDEPImageDataset(CustomDataset):
    """A drop-in ``CustomDataset`` that refuses to be empty.

    See mmpretrain's ``CustomDataset`` for the arguments (an image folder,
    with one subfolder per class when ``with_label=True``, or an
    annotation file).
    """

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix.get('img_path', '') or self.data_root
        if not self.ann_file and not osp.isdir(folder):
            raise FileNotFoundError(
                f'the dataset folder {folder} does not exist (data_root='
                f'{self.data_root!r}, data_prefix={self.data_prefix!r})')
        try:
            data_list = super().load_data_list()
        except RuntimeError as e:
            if 'Found 0 files' not in str(e):
                raise
            data_list = []
        if not data_list:
            raise ValueError(self._empty_message(folder))
        return data_list

    def _empty_message(self, folder: str) -> str:
        if self.ann_file:
            return (f'the annotation file {self.ann_file} lists no images; '
                    'the dataset is empty')
        exts = tuple(sorted({e.lower() for e in self.extensions}))
        images, others, flat = 0, [], 0
        for root, _, files in os.walk(folder, followlinks=True):
            for name in files:
                if name.lower().endswith(exts):
                    images += 1
                    flat += osp.abspath(root) == osp.abspath(folder)
                else:
                    others.append(osp.relpath(osp.join(root, name), folder))
        if images and self.with_label:
            return (f'the dataset folder {folder} holds {images} images but '
                    f'{flat} of them lie directly in it: with_label=True '
                    'expects one subfolder per class. For unlabelled images '
                    'set with_label=False in the dataset config.')
        found = (f'it holds {len(others)} other file(s), e.g. '
                 f'{others[:3]}' if others else 'it is empty')
        return (f'the dataset folder {folder} contains no images '
                f'(extensions {", ".join(exts)}); {found}. Check data_root '
                'and data_prefix in the dataset config.')
