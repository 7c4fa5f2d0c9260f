# The demo's KDEP run with dense targets added: the real MobileNetV2 teacher
# -> ResNet-18 at 64 px, pooled target (w = 3) plus non-parametric dense
# targets at strides 8, 16 and 32 (8x8, 4x4 and 2x2 maps), sharing another
# w = 3 (1 each). The teacher's maps there are layer3 (32 channels),
# layer5 (96) and conv2.bn (1280, rank <= 320), so the student's stride-8
# and stride-16 stages (128 and 256 channels) get targets on their first 32
# and 96 channels only (a warning says so when the model is built).
_base_ = ['./kdep_mbv2-r18_demo-pool.py']

model = dict(
    type='DenseKDEP',
    pooled=True,
    dense=[
        dict(stride=8, loss_weight=1.0),
        dict(stride=16, loss_weight=1.0),
        dict(stride=32, loss_weight=1.0),
    ])
