"""LeNet-5 in its classic form: sigmoid activations and average pooling, for 32x32 colour images."""
import torch
from torch import nn

from models.registry import register_model


class LeNet(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for 3 x 32 x 32 inputs.

    Two 5x5 convolutions (the first padded by 2), each followed by a sigmoid and 2x2 average
    pooling, then three fully connected layers: 576 -> 120 -> 84 -> num_classes.

    Args:
        num_classes: number of output logits.
    """

    def __init__(self, num_classes: int = 200) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, kernel_size=5, padding=2), nn.Sigmoid(),  # (B, 6, 32, 32)
            nn.AvgPool2d(kernel_size=2, stride=2),  # (B, 6, 16, 16)
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),  # (B, 16, 12, 12)
            nn.AvgPool2d(kernel_size=2, stride=2),  # (B, 16, 6, 6)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # (B, 576)
            nn.Linear(16 * 6 * 6, 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, 32, 32] images -> [B, num_classes] logits."""
        return self.classifier(self.features(x))


@register_model("lenet")
def lenet(cfg, num_classes: int) -> nn.Module:
    return LeNet(num_classes)
