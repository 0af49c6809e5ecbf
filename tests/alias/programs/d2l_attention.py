# ruff: noqa: I001 - the stand-ins must come before d2l
"""d2l's attention classes (chapter 11): ``d2l.masked_softmax`` (1-D and 2-D valid lengths),
``d2l.sequence_mask`` and ``d2l.MaskedSoftmaxCELoss``, ``d2l.DotProductAttention``,
``d2l.AdditiveAttention``, ``d2l.MultiHeadAttention``, ``d2l.PositionalEncoding`` and
``d2l.TransformerEncoder`` (forward, backward), dropout 0.

Run unchanged under real PyTorch (``python``) and under ndgrad (``ndgrad run``): inputs and
weights come from NumPy, so no random stream enters. Prints one JSON line.
"""

import json
import math

import numpy as np

import _standins  # noqa: F401 - ndgrad.vision/pandas/requests stand-ins where missing
from _numpy_init import flat, grads, numpy_init
from d2l import torch as d2l
import torch
from torch import nn

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


# The book's decoders on d2l's classes (chapters 11.4 and 11.7), dropout 0, in d2l.Seq2Seq:
# forward in training mode (the Transformer's causal decoder masks), masked loss, backward,
# then greedy predict_step in eval mode (the Transformer's cached keys and values).
class Seq2SeqAttentionDecoder(d2l.AttentionDecoder):
    def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
        super().__init__()
        self.attention = d2l.AdditiveAttention(num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
        self.dense = nn.LazyLinear(vocab_size)
        self.apply(d2l.init_seq2seq)

    def init_state(self, enc_outputs, enc_valid_lens):
        outputs, hidden_state = enc_outputs
        return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

    def forward(self, X, state):
        enc_outputs, hidden_state, enc_valid_lens = state
        X = self.embedding(X).permute(1, 0, 2)
        outputs, self._attention_weights = [], []
        for x in X:
            query = torch.unsqueeze(hidden_state[-1], dim=1)
            context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
            x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            self._attention_weights.append(self.attention.attention_weights)
        outputs = self.dense(torch.cat(outputs, dim=0))
        return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

    @property
    def attention_weights(self):
        return self._attention_weights


class TransformerDecoderBlock(nn.Module):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i):
        super().__init__()
        self.i = i
        self.attention1 = d2l.MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm1 = d2l.AddNorm(num_hiddens, dropout)
        self.attention2 = d2l.MultiHeadAttention(num_hiddens, num_heads, dropout)
        self.addnorm2 = d2l.AddNorm(num_hiddens, dropout)
        self.ffn = d2l.PositionWiseFFN(ffn_num_hiddens, num_hiddens)
        self.addnorm3 = d2l.AddNorm(num_hiddens, dropout)

    def forward(self, X, state):
        enc_outputs, enc_valid_lens = state[0], state[1]
        if state[2][self.i] is None:
            key_values = X
        else:
            key_values = torch.cat((state[2][self.i], X), dim=1)
        state[2][self.i] = key_values
        if self.training:
            batch_size, num_steps, _ = X.shape
            dec_valid_lens = torch.arange(1, num_steps + 1, device=X.device).repeat(batch_size, 1)
        else:
            dec_valid_lens = None
        X2 = self.attention1(X, key_values, key_values, dec_valid_lens)
        Y = self.addnorm1(X, X2)
        Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
        Z = self.addnorm2(Y, Y2)
        return self.addnorm3(Z, self.ffn(Z)), state


class TransformerDecoder(d2l.AttentionDecoder):
    def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks, dropout):
        super().__init__()
        self.num_hiddens = num_hiddens
        self.num_blks = num_blks
        self.embedding = nn.Embedding(vocab_size, num_hiddens)
        self.pos_encoding = d2l.PositionalEncoding(num_hiddens, dropout)
        self.blks = nn.Sequential()
        for i in range(num_blks):
            self.blks.add_module(
                "block" + str(i),
                TransformerDecoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout, i),
            )
        self.dense = nn.LazyLinear(vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens):
        return [enc_outputs, enc_valid_lens, [None] * self.num_blks]

    def forward(self, X, state):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
        self._attention_weights = [[None] * len(self.blks) for _ in range(2)]
        for i, blk in enumerate(self.blks):
            X, state = blk(X, state)
            self._attention_weights[0][i] = blk.attention1.attention.attention_weights
            self._attention_weights[1][i] = blk.attention2.attention.attention_weights
        return self.dense(X), state

    @property
    def attention_weights(self):
        return self._attention_weights


@d2l.add_to_class(d2l.Seq2Seq)
def loss(self, Y_hat, Y):
    l = super(d2l.Seq2Seq, self).loss(Y_hat, Y, averaged=False)
    mask = (Y.reshape(-1) != self.tgt_pad).type(torch.float32)
    return (l * mask).sum() / mask.sum()


src_v, tgt_v, steps, batch = 10, 12, 5, 4
src = torch.tensor(rng.integers(1, src_v, (batch, steps)))
tgt = torch.tensor(np.concatenate([rng.integers(2, tgt_v, (batch, steps - 1)),
                                   np.zeros((batch, 1), np.int64)], 1))  # fmt: skip
dec_in = torch.tensor(np.concatenate([np.ones((batch, 1), np.int64), tgt.numpy()[:, :-1]], 1))
src_valid = torch.tensor([5, 3, 4, 2])
for name, make in [
    ("bahdanau", lambda: (d2l.Seq2SeqEncoder(src_v, 6, 8, 2), Seq2SeqAttentionDecoder(tgt_v, 6, 8, 2))),
    ("transformer", lambda: (d2l.TransformerEncoder(src_v, 8, 16, 2, 2, 0.0),
                             TransformerDecoder(tgt_v, 8, 16, 2, 2, 0.0))),
]:  # fmt: skip
    model = d2l.Seq2Seq(*make(), tgt_pad=0, lr=0.01)
    model(src, dec_in, src_valid)  # materializes the lazy layers
    numpy_init(model, torch)
    Y_hat = model(src, dec_in, src_valid)
    l = model.loss(Y_hat, tgt)
    l.backward()
    model.eval()
    pred, weights = model.predict_step([src, dec_in, src_valid, tgt], d2l.cpu(), steps, True)
    out[name] = {
        "Y_hat": flat(Y_hat),
        "loss": l.item(),
        "grads": grads(model),
        "predict": pred.tolist(),
        "decoder_attention": flat(model.decoder.attention_weights[-1])
        if name == "bahdanau"
        else flat(model.decoder.attention_weights[1]),
    }
print(json.dumps(out))
