"""The networks the learners train: small, without batch norm (plain functional MAML)."""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError


class MnistCNN(nn.Module):
    """Two 5x5 conv layers and two linear layers (LeNet-like, as in FedAvg's MNIST CNN, smaller)."""

    def __init__(self, classes: int = 10, width: int = 16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * width * 49, 128), nn.ReLU(), nn.Linear(128, classes),
        )

    def forward(self, x):
        return self.net(x)


class MLP(nn.Module):
    def __init__(self, inputs: int, classes: int, hidden: tuple[int, ...] = (200, 200)):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = inputs
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build(arch: str, inputs: int, classes: int, hidden: tuple[int, ...] = (200, 200)) -> nn.Module:
    if arch == "cnn":
        return MnistCNN(classes)
    if arch == "mlp":
        return MLP(inputs, classes, hidden)
    raise InputError(f"--arch: unknown network {arch!r} (cnn, mlp)")


def pick_device(device: str) -> str:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device: {device} asked for but torch sees no CUDA device")
    return device
