# Study arm "KDEP pooled + dense, 10%" (issue 14): the KDEP-10% arm with
# non-parametric dense targets added at strides 8, 16 and 32 (the demo's
# pooled+dense recipe, demo/configs/pretrain/kdep-pooled-dense_*): pooled
# w = 3 plus 1 per stage; same pool, budget, teacher and schedule. Fixed
# before any of its fine-tunes ran.
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

model = dict(
    type='DenseKDEP',
    pooled=True,
    dense=[
        dict(stride=8, loss_weight=1.0),
        dict(stride=16, loss_weight=1.0),
        dict(stride=32, loss_weight=1.0),
    ])
