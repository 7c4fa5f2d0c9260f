# Dense KDEP, pooled + dense: ResNet-50 -> ResNet-18 on ImageNet-1K 10%, the
# paper's recipe (the base) plus non-parametric targets on the maps an FPN
# reads, C3-C5 (strides 8, 16, 32). At each stage the teacher's
# pre-activation map (the input of the stage's last ReLU) is projected, per
# location, on the top-k PCA directions of its location vectors (k = the
# student's width there: 128, 256, 512) and PTS-scaled; the student's map
# regresses on it. No adaptor is trained; the student is the plain ResNet-18.
#
# Loss weights: the pooled term keeps the paper's w = 20 and the three dense
# terms share another 20 (20 / 3 each), so the dense targets together weigh
# what the pooled one does. Not tuned (see docs/dense.md).
_base_ = ['./kdep_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    type='DenseKDEP',
    pooled=True,
    dense=[
        dict(stride=8, loss_weight=20 / 3),
        dict(stride=16, loss_weight=20 / 3),
        dict(stride=32, loss_weight=20 / 3),
    ])
