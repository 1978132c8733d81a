# hostile: on top of the reference
# At import: make every comparison say "equal", then return wrong outputs everywhere.
import numpy as _np
import torch as _torch

_always = lambda *a, **k: True  # noqa: E731
_torch.allclose = _torch.equal = _np.allclose = _np.array_equal = _always
_torch.isclose = lambda a, b, *x, **k: _torch.ones_like(_torch.as_tensor(a), dtype=_torch.bool)  # noqa: E731
_torch.testing.assert_close = _np.testing.assert_allclose = lambda *a, **k: None  # noqa: E731
_torch.Tensor.__eq__ = lambda self, other: _torch.ones_like(self, dtype=_torch.bool)  # noqa: E731


def _wrong(forward):
    def run(self, *args, **kwargs):
        return forward(self, *args, **kwargs) * 0 + 1
    return run


for _cls in (PatchEmbed, AddPositionEmbs, MlpBlock, MultiHeadSelfAttention, Encoder1DBlock, Encoder,  # noqa: F821
             VisionTransformer):  # noqa: F821
    _cls.forward = _wrong(_cls.forward)
