"""ResNet-18/34 (He et al., 2016) with a CIFAR-style stem: a 3x3 convolution, no max pool.

Students write the basic block (the solution regions); the network around it is given.
"""
import torch
import torch.nn.functional as F
from torch import nn

from models.registry import register_model


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a residual connection.

    out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))

    ``conv1`` has the block's stride; convolutions have no bias (batch norm follows them).
    ``shortcut`` is the identity when the shape is kept, and a 1x1 convolution with the block's
    stride followed by batch norm when the stride is not 1 or the channel count changes.

    Args:
        in_planes: channels of the input.
        planes: channels of the output.
        stride: stride of the first convolution (2 halves the height and width).
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        ### BEGIN SOLUTION
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        ### END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, in_planes, H, W] -> [B, planes, H / stride, W / stride]."""
        ### BEGIN SOLUTION
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))
        ### END SOLUTION


class ResNet(nn.Module):
    """A ResNet for small images: 3x3 stem, four stages of blocks, global average pool, linear head.

    Args:
        num_blocks: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        num_classes: number of output logits.
        block: the residual block class.
    """

    def __init__(self, num_blocks: tuple[int, ...], num_classes: int = 10, block: type = BasicBlock) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        stages, in_planes = [], 64
        for i, n in enumerate(num_blocks):
            planes, stride = 64 * 2**i, 1 if i == 0 else 2
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(block(in_planes, planes, s))
                in_planes = planes * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(in_planes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] images -> [B, num_classes] logits."""
        x = self.layers(self.stem(x))  # (B, 512, H / 8, W / 8)
        return self.head(torch.flatten(self.pool(x), 1))  # (B, 512) -> (B, num_classes)


@register_model("resnet18")
def resnet18(cfg, num_classes: int) -> nn.Module:
    return ResNet((2, 2, 2, 2), num_classes)


@register_model("resnet34")
def resnet34(cfg, num_classes: int) -> nn.Module:
    return ResNet((3, 4, 6, 3), num_classes)
