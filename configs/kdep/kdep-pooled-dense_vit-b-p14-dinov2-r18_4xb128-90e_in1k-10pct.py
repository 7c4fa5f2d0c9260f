# Dense KDEP from DINOv2 ViT-B/14 -> ResNet-18 on ImageNet-1K 10%, the
# teacher at twice the student's resolution (teacher_scale=2.0).
#
# At the student's 224 px a ViT/14 has a 16x16 token grid, coarser than the
# stride-8 map (28x28) an FPN reads; recent distillation recipes run the
# teacher at a higher resolution than the student (DINOv3 distils with the
# teacher at 2x). Here the teacher sees each crop resized to 448 px (32x32
# tokens, stride 7 in student pixels, the basis pass included) and its
# final token grid is area-resampled to the student's maps at strides 8,
# 16 and 32 (one map serves all three: a ViT has one grid). The pooled
# term reads the class token at 448 px. The teacher's step cost at 2x:
# benchmarks/terms_cost.py --teacher-scale 2 (benchmarks/README.md).
# Loss weights as kdep-pooled-dense_r50-r18 (not tuned for this teacher).
_base_ = ['./kdep_vit-b-p14-dinov2-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    type='DenseKDEP',
    pooled=True,
    teacher_scale=2.0,
    dense=[
        dict(stride=8, loss_weight=20 / 3),
        dict(stride=16, loss_weight=20 / 3),
        dict(stride=32, loss_weight=20 / 3),
    ])
