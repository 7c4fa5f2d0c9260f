"""Mixed precision for any device, CPU included.

mmengine's ``AmpOptimWrapper`` refuses to run without a GPU; this wrapper
autocasts on whatever device the model is on: bfloat16 where supported (no
loss scaling needed), float16 with dynamic loss scaling otherwise.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS


def _device_type(model: nn.Module) -> str:
    for p in model.parameters():
        return p.device.type
    return 'cuda' if torch.cuda.is_available() else 'cpu'


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(OptimWrapper):
    """Autocast forward passes; scale the loss only for float16.

    Args:
        dtype (str): 'auto' (bfloat16 on CPU and on GPUs that support it,
            else float16), 'bfloat16' or 'float16'.
        loss_scale (str | float): 'dynamic' or an initial scale; used with
            float16 only.
        **kwargs: Passed to :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self,
                 dtype: str = 'auto',
                 loss_scale: Union[str, float] = 'dynamic',
                 **kwargs):
        super().__init__(**kwargs)
        assert dtype in ('auto', 'bfloat16', 'float16'), dtype
        self._dtype_cfg = dtype
        self._loss_scale = loss_scale
        self.cast_dtype: Optional[torch.dtype] = None
        self.loss_scaler = None
        self._device_type: Optional[str] = None
        self._pending_scaler_state: Optional[dict] = None

    def _setup(self, model: nn.Module) -> None:
        if self._device_type is not None:
            return
        device = _device_type(model)
        dtype = self._dtype_cfg
        if dtype == 'auto':
            bf16 = device == 'cpu' or (device == 'cuda'
                                       and torch.cuda.is_bf16_supported())
            dtype = 'bfloat16' if bf16 else 'float16'
        self.cast_dtype = getattr(torch, dtype)
        if self.cast_dtype == torch.float16:
            kw = {} if self._loss_scale == 'dynamic' else dict(
                init_scale=float(self._loss_scale))
            self.loss_scaler = torch.amp.GradScaler(device, **kw)
            if self._pending_scaler_state is not None:  # resumed earlier
                self.loss_scaler.load_state_dict(self._pending_scaler_state)
        self._device_type = device
        print_log(
            f'--amp: autocast to {dtype} on {device} (dtype='
            f"{self._dtype_cfg!r}" +
            (', dynamic loss scaling)'
             if self.loss_scaler is not None else ', no loss scaling)'),
            logger='current')

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return super().step(**kwargs)
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        scaler_state = state_dict.pop('loss_scaler', None)
        if scaler_state is not None:
            if self.loss_scaler is None:  # created at the first step
                self._pending_scaler_state = scaler_state
            else:
                self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        self._setup(model)
        with super().optim_context(model), torch.autocast(
                device_type=self._device_type, dtype=self.cast_dtype):
            yield
