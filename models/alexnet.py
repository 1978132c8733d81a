"""AlexNet (Krizhevsky et al., 2012) in the single-GPU layout torchvision uses.

Students write the layers and the forward pass (the solution regions); the layer table is in
the homework handout and WORKSHEET.md.
"""
import torch
from torch import nn

from models.registry import register_model


class AlexNet(nn.Module):
    """AlexNet for N x N x 3 inputs (N >= 63; use DATA.IMG_SIZE 70 for CIFAR).

    Layer table (ReLU after every convolution and every linear layer except the last):
        Conv 11x11, 64 filters, stride 4, padding 2  ->  MaxPool 3x3, stride 2
        Conv 5x5, 192 filters, padding 2              ->  MaxPool 3x3, stride 2
        Conv 3x3, 384 filters, padding 1
        Conv 3x3, 256 filters, padding 1
        Conv 3x3, 256 filters, padding 1              ->  MaxPool 3x3, stride 2
        AdaptiveAvgPool2d((6, 6)), flatten
        Dropout, Linear 4096, Dropout, Linear 4096, Linear num_classes

    Args:
        num_classes: number of output logits.
        dropout: dropout probability before the first two linear layers.
    """

    def __init__(self, num_classes: int = 200, dropout: float = 0.5) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, N, N] images -> [B, num_classes] logits."""
        ### BEGIN SOLUTION
        x = self.avgpool(self.features(x))  # (B, 256, 6, 6)
        return self.classifier(torch.flatten(x, 1))  # (B, 9216) -> (B, num_classes)
        ### END SOLUTION


@register_model("alexnet")
def alexnet(cfg, num_classes: int) -> nn.Module:
    return AlexNet(num_classes, dropout=cfg.MODEL.DROP_RATE)
