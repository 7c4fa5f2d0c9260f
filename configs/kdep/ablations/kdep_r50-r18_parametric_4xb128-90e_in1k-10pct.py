# Baseline: parametric alignment (Linear(512, 2048) + BN1d adaptor on the
# student, regressed on the raw teacher feature; never exported).
_base_ = ['../kdep_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(align=dict(_delete_=True, type='ParametricAlignment'))
