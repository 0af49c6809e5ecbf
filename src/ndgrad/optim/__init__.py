"""``ndgrad.optim``: optimizers and learning-rate schedules with ``torch.optim``'s API.

Also the tolerance-stopped full-batch gradient descent of the seed notes (``optim.gd``).
"""

from __future__ import annotations

from ndgrad.optim import gd, lr_scheduler
from ndgrad.optim.adadelta import Adadelta
from ndgrad.optim.adagrad import Adagrad
from ndgrad.optim.adam import Adam
from ndgrad.optim.adamax import Adamax
from ndgrad.optim.adamw import AdamW
from ndgrad.optim.asgd import ASGD
from ndgrad.optim.gd import Trajectory, gradient_descent
from ndgrad.optim.lbfgs import LBFGS
from ndgrad.optim.nadam import NAdam
from ndgrad.optim.optimizer import Optimizer
from ndgrad.optim.radam import RAdam
from ndgrad.optim.rmsprop import RMSprop
from ndgrad.optim.rprop import Rprop
from ndgrad.optim.sgd import SGD
from ndgrad.optim.sparse_adam import SparseAdam

__all__ = [
    "Optimizer",
    "SGD",
    "SparseAdam",
    "Adam",
    "AdamW",
    "Adadelta",
    "Adagrad",
    "Adamax",
    "ASGD",
    "LBFGS",
    "NAdam",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
    "gd",
    "gradient_descent",
    "Trajectory",
]
