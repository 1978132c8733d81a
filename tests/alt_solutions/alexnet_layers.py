"""A correct AlexNet written differently: one attribute per layer, functional ReLU and pooling,
``view`` instead of ``torch.flatten``. The tests graft ``METHODS`` onto the handout's file."""
import torch.nn.functional as F
from torch import nn


def alexnet_init(self, num_classes=200, dropout=0.5):
    nn.Module.__init__(self)
    self.conv1 = nn.Conv2d(3, 64, 11, 4, 2)
    self.conv2 = nn.Conv2d(64, 192, 5, padding=2)
    self.conv3 = nn.Conv2d(192, 384, 3, padding=1)
    self.conv4 = nn.Conv2d(384, 256, 3, padding=1)
    self.conv5 = nn.Conv2d(256, 256, 3, padding=1)
    self.fc1 = nn.Linear(9216, 4096)
    self.fc2 = nn.Linear(4096, 4096)
    self.fc3 = nn.Linear(4096, num_classes)
    self.p = dropout


def alexnet_forward(self, x):
    x = F.max_pool2d(F.relu(self.conv1(x)), 3, 2)
    x = F.max_pool2d(F.relu(self.conv2(x)), 3, 2)
    x = F.relu(self.conv4(F.relu(self.conv3(x))))
    x = F.adaptive_avg_pool2d(F.max_pool2d(F.relu(self.conv5(x)), 3, 2), (6, 6))
    x = x.view(x.size(0), -1)  # (B, 9216)
    x = F.relu(self.fc1(F.dropout(x, self.p, self.training)))
    x = F.relu(self.fc2(F.dropout(x, self.p, self.training)))
    return self.fc3(x)


METHODS = {"AlexNet": {"__init__": alexnet_init, "forward": alexnet_forward}}
