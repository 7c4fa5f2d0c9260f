# KDEP: DINOv2 ViT-L/14 (self-supervised, LVD-142M; mmpretrain's model-zoo
# conversion) -> ResNet-18 on ImageNet-1K 10%. As the ViT-B/14 config, with
# the large backbone: the class token after the final LayerNorm is 1024-d.
# Loss weight: the paper's w = 20, not tuned for this teacher.
_base_ = ['./kdep_vit-b-p14-dinov2-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    teacher=dict(
        model=dict(arch='large'),
        checkpoint='https://download.openmmlab.com/mmpretrain/v1.0/dinov2/'
        'vit-large-p14_dinov2-pre_3rdparty_20230426-f3302d9e.pth'))
