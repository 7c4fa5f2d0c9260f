# Study ablation "parametric 1x1 alignment, 10%": a learned linear map of
# the student's feature onto the teacher's (no basis, no PTS; the adaptor is
# dropped afterwards). Same data, budget and optimiser as "KDEP, 10%".
_base_ = ['./kdep_mbv2-r18_pool-10pct.py']

model = dict(align=dict(_delete_=True, type='ParametricAlignment'))
