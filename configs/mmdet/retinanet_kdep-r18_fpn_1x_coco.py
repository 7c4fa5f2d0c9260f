# RetinaNet + FPN, 1x COCO, KDEP ResNet-18 student: mmdet's
# retinanet/retinanet_r50_fpn_1x_coco.py with the student's model (its
# checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/retinanet_kdep-r18_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py', 'mmdet::retinanet/retinanet_tta.py'
]
# mmdet's RetinaNet learning rate
optim_wrapper = dict(optimizer=dict(lr=0.01))
