"""A correct AlexNet with its layers created in a scrambled order under names of its own
(classifier first, convolutions last to first), functional ReLU and pooling, ``torch.flatten``.
The tests graft ``METHODS`` onto the handout's file."""
import torch
import torch.nn.functional as F
from torch import nn


def alexnet_init(self, num_classes=200, dropout=0.5):
    nn.Module.__init__(self)
    self.out = nn.Linear(4096, num_classes)
    self.hidden2 = nn.Linear(4096, 4096)
    self.hidden1 = nn.Linear(9216, 4096)
    self.convs = nn.ModuleList([nn.Conv2d(256, 256, 3, padding=1), nn.Conv2d(384, 256, 3, padding=1),
                                nn.Conv2d(192, 384, 3, padding=1), nn.Conv2d(64, 192, 5, padding=2),
                                nn.Conv2d(3, 64, 11, stride=4, padding=2)])
    self.drop = nn.Dropout(dropout)


def alexnet_forward(self, x):
    c5, c4, c3, c2, c1 = self.convs
    x = F.max_pool2d(F.relu(c1(x)), kernel_size=3, stride=2)
    x = F.max_pool2d(F.relu(c2(x)), kernel_size=3, stride=2)
    x = F.relu(c5(F.relu(c4(F.relu(c3(x))))))
    x = F.adaptive_avg_pool2d(F.max_pool2d(x, 3, 2), 6)
    x = torch.flatten(x, 1)
    x = F.relu(self.hidden1(self.drop(x)))
    x = F.relu(self.hidden2(self.drop(x)))
    return self.out(x)


METHODS = {"AlexNet": {"__init__": alexnet_init, "forward": alexnet_forward}}
