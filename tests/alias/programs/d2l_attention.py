# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's attention classes (chapter 11): ``d2l.masked_softmax`` (1-D and 2-D valid lengths),
``d2l.sequence_mask`` and ``d2l.MaskedSoftmaxCELoss``, ``d2l.DotProductAttention``,
``d2l.AdditiveAttention``, ``d2l.MultiHeadAttention``, ``d2l.PositionalEncoding`` and
``d2l.TransformerEncoder`` (forward, backward), dropout 0.

Run unchanged under real PyTorch (``python``) and under ndgrad (``ndgrad run``): inputs and
weights come from NumPy, so no random stream enters. Prints one JSON line.
"""

import json

import numpy as np

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from _numpy_init import flat, grads, numpy_init
from d2l import torch as d2l
import torch

rng = np.random.default_rng(2)
out = {"torch": torch.__name__}


def t(*shape):
    return torch.tensor(rng.standard_normal(shape).astype(np.float32))


def leaf(*shape):
    return t(*shape).requires_grad_(True)


# masked_softmax, 1-D and 2-D valid lengths, and its gradient.
# (d2l masks in place: on a leaf that requires grad PyTorch refuses, and so does ndgrad.)
X = leaf(2, 3, 4)
m1 = d2l.masked_softmax(X * 1, torch.tensor([2, 3]))
m2 = d2l.masked_softmax(X * 1, torch.tensor([[1, 3, 4], [2, 1, 4]]))
(m1 * torch.arange(24.0).reshape(2, 3, 4)).sum().backward()
out["masked_softmax"] = {"1d": flat(m1), "2d": flat(m2), "none": flat(d2l.masked_softmax(X, None)),
                         "grad": flat(X.grad)}  # fmt: skip

# sequence_mask and MaskedSoftmaxCELoss.
out["sequence_mask"] = flat(d2l.sequence_mask(t(3, 4), torch.tensor([1, 2, 4])))
pred, label = leaf(3, 4, 5), torch.tensor(rng.integers(0, 5, (3, 4)))
ce = d2l.MaskedSoftmaxCELoss()(pred, label, torch.tensor([4, 2, 0]))
ce.sum().backward()
out["masked_ce"] = {"loss": flat(ce), "grad": flat(pred.grad)}


def attend(attention, queries, keys, values, valid_lens):
    attention.eval()
    y = attention(queries, keys, values, valid_lens)
    (y * y).sum().backward()
    return {
        "out": flat(y),
        "weights": flat(attention.attention_weights),
        "grads": grads(attention),
        "input_grads": flat([queries.grad, keys.grad, values.grad]),
    }


queries, keys, values = leaf(2, 1, 2), leaf(2, 10, 2), leaf(2, 10, 4)
valid = torch.tensor([2, 6])
out["dot_product"] = attend(d2l.DotProductAttention(dropout=0.5), queries, keys, values, valid)

queries, keys, values = leaf(2, 1, 20), leaf(2, 10, 2), leaf(2, 10, 4)
additive = d2l.AdditiveAttention(num_hiddens=8, dropout=0.1)
additive(queries, keys, values, valid)  # materializes the lazy layers
numpy_init(additive, torch)
out["additive"] = attend(additive, queries, keys, values, valid)

num_hiddens, num_heads = 8, 2
mha = d2l.MultiHeadAttention(num_hiddens, num_heads, dropout=0.5)
queries, keys = leaf(2, 4, num_hiddens), leaf(2, 6, 6)
mha(queries, keys, keys, valid)
numpy_init(mha, torch)
mha.eval()
y = mha(queries, keys, keys, valid)
y.square().sum().backward()
out["multihead"] = {
    "shape": list(y.shape),
    "out": flat(y),
    "weights": flat(mha.attention.attention_weights),
    "grads": grads(mha),
    "input_grads": flat([queries.grad, keys.grad]),
}

pos = d2l.PositionalEncoding(num_hiddens=6, dropout=0.2, max_len=50)
pos.eval()
X = leaf(2, 7, 6)
y = pos(X)
out["positional"] = {"P": flat(pos.P[:, :12, :]), "out": flat(y)}

encoder = d2l.TransformerEncoder(vocab_size=20, num_hiddens=8, ffn_num_hiddens=16,
                                 num_heads=2, num_blks=2, dropout=0.3)  # fmt: skip
tokens = torch.tensor(rng.integers(0, 20, (3, 5)))
enc_valid = torch.tensor([5, 3, 1])
encoder(tokens, enc_valid)  # materializes the lazy layers
numpy_init(encoder, torch)
encoder.eval()
y = encoder(tokens, enc_valid)
(y * torch.arange(8.0)).sum().backward()
out["transformer_encoder"] = {
    "shape": list(y.shape),
    "out": flat(y),
    "attention_weights": flat(encoder.attention_weights),
    "grads": grads(encoder),
}
print(json.dumps(out))
