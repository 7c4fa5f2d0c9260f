# DeepLabV3 on VOC12-aug, 512x512 crops, KDEP ResNet-18 student (output stride
# 8): mmseg's deeplabv3/deeplabv3_r50-d8_4xb4-40k_voc12aug-512x512.py with the
# student's model (its checkpoint and `--cfg-options` keys: see the model
# base).
_base_ = [
    './_base_/models/deeplabv3_kdep-r18-d8.py',
    'mmseg::_base_/datasets/pascal_voc12_aug.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
