"""``ndgrad.optim``: optimizers and learning-rate schedules with ``torch.optim``'s API.

Also the tolerance-stopped full-batch gradient descent of the seed notes (``optim.gd``).
"""

from __future__ import annotations

from ndgrad.optim import gd, lr_scheduler
from ndgrad.optim.adam import Adam
from ndgrad.optim.adamw import AdamW
from ndgrad.optim.gd import Trajectory, gradient_descent
from ndgrad.optim.optimizer import Optimizer
from ndgrad.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "lr_scheduler",
    "gd",
    "gradient_descent",
    "Trajectory",
]
