# Dense KDEP, dense targets only: as kdep-pooled-dense_r50-r18 (C3-C5,
# strides 8, 16, 32, non-parametric, no adaptor) without the paper's pooled
# term. The three dense terms share the paper's w = 20 (20 / 3 each). Not
# tuned (see docs/dense.md).
_base_ = ['./kdep-pooled-dense_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(pooled=False)
