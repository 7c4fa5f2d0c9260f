# KDEP: CLIP ViT-B/16 (OpenAI CLIP pre-training, fine-tuned on ImageNet-1K:
# mmpretrain's vit-base-p16_clip-openai-pre_3rdparty_in1k, which uses the
# ImageNet mean / std of this config's data preprocessor) -> ResNet-18 on
# ImageNet-1K 10%.
#
# Distillation point (built-in): the class token after the final LayerNorm
# (768-d), the feature the classification head reads. Loss weight: the
# paper's w = 20, not tuned for this teacher (see the base).
_base_ = ['./_base_/kdep_to-r18_in1k-10pct.py']

model = dict(
    teacher=dict(
        _delete_=True,
        model=dict(
            type='VisionTransformer',
            arch='base',
            img_size=224,
            patch_size=16,
            pre_norm=True),
        checkpoint='https://download.openmmlab.com/mmclassification/v0/clip/'
        'clip-vit-base-p16_openai-pre_3rdparty_in1k_20221220-c7d9c899.pth',
        prefix='backbone.'))
