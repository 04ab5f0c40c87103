"""A small CNN on a batch of scikit-learn's digits, for ``wattwise profile``.

    wattwise profile examples/profile_cnn.py:make --steps 20

``make()`` returns what the profiler needs: the model, one batch ``(inputs, targets)``, the
loss function and the optimizer. Nothing is downloaded (the digits ship with scikit-learn).
"""

from __future__ import annotations

from typing import Any


def make(batch_size: int = 64) -> dict[str, Any]:
    """The demo's CNN (three convolutions, two linear layers) and one batch of digits."""
    import torch
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.images[:batch_size], dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target[:batch_size])
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 48, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(48, 96, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(96, 96, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(96 * 4, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    return {
        "model": model,
        "batch": (x, y),
        "loss_fn": nn.functional.cross_entropy,
        "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3),
    }
