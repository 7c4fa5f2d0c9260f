"""Tiny datasets and checkpoints for tests and demos (no downloads)."""
from .datagen import (make_ade20k, make_cityscapes, make_coco, make_cub,
                      make_image_folder, make_kdep_checkpoint, make_voc_det,
                      make_voc_seg)
from .launch import free_port, run_launcher

__all__ = [
    'make_ade20k', 'make_cityscapes', 'make_coco', 'make_cub',
    'make_image_folder', 'make_kdep_checkpoint', 'make_voc_det',
    'make_voc_seg', 'free_port', 'run_launcher'
]
