# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's programs as the book writes them: one ``torch.manual_seed`` and then d2l's own
random data (``SyntheticRegressionData``), default and d2l initialisations, shuffled
DataLoaders and dropout, trained by ``d2l.Trainer``.

Nothing is made with NumPy: every number comes from the library's generator, so the runs under
real PyTorch (``python``) and under ndgrad (``ndgrad run``) agree only because ndgrad's
generator draws PyTorch's numbers. Prints one JSON line.
"""

import json

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from _time_machine import local_time_machine
from d2l import torch as d2l
import torch
from torch import nn

out = {"torch": torch.__name__}


def fit(model, data, epochs=3):
    """d2l.Trainer(max_epochs).fit, with the progress board recording but not drawing."""
    model.board.display = False
    d2l.Trainer(max_epochs=epochs).fit(model, data)
    return {k: [float(p.y) for p in v] for k, v in model.board.data.items()}


torch.manual_seed(0)
data = d2l.SyntheticRegressionData(w=torch.tensor([2, -3.4]), b=4.2)
model = d2l.LinearRegression(lr=0.03)
out["concise_board"] = fit(model, data)
w, b = model.get_w_b()
out["concise"] = [w.reshape(-1).tolist(), b.item()]

torch.manual_seed(1)
scratch = d2l.LinearRegressionScratch(2, lr=0.03)
out["scratch_board"] = fit(scratch, data)
out["scratch"] = [scratch.w.reshape(-1).tolist(), scratch.b.item()]


class DropoutMLP(d2l.Classifier):
    def __init__(self, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Flatten(), nn.LazyLinear(32), nn.ReLU(), nn.Dropout(0.3), nn.LazyLinear(3)
        )


class Blobs(d2l.DataModule):
    def __init__(self):
        super().__init__()
        self.batch_size = 32
        self.X = torch.randn(240, 1, 4, 4)
        self.y = (self.X[:, 0, 0, 0] > 0).long() + (self.X[:, 0, 1, 1] > 0).long()

    def get_dataloader(self, train):
        i = slice(0, 192) if train else slice(192, None)
        return self.get_tensorloader((self.X, self.y), train, i)


torch.manual_seed(2)
blobs = Blobs()
mlp = DropoutMLP(lr=0.1)
out["mlp_board"] = fit(mlp, blobs)
out["mlp"] = [p.detach().reshape(-1)[:5].tolist() for p in mlp.parameters()]

torch.manual_seed(3)
lenet = d2l.LeNet(lr=0.1, num_classes=3)
lenet.apply_init([blobs.X[:2].repeat(1, 1, 7, 7)], d2l.init_cnn)  # 28x28 inputs
out["lenet_init"] = [p.detach().reshape(-1)[:5].tolist() for p in lenet.parameters()]

# Chapter 9-10: d2l.TimeMachine (ndgrad's copy of the text), shuffled batches, d2l.GRU's
# default initialisation, gradient clipping.
text = local_time_machine(d2l, batch_size=16, num_steps=8, num_train=256, num_val=64)
torch.manual_seed(4)
gru = d2l.GRU(num_inputs=len(text.vocab), num_hiddens=16, num_layers=1)
lm = d2l.RNNLM(gru, vocab_size=len(text.vocab), lr=1)
lm.board.display = False
d2l.Trainer(max_epochs=2, gradient_clip_val=1).fit(lm, text)
out["gru_board"] = {k: [float(p.y) for p in v] for k, v in lm.board.data.items()}
out["gru_predict"] = lm.predict("it has", 10, text.vocab)

print(json.dumps(out))
