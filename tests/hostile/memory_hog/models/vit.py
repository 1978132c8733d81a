# hostile: on top of the reference
# MlpBlock.forward grabs memory until something stops it. Each grab reserves 1 GiB of address
# space without touching it, so the sandbox's address-space limit stops it within a few grabs,
# at once, however busy the machine is (a hog that writes every page races the wall-clock limit
# on a loaded machine; the page-writing kind is graded in test_hostile.py::test_memory_limit_stops_rss_hog).
import torch as _torch


def _hog(self, x):
    hoard = []
    while True:
        hoard.append(_torch.empty(1 << 30, dtype=_torch.uint8))


MlpBlock.forward = _hog  # noqa: F821
