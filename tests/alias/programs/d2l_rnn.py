# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's recurrent classes (chapters 9-10): ``d2l.TimeMachine`` read from a local copy (no
download), ``d2l.RNNScratch`` + ``d2l.RNNLMScratch``, ``d2l.RNN``/``d2l.RNNLM``, ``d2l.GRU`` and
an LSTM as the book defines it, each trained by ``d2l.Trainer`` (gradient clipping on) for a few
batches and asked to predict; ``d2l.grad_clipping``; ``d2l.Seq2SeqEncoder`` and ``d2l.Seq2Seq``
(with the book's decoder and masked loss) forward, loss, backward, an Adam step and
``predict_step``.

Run unchanged under real PyTorch (``python``) and under ndgrad (``ndgrad run``): weights come
from NumPy, batches in order, so no random stream enters. Prints one JSON line.
"""

import json

import numpy as np

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from _numpy_init import board, flat, grads, numpy_init, params
from _time_machine import local_time_machine
from d2l import torch as d2l
import torch
from torch import nn

out = {"torch": torch.__name__}

data = local_time_machine(d2l, batch_size=8, num_steps=5, num_train=64, num_val=16)
# Batches in order: no shuffling, so no random stream enters.
data.train_dataloader = lambda: data.get_tensorloader([data.X, data.Y], False, slice(0, 64))
vocab = data.vocab
V = len(vocab)
out["timemachine"] = {
    "vocab": vocab.idx_to_token,
    "X_shape": list(data.X.shape),
    "first": [data.X[:3].tolist(), data.Y[:3].tolist()],
    "to_tokens": vocab.to_tokens([1, 2, 3]),
}


class LSTM(d2l.RNN):  # as the book defines it (chapter 10.1); d2l's library has no LSTM
    def __init__(self, num_inputs, num_hiddens):
        d2l.Module.__init__(self)
        self.save_hyperparameters()
        self.rnn = nn.LSTM(num_inputs, num_hiddens)

    def forward(self, inputs, H_C=None):
        return self.rnn(inputs, H_C)


def language_model(kind):
    if kind == "scratch":
        model = d2l.RNNLMScratch(d2l.RNNScratch(num_inputs=V, num_hiddens=8), vocab_size=V, lr=1)
    elif kind == "rnn":
        model = d2l.RNNLM(d2l.RNN(num_inputs=V, num_hiddens=8), vocab_size=V, lr=1)
    elif kind == "gru":
        model = d2l.RNNLM(d2l.GRU(num_inputs=V, num_hiddens=8, num_layers=2), vocab_size=V, lr=1)
    else:
        model = d2l.RNNLM(LSTM(num_inputs=V, num_hiddens=8), vocab_size=V, lr=1)
    model(data.X[:2])  # materializes the lazy output layer
    numpy_init(model, torch)
    model.board.display = False
    d2l.Trainer(max_epochs=2, gradient_clip_val=1).fit(model, data)
    return {
        "board": board(model),
        "params": params(model),
        "predict": model.predict("it has", 6, vocab),
        "logits": flat(model(data.X[:2])),
    }


for kind in ("scratch", "rnn", "gru", "lstm"):
    out[kind] = language_model(kind)

# d2l.grad_clipping on a module's gradients (norm above theta: scaled; below: unchanged).
net = numpy_init(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2)), torch)
x = torch.tensor(np.linspace(-2, 2, 20, dtype=np.float32).reshape(5, 4))
(net(x) ** 2).sum().backward()
before = grads(net)
d2l.grad_clipping(net, 0.5)
out["grad_clipping"] = {"before": before, "after": grads(net)}


class Seq2SeqDecoder(d2l.Decoder):  # as the book defines it (chapter 10.7)
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = d2l.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout)
        self.dense = nn.LazyLinear(vocab_size)
        self.apply(d2l.init_seq2seq)

    def init_state(self, enc_all_outputs, *args):
        return enc_all_outputs

    def forward(self, X, state):
        embs = self.embedding(X.t().type(torch.int32))
        enc_output, hidden_state = state
        context = enc_output[-1]
        context = context.repeat(embs.shape[0], 1, 1)
        embs_and_context = torch.cat((embs, context), -1)
        rnn_outputs, hidden_state = self.rnn(embs_and_context, hidden_state)
        outputs = self.dense(rnn_outputs).swapaxes(0, 1)
        return outputs, [enc_output, hidden_state]


@d2l.add_to_class(d2l.Seq2Seq)
def loss(self, Y_hat, Y):
    l = super(d2l.Seq2Seq, self).loss(Y_hat, Y, averaged=False)
    mask = (Y.reshape(-1) != self.tgt_pad).type(torch.float32)
    return (l * mask).sum() / mask.sum()


src_v, tgt_v, steps, batch = 10, 12, 5, 4
rng = np.random.default_rng(1)
src = torch.tensor(rng.integers(1, src_v, (batch, steps)))
tgt = torch.tensor(np.concatenate([rng.integers(2, tgt_v, (batch, steps - 1)),
                                   np.zeros((batch, 1), np.int64)], 1))  # fmt: skip
dec_in = torch.tensor(np.concatenate([np.ones((batch, 1), np.int64), tgt.numpy()[:, :-1]], 1))
encoder = d2l.Seq2SeqEncoder(src_v, embed_size=6, num_hiddens=8, num_layers=2)
enc_out, enc_state = encoder(src)
decoder = Seq2SeqDecoder(tgt_v, embed_size=6, num_hiddens=8, num_layers=2)
model = d2l.Seq2Seq(encoder, decoder, tgt_pad=0, lr=0.01)
model(src, dec_in)  # materializes the lazy output layer
numpy_init(model, torch)
enc_out, enc_state = encoder(src)
Y_hat = model(src, dec_in)
l = model.loss(Y_hat, tgt)
optim = model.configure_optimizers()
optim.zero_grad()
l.backward()
seq_grads = grads(model)
optim.step()
valid = torch.tensor([steps] * batch)
pred, _ = model.predict_step([src, dec_in, valid, tgt], d2l.cpu(), steps)
out["seq2seq"] = {
    "enc_shapes": [list(enc_out.shape), list(enc_state.shape)],
    "enc_out": flat(enc_out),
    "Y_hat": flat(Y_hat),
    "loss": l.item(),
    "grads": seq_grads,
    "params": params(model),
    "predict": pred.tolist(),
}

# d2l.MTFraEng on a small local corpus (its _download is the only part that needs the network),
# then chapter 10.7's loop: d2l.Seq2Seq trained by d2l.Trainer, greedy prediction and BLEU.
TEXT = "\n".join(
    f"{en}\t{fr}"
    for en, fr in [
        ("go .", "va !"),
        ("i lost .", "j'ai perdu ."),
        ("he's calm .", "il est calme ."),
        ("i'm home .", "je suis chez moi ."),
        ("go .", "va !"),
        ("i lost .", "j'ai perdu ."),
        ("he's calm .", "il est calme ."),
        ("i'm home .", "je suis chez moi ."),
        ("run !", "cours !"),
        ("i won !", "j'ai gagné !"),
        ("run !", "cours !"),
        ("i won !", "j'ai gagné !"),
    ]  # fmt: skip
)


class LocalFraEng(d2l.MTFraEng):
    def _download(self):
        return TEXT


mt = LocalFraEng(batch_size=4, num_steps=5, num_train=8, num_val=4)
mt.train_dataloader = lambda: mt.get_tensorloader(mt.arrays, False, slice(0, 8))  # in order
encoder = d2l.Seq2SeqEncoder(len(mt.src_vocab), embed_size=6, num_hiddens=8, num_layers=2)
decoder = Seq2SeqDecoder(len(mt.tgt_vocab), embed_size=6, num_hiddens=8, num_layers=2)
model = d2l.Seq2Seq(encoder, decoder, tgt_pad=mt.tgt_vocab["<pad>"], lr=0.02)
model(*mt.arrays[:2])  # materializes the lazy output layer
numpy_init(model, torch)
model.board.display = False
d2l.Trainer(max_epochs=30, gradient_clip_val=1).fit(model, mt)
engs, fras = (
    ["go .", "i lost .", "he's calm .", "i'm home ."],
    ["va !", "j'ai perdu .", "il est calme .", "je suis chez moi ."],
)
preds, _ = model.predict_step(mt.build(engs, fras), d2l.cpu(), mt.num_steps)
translations = []
for fr, p in zip(fras, preds):
    tokens = []
    for token in mt.tgt_vocab.to_tokens(p):
        if token == "<eos>":
            break
        tokens.append(token)
    translations.append([" ".join(tokens), d2l.bleu(" ".join(tokens), fr, k=2)])
out["mt_seq2seq"] = {
    "arrays": [a.tolist() for a in mt.arrays],
    "vocab": [mt.src_vocab.idx_to_token, mt.tgt_vocab.idx_to_token],
    "board": board(model),
    "params": params(model),
    "translations": translations,
}
print(json.dumps(out))
