# Faster R-CNN + FPN on VOC07+12, KDEP ResNet-18 student: mmdet's
# pascal_voc/faster-rcnn_r50_fpn_1x_voc0712.py with the student's model
# (its checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/faster-rcnn_kdep-r18_fpn.py',
    'mmdet::_base_/datasets/voc0712.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))

# mmdet's VOC schedule: the dataset is repeated 3 times, so 4 epochs are
# 12; lr 0.01, x0.1 after epoch 3: schedule_1x's MultiStepLR
# (`_base_.param_scheduler[1]`) without its warm-up
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(_base_.param_scheduler[1], end=max_epochs, milestones=[3])
]
optim_wrapper = dict(optimizer=dict(lr=0.01))
