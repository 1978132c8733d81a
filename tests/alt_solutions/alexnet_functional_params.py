"""A correct AlexNet that holds its weights as bare ``nn.Parameter`` attributes (created biases
first, classifier before features) and runs them through ``F.conv2d`` / ``F.linear``: no layer
module at all, so the weights are matched tensor by tensor (shapes, then the order of first use).
The tests graft ``METHODS`` onto the handout's file."""
import torch
import torch.nn.functional as F
from torch import nn

CONVS = [(3, 64, 11, 4, 2), (64, 192, 5, 1, 2), (192, 384, 3, 1, 1), (384, 256, 3, 1, 1), (256, 256, 3, 1, 1)]


def alexnet_init(self, num_classes=200, dropout=0.5):
    nn.Module.__init__(self)
    self.p = dropout
    dims = [(9216, 4096), (4096, 4096), (4096, num_classes)]
    for i, (fan_in, out) in enumerate(dims):
        setattr(self, f"fc_b{i}", nn.Parameter(torch.zeros(out)))
        setattr(self, f"fc_w{i}", nn.Parameter(torch.randn(out, fan_in) * fan_in ** -0.5))
    for i, (cin, cout, k, _, _) in enumerate(CONVS):
        setattr(self, f"conv_b{i}", nn.Parameter(torch.zeros(cout)))
        setattr(self, f"conv_w{i}", nn.Parameter(torch.randn(cout, cin, k, k) * (cin * k * k) ** -0.5))


def alexnet_forward(self, x):
    for i, (_, _, _, stride, pad) in enumerate(CONVS):
        x = F.relu(F.conv2d(x, getattr(self, f"conv_w{i}"), getattr(self, f"conv_b{i}"), stride, pad))
        if i in (0, 1, 4):
            x = F.max_pool2d(x, 3, 2)
    x = torch.flatten(F.adaptive_avg_pool2d(x, (6, 6)), 1)
    for i in range(3):
        if i < 2:
            x = F.dropout(x, self.p, self.training)
        x = F.linear(x, getattr(self, f"fc_w{i}"), getattr(self, f"fc_b{i}"))
        if i < 2:
            x = F.relu(x)
    return x


METHODS = {"AlexNet": {"__init__": alexnet_init, "forward": alexnet_forward}}
