# Faster R-CNN + FPN, 1x COCO, KDEP ResNet-18 student: mmdet's
# faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py with the student's model (its
# checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/faster-rcnn_kdep-r18_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
