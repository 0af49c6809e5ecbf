# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's FashionMNIST data module on local files (torchvision's layout under d2l's ``../data``,
written by the test), its dataloaders through ``torchvision.transforms`` (here ndgrad.vision),
and d2l.SoftmaxRegression trained on it by d2l.Trainer. Run under ``ndgrad run`` only: the
real torchvision wheel does not load with the CPU torch. Prints one JSON line.
"""

import json

import _standins  # noqa: F401 - pandas/requests stand-ins where missing
from d2l import torch as d2l
import torch

data = d2l.FashionMNIST(batch_size=16, resize=(32, 32))
X, y = next(iter(data.val_dataloader()))  # the validation loader does not shuffle
torch.manual_seed(0)
model = d2l.SoftmaxRegression(num_outputs=10, lr=0.01)
model.board.display = False
d2l.Trainer(max_epochs=4).fit(model, d2l.FashionMNIST(batch_size=16))
board = {k: [float(p.y) for p in v] for k, v in model.board.data.items()}
print(
    json.dumps(
        {
            "torch": torch.__name__,
            "sizes": [len(data.train), len(data.val)],
            "X": [list(X.shape), str(X.dtype), X[:2].numpy().tolist()],
            "y": y.tolist(),
            "labels": data.text_labels(y[:4]),
            "board": board,
        }
    )
)
