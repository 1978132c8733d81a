"""A correct AlexNet whose fully connected layers are created before the convolutions (in one
``nn.Sequential`` each, with in-place ReLU modules, ``nn.MaxPool2d`` modules and ``nn.Flatten``):
the order ``__init__`` creates layers in must not matter. The tests graft ``METHODS`` onto the
handout's file."""
from torch import nn


def alexnet_init(self, num_classes=200, dropout=0.5):
    nn.Module.__init__(self)
    self.head = nn.Sequential(
        nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
        nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )
    self.pool = nn.AdaptiveAvgPool2d((6, 6))
    self.body = nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    self.flatten = nn.Flatten()


def alexnet_forward(self, x):
    return self.head(self.flatten(self.pool(self.body(x))))


METHODS = {"AlexNet": {"__init__": alexnet_init, "forward": alexnet_forward}}
