"""A correct BasicBlock written differently: an empty ``nn.Sequential`` as the identity shortcut,
``nn.ReLU`` modules, the residual added in place. The tests graft ``METHODS`` onto the handout's file."""
from torch import nn


def block_init(self, in_planes, planes, stride=1):
    nn.Module.__init__(self)
    self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.relu = nn.ReLU()
    self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.shortcut = nn.Sequential()
    if stride != 1 or in_planes != planes:
        self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))


def block_forward(self, x):
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    out += self.shortcut(x)
    return self.relu(out)


METHODS = {"BasicBlock": {"__init__": block_init, "forward": block_forward}}
