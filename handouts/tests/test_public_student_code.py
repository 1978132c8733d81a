"""One test per class you write. Each fails with "not implemented yet" until you write that class,
then runs the grader's public checks for it (the same ones `python -m autograder check` prints).
Passing here does not guarantee full marks: the grader has more cases."""
from __future__ import annotations

import importlib

import pytest
import torch

# (file, class, its public check or None, constructor arguments, input shape)
STUDENT_CLASSES = [
    ("models/alexnet.py", "AlexNet", "alexnet/AlexNet", {"num_classes": 10}, (2, 3, 67, 67)),
    ("models/resnet.py", "BasicBlock", "resnet/BasicBlock", {"in_planes": 4, "planes": 8, "stride": 2}, (2, 4, 9, 9)),
    ("models/vit.py", "PatchEmbed", "vit/PatchEmbed", {"img_size": 12, "patch_size": 4, "in_chans": 3, "embed_dim": 8},
     (2, 3, 12, 12)),
    ("models/vit.py", "AddPositionEmbs", None, {"num_tokens": 5, "embed_dim": 8}, (2, 5, 8)),
    ("models/vit.py", "MlpBlock", "vit/MlpBlock", {"embed_dim": 8, "mlp_dim": 16}, (2, 5, 8)),
    ("models/vit.py", "MultiHeadSelfAttention", "vit/MultiHeadSelfAttention", {"embed_dim": 8, "num_heads": 2},
     (2, 5, 8)),
    ("models/vit.py", "Encoder1DBlock", "vit/Encoder1DBlock", {"embed_dim": 8, "num_heads": 2, "mlp_dim": 16},
     (2, 5, 8)),
    ("models/vit.py", "Encoder", None, {"num_tokens": 5, "embed_dim": 8, "depth": 2, "num_heads": 2, "mlp_dim": 16},
     (2, 5, 8)),
    ("models/vit.py", "VisionTransformer", "vit/end_to_end",
     {"img_size": 12, "patch_size": 4, "num_classes": 3, "embed_dim": 8, "depth": 1, "num_heads": 2, "mlp_dim": 16},
     (2, 3, 12, 12)),
]


def _run(file: str, cls: str, kwargs: dict, shape: tuple) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    """Builds the class and runs it once in eval mode; fails clearly while it is a stub."""
    module = importlib.import_module(file[:-3].replace("/", "."))
    torch.manual_seed(0)
    x = torch.randn(*shape)
    try:
        model = getattr(module, cls)(**kwargs).eval()
        with torch.no_grad():
            out = model(x)
    except NotImplementedError:
        out = None
    if out is None:  # outside the except block: the message alone, without the stub's traceback
        pytest.fail(f"{cls}: not implemented yet (write it in {file}, between the solution markers)", pytrace=False)
    return model, x, out


@pytest.mark.parametrize("file, cls, item, kwargs, shape", STUDENT_CLASSES, ids=[c[1] for c in STUDENT_CLASSES])
def test_student_class(file, cls, item, kwargs, shape, request):
    model, x, out = _run(file, cls, kwargs, shape)
    if item is not None:
        result = request.getfixturevalue("public_checks")[item]  # run only once some class is written
        assert result.status == "passed", f"{item}: the public check fails:\n{result.output}"
        return
    if cls == "AddPositionEmbs":  # one table for every sequence, whatever the tokens
        shift = out - x
        assert out.shape == x.shape, f"AddPositionEmbs: output shape {tuple(out.shape)}, expected {tuple(x.shape)}"
        torch.testing.assert_close(shift[0], shift[1], msg="AddPositionEmbs: every sequence gets the same table")
        y = torch.randn(*shape)
        torch.testing.assert_close(model(y) - y, shift, msg="AddPositionEmbs: the table does not depend on the input")
    elif cls == "Encoder":  # a final LayerNorm (weight 1, bias 0 at init): every token has mean 0, variance 1
        assert out.shape == x.shape, f"Encoder: output shape {tuple(out.shape)}, expected {tuple(x.shape)}"
        torch.testing.assert_close(out.mean(-1), torch.zeros(shape[:2]), atol=1e-5, rtol=0,
                                   msg="Encoder: the output of the final LayerNorm should have mean 0 per token")
        torch.testing.assert_close(model(x), out, msg="Encoder: eval mode must be deterministic")
