"""A correct BasicBlock written as one ``nn.Sequential`` residual branch created after the
shortcut, functional ReLU at the end, and layers created in reverse order inside the branch's
``OrderedDict`` keys (names of its own). The tests graft ``METHODS`` onto the handout's file."""
from collections import OrderedDict

import torch.nn.functional as F
from torch import nn


def block_init(self, in_planes, planes, stride=1):
    nn.Module.__init__(self)
    self.shortcut = nn.Sequential()
    if stride != 1 or in_planes != planes:
        self.shortcut.add_module("norm", nn.BatchNorm2d(planes))
        self.shortcut.add_module("proj", nn.Conv2d(in_planes, planes, 1, stride, bias=False))
    self.residual = nn.Sequential(OrderedDict(
        conv1=nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False), bn1=nn.BatchNorm2d(planes), relu=nn.ReLU(),
        conv2=nn.Conv2d(planes, planes, 3, 1, 1, bias=False), bn2=nn.BatchNorm2d(planes)))


def _shortcut(self, x):
    if len(self.shortcut) == 0:
        return x
    return self.shortcut.norm(self.shortcut.proj(x))  # created norm first, runs proj first


def block_forward(self, x):
    return F.relu(self.residual(x) + _shortcut(self, x))


METHODS = {"BasicBlock": {"__init__": block_init, "forward": block_forward}}
