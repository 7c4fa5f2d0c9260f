# Ablation: SVD basis without power-temperature scaling.
_base_ = ['../kdep_r50-r18_4xb128-90e_in1k-10pct.py']

model = dict(align=dict(use_pts=False))
