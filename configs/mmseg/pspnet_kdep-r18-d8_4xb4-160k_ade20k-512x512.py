# PSPNet on ADE20K, 512x512 crops, KDEP ResNet-18 student (output stride 8):
# mmseg's pspnet/pspnet_r50-d8_4xb4-160k_ade20k-512x512.py with the student's
# model (its checkpoint and `--cfg-options` keys: see the model base).
_base_ = [
    './_base_/models/pspnet_kdep-r18-d8.py',
    'mmseg::_base_/datasets/ade20k.py', 'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150))
