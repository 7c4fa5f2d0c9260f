# KDEP: CLIP ViT-B/16 (OpenAI CLIP pre-training, fine-tuned on ImageNet-1K:
# mmpretrain's vit-base-p16_clip-openai-pre_3rdparty_in1k, which uses the
# ImageNet mean / std of this config's data preprocessor) -> ResNet-18 on
# ImageNet-1K 10%.
#
# Distillation point (built-in): the class token after the final LayerNorm
# (768-d), the feature the classification head reads. Loss weight: the
# paper's w = 20, not tuned for this teacher (see the DINOv2 config).
_base_ = ['./_base_/kdep_in1k-10pct.py']

model = dict(
    type='KDEP',
    backbone=dict(type='ResNet', depth=18, zero_init_residual=False),
    teacher=dict(
        model=dict(
            type='VisionTransformer',
            arch='base',
            img_size=224,
            patch_size=16,
            pre_norm=True),
        checkpoint='https://download.openmmlab.com/mmclassification/v0/clip/'
        'clip-vit-base-p16_openai-pre_3rdparty_in1k_20221220-c7d9c899.pth',
        prefix='backbone.'),
    align=dict(type='SVDPTSAlignment', temperature=0.1, power=3),
    loss=dict(type='KDEPLoss', mode='mse', loss_weight=20.0))

optim_wrapper = dict(optimizer=dict(lr=0.3))
