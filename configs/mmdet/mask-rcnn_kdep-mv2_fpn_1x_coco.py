# Mask R-CNN + FPN, 1x COCO, KDEP MobileNetV2 student: mmdet's
# mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py with the student's model (its
# checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/mask-rcnn_kdep-mv2_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
