# KDEP: DINOv2 ViT-B/14 (self-supervised, LVD-142M; mmpretrain's model-zoo
# conversion) -> ResNet-18 on ImageNet-1K 10%.
#
# Distillation point (built-in, the tap registry kdep_mm/models/taps/): the
# class token after the final LayerNorm (768-d), the feature DINOv2's linear
# probes read.
# At 224 px the 37x37 position embedding of the 518-px checkpoint is
# interpolated to 16x16 patches by mmpretrain at every forward.
# Loss weight: the paper's w = 20, not tuned for this teacher (see the base).
# A MobileNetV2 student (1280-d) is wider than this teacher's 768-d feature:
# its first 768 channels are distilled, with a warning naming the other 512.
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(
            type='VisionTransformer',
            arch='base',
            img_size=518,
            patch_size=14,
            layer_scale_init_value=1e-5),
        checkpoint='https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
        'vit-base-p14_dinov2-pre_3rdparty_20230426-ba246503.pth',
        prefix='backbone.'))
