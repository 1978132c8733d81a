"""A correct BasicBlock that creates ``self.shortcut`` before ``conv1`` (an ``nn.Identity`` when
the shape is kept), names its layers its own way, runs the shortcut first in forward and uses an
in-place ReLU module. The tests graft ``METHODS`` onto the handout's file."""
from torch import nn


def block_init(self, in_planes, planes, stride=1):
    nn.Module.__init__(self)
    if stride != 1 or in_planes != planes:
        self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                                      nn.BatchNorm2d(planes))
    else:
        self.shortcut = nn.Identity()
    self.bn_b = nn.BatchNorm2d(planes)
    self.bn_a = nn.BatchNorm2d(planes)
    self.conv_b = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.conv_a = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
    self.act = nn.ReLU(inplace=True)


def block_forward(self, x):
    skip = self.shortcut(x)
    out = self.act(self.bn_a(self.conv_a(x)))
    out = self.bn_b(self.conv_b(out))
    return self.act(out + skip)


METHODS = {"BasicBlock": {"__init__": block_init, "forward": block_forward}}
