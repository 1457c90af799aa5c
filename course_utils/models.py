"""The course's models, and the two helpers every notebook starts with."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device() -> torch.device:
    """The GPU when there is one (Colab's GPU runtime), else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class SoftmaxRegression(nn.Module):
    """f(x) = softmax(W x + b) with W in R^{10x784}, b in R^10.

    forward() returns the logits W x + b; the softmax is applied by the loss
    (cross-entropy works on logits, which is more stable) or by `predict_proba`.
    """

    def __init__(self, n_inputs: int = 784, n_classes: int = 10):
        super().__init__()
        self.linear = nn.Linear(n_inputs, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(x), dim=1)


class MLP(nn.Module):
    """A multilayer perceptron 784 -> hidden... -> 10 with ReLU between layers.

    `MLP(hidden=(128,))` has one hidden layer of 128 units; `MLP(hidden=())`
    is softmax regression again.
    """

    def __init__(
        self,
        hidden: Sequence[int] = (128,),
        n_inputs: int = 784,
        n_classes: int = 10,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        widths = [n_inputs, *hidden, n_classes]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(activation())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
