# PSPNet on Cityscapes, 512x1024 crops, KDEP MobileNetV2 student: mmseg's
# pspnet/pspnet_r50-d8_4xb2-80k_cityscapes-512x1024.py with the student's model
# (its checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/pspnet_kdep-mv2.py',
    'mmseg::_base_/datasets/cityscapes.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py'
]
crop_size = (512, 1024)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
