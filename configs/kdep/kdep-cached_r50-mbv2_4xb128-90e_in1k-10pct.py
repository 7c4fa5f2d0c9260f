# KDEP from a target cache, MobileNetV2 student: the same cache as
# kdep-cached_r50-r18_* serves it (the PCA directions are nested: a student
# reads the first k of the cache's r). MobileNetV2's feature is 1280-d, so
# build the cache with --dim 1280 to distil every channel (a 512-d cache
# distils its first 512, with a warning); one such cache serves both.
_base_ = ['./kdep-cached_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(
    backbone=dict(_delete_=True, type='MobileNetV2', widen_factor=1.0))
optim_wrapper = dict(optimizer=dict(lr=0.1))
