# As kdep-pooled-dense_mbv2-r18_demo-pool.py without the pooled target: the
# three dense terms (strides 8, 16, 32) share the demo's w = 3 (1 each).
_base_ = ['./kdep-pooled-dense_mbv2-r18_demo-pool.py']

model = dict(pooled=False)
