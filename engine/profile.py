"""Model cost: parameters, FLOPs (fvcore, attention included), peak memory, throughput."""
from __future__ import annotations

import contextlib
import resource
import time

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _sdpa_flop(inputs, outputs) -> int:
    """Multiply-adds of softmax(q k^T) v: 2 x B x heads x N_q x N_k x head_dim."""
    from fvcore.nn.jit_handles import get_shape

    q, k = get_shape(inputs[0]), get_shape(inputs[1])
    *batch, n_q, d = q
    n_k = k[-2]
    b = 1
    for s in batch:
        b *= s
    return 2 * b * n_q * n_k * d


def count_flops(model: nn.Module, img_size: int, device: torch.device) -> int | None:
    """Multiply-adds of one forward pass on one image (fvcore's convention: 1 MAC = 1 flop).

    Attention's matrix products count (``matmul``/``bmm``/``einsum``, and the fused
    ``scaled_dot_product_attention`` through a handle of our own). None when tracing fails.
    """
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, 3, img_size, img_size, device=device)
        analysis = FlopCountAnalysis(model, x).set_op_handle("aten::scaled_dot_product_attention", _sdpa_flop)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return int(analysis.total())
    except Exception:  # noqa: BLE001 - a model fvcore cannot trace still trains
        return None
    finally:
        model.train(was_training)


def peak_memory_mb(device: torch.device) -> float:
    """Peak accelerator memory allocated (CUDA), else the process's peak resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def is_out_of_memory(error: BaseException) -> bool:
    """True for an allocation failure: CUDA's ``torch.OutOfMemoryError``, Python's MemoryError, or the
    RuntimeError the CPU allocator raises (``DefaultCPUAllocator: can't allocate memory``)."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


@torch.no_grad()
def _time_batches(model: nn.Module, x: torch.Tensor, train: bool, repeats: int, autocast) -> float:
    def step():
        with autocast():
            if train:
                with torch.enable_grad():
                    model(x).float().sum().backward()
            else:
                model(x)

    step()  # warm-up
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return repeats * x.shape[0] / (time.perf_counter() - start)


def measure_throughput(model: nn.Module, img_size: int, device: torch.device, max_batch: int,
                       repeats: int = 3, log=print, autocast=contextlib.nullcontext) -> list[dict]:
    """Images/second for inference and for a training step at batch sizes 1, 2, 4, ... up to
    ``max_batch``, stopping at the first size that does not fit in memory (on any device).

    Args:
        model: the model (its mode is restored afterwards).
        img_size: input side.
        device: where to run.
        max_batch: largest batch size tried.
        repeats: timed batches per size, after one warm-up batch.
        log: where to print each row.
        autocast: a factory of the mixed-precision context each pass runs in (``TRAIN.AMP``).

    Returns:
        One row per batch size that fit: ``batch_size``, ``infer_images_per_sec``, ``train_images_per_sec``.
    """
    rows, batch = [], 1
    was_training = model.training
    while batch <= max_batch:
        try:
            x = torch.randn(batch, 3, img_size, img_size, device=device)
            model.eval()
            infer = _time_batches(model, x, train=False, repeats=repeats, autocast=autocast)
            model.train()
            train = _time_batches(model, x, train=True, repeats=repeats, autocast=autocast)
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e):
                raise
            fits = f"the largest batch that fits is {batch // 2}" if batch > 1 else "not even batch 1 fits"
            log(f"batch {batch}: out of memory ({str(e).splitlines()[0][:120]}); {fits}")
            break
        finally:
            model.zero_grad(set_to_none=True)
            x = None
            if device.type == "cuda":
                torch.cuda.empty_cache()
        rows.append({"batch_size": batch, "infer_images_per_sec": infer, "train_images_per_sec": train})
        log(f"batch {batch:5d}: inference {infer:10.1f} img/s   training step {train:10.1f} img/s")
        batch *= 2
    model.train(was_training)
    return rows
