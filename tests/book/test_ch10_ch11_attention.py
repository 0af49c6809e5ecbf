"""d2l chapters 10-11 as the book writes them, on both frameworks: the LSTM and GRU from scratch
(10.1-10.2), attention pooling by similarity with the four kernels (11.2) and the Vision
Transformer (11.8: LazyConv2d patches, a class token, learnable position embeddings, GELU
MLP, pre-norm blocks). Same weights drawn with NumPy; outputs, losses, gradients and updated
parameters agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.side_by_side import assert_same, run_both

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


# ----------------------------------------------------------------------------- d2l 10.1-10.2
def gated_scratch_program(fw: Any, cell: str) -> list:
    """LSTMScratch / GRUScratch's forward, as the book writes them, one step of SGD."""
    torch, nn = fw.torch, fw.nn
    rng = np.random.default_rng(3)
    num_inputs, num_hiddens, steps, batch = 5, 7, 4, 3

    def init_weight(*shape):
        return nn.Parameter(torch.tensor(rng.normal(0, 0.1, shape).astype(np.float32)))

    def triple():
        return (
            init_weight(num_inputs, num_hiddens),
            init_weight(num_hiddens, num_hiddens),
            nn.Parameter(torch.zeros(num_hiddens)),
        )

    if cell == "lstm":
        W_xi, W_hi, b_i = triple()
        W_xf, W_hf, b_f = triple()
        W_xo, W_ho, b_o = triple()
        W_xc, W_hc, b_c = triple()
        params = [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c]

        def forward(inputs, H_C=None):
            if H_C is None:
                H = torch.zeros((inputs.shape[1], num_hiddens))
                C = torch.zeros((inputs.shape[1], num_hiddens))
            else:
                H, C = H_C
            outputs = []
            for X in inputs:
                I = torch.sigmoid(torch.matmul(X, W_xi) + torch.matmul(H, W_hi) + b_i)  # noqa: E741
                F = torch.sigmoid(torch.matmul(X, W_xf) + torch.matmul(H, W_hf) + b_f)
                O = torch.sigmoid(torch.matmul(X, W_xo) + torch.matmul(H, W_ho) + b_o)  # noqa: E741
                C_tilde = torch.tanh(torch.matmul(X, W_xc) + torch.matmul(H, W_hc) + b_c)
                C = F * C + I * C_tilde
                H = O * torch.tanh(C)
                outputs.append(H)
            return outputs, (H, C)
    else:
        W_xz, W_hz, b_z = triple()
        W_xr, W_hr, b_r = triple()
        W_xh, W_hh, b_h = triple()
        params = [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h]

        def forward(inputs, H=None):
            if H is None:
                H = torch.zeros((inputs.shape[1], num_hiddens))
            outputs = []
            for X in inputs:
                Z = torch.sigmoid(torch.matmul(X, W_xz) + torch.matmul(H, W_hz) + b_z)
                R = torch.sigmoid(torch.matmul(X, W_xr) + torch.matmul(H, W_hr) + b_r)
                H_tilde = torch.tanh(torch.matmul(X, W_xh) + torch.matmul(R * H, W_hh) + b_h)
                H = Z * H + (1 - Z) * H_tilde
                outputs.append(H)
            return outputs, H

    X = torch.tensor(rng.normal(size=(steps, batch, num_inputs)).astype(np.float32))
    outputs, state = forward(X)
    loss = torch.stack(outputs).pow(2).mean()
    loss.backward()
    grads = [p.grad.clone() for p in params]
    optimizer = torch.optim.SGD(params, lr=0.5)
    optimizer.step()
    return [torch.stack(outputs), state, loss, grads, [p.detach().clone() for p in params]]


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_rnns_from_scratch(cell):
    ours, ref = run_both(gated_scratch_program, cell)
    assert_same(ours, ref, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- d2l 11.2
def nadaraya_watson_program(fw: Any) -> list:
    torch = fw.torch
    rng = np.random.default_rng(4)

    def gaussian(x):
        return torch.exp(-(x**2) / 2)

    def boxcar(x):
        return torch.abs(x) < 1.0

    def constant(x):
        return 1.0 + 0 * x

    def epanechikov(x):
        return torch.max(1 - torch.abs(x), torch.zeros_like(x))

    def f(x):
        return 2 * torch.sin(x) + x

    n = 40
    x_train, _ = torch.sort(torch.tensor(rng.uniform(0, 5, n).astype(np.float32)))
    y_train = f(x_train) + torch.tensor(rng.normal(size=n).astype(np.float32))
    x_val = torch.arange(0, 5, 0.1)
    y_val = f(x_val)

    def nadaraya_watson(x_train, y_train, x_val, kernel):
        dists = x_train.reshape((-1, 1)) - x_val.reshape((1, -1))
        k = kernel(dists).type(torch.float32)
        attention_w = k / k.sum(0)
        y_hat = y_train @ attention_w
        return y_hat, attention_w

    out: list = [x_val.shape, y_val]
    for kernel in (gaussian, boxcar, constant, epanechikov):
        out += list(nadaraya_watson(x_train, y_train, x_val, kernel))
    sigmas = (0.1, 0.2, 0.5, 1)

    def gaussian_with_width(sigma):
        return lambda x: torch.exp(-(x**2) / (2 * sigma**2))

    for sigma in sigmas:
        y_hat, _ = nadaraya_watson(x_train, y_train, x_val, gaussian_with_width(sigma))
        out.append(y_hat)
    return out


def test_attention_pooling_by_similarity():
    ours, ref = run_both(nadaraya_watson_program)
    assert_same(ours, ref, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- d2l 11.8
def vit_program(fw: Any) -> list:
    torch, nn = fw.torch, fw.nn
    rng = np.random.default_rng(5)

    class PatchEmbedding(nn.Module):
        def __init__(self, img_size=96, patch_size=16, num_hiddens=512):
            super().__init__()

            def _make_tuple(x):
                if not isinstance(x, list | tuple):
                    return (x, x)
                return x

            img_size, patch_size = _make_tuple(img_size), _make_tuple(patch_size)
            self.num_patches = (img_size[0] // patch_size[0]) * (img_size[1] // patch_size[1])
            self.conv = nn.LazyConv2d(num_hiddens, kernel_size=patch_size, stride=patch_size)

        def forward(self, X):
            return self.conv(X).flatten(2).transpose(1, 2)

    class ViTMLP(nn.Module):
        def __init__(self, mlp_num_hiddens, mlp_num_outputs, dropout=0.5):
            super().__init__()
            self.dense1 = nn.LazyLinear(mlp_num_hiddens)
            self.gelu = nn.GELU()
            self.dropout1 = nn.Dropout(dropout)
            self.dense2 = nn.LazyLinear(mlp_num_outputs)
            self.dropout2 = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout2(self.dense2(self.dropout1(self.gelu(self.dense1(x)))))

    class ViTBlock(nn.Module):
        def __init__(self, num_hiddens, norm_shape, mlp_num_hiddens, num_heads, dropout):
            super().__init__()
            self.ln1 = nn.LayerNorm(norm_shape)
            self.attention = nn.MultiheadAttention(
                num_hiddens, num_heads, dropout, batch_first=True
            )
            self.ln2 = nn.LayerNorm(norm_shape)
            self.mlp = ViTMLP(mlp_num_hiddens, num_hiddens, dropout)

        def forward(self, X):
            Y = self.ln1(X)
            X = X + self.attention(Y, Y, Y, need_weights=False)[0]
            return X + self.mlp(self.ln2(X))

    class ViT(nn.Module):
        def __init__(self, img_size, patch_size, num_hiddens, mlp_num_hiddens, num_heads,
                     num_blks, emb_dropout, blk_dropout, num_classes=10):  # fmt: skip
            super().__init__()
            self.patch_embedding = PatchEmbedding(img_size, patch_size, num_hiddens)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, num_hiddens))
            num_steps = self.patch_embedding.num_patches + 1
            self.pos_embedding = nn.Parameter(torch.randn(1, num_steps, num_hiddens) * 0.02)
            self.dropout = nn.Dropout(emb_dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module(
                    f"{i}",
                    ViTBlock(num_hiddens, num_hiddens, mlp_num_hiddens, num_heads, blk_dropout),
                )
            self.head = nn.Sequential(
                nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens, num_classes)
            )

        def forward(self, X):
            X = self.patch_embedding(X)
            X = torch.cat((self.cls_token.expand(X.shape[0], -1, -1), X), 1)
            X = self.dropout(X + self.pos_embedding)
            for blk in self.blks:
                X = blk(X)
            return self.head(X[:, 0])

    model = ViT(16, 4, 24, 32, 4, 2, 0.0, 0.0)
    X = torch.tensor(rng.normal(size=(3, 1, 16, 16)).astype(np.float32))
    model(X)  # materialises the lazy layers
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(rng.normal(0, 0.2, tuple(p.shape)).astype(np.float32)))
    y = torch.tensor([1, 4, 9])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    logits = model(X)
    loss = nn.functional.cross_entropy(logits, y)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    optimizer.step()
    return [list(model.state_dict()), logits, loss, grads, model(X)]


def test_vision_transformer_one_step():
    ours, ref = run_both(vit_program)
    assert_same(ours, ref, rtol=1e-4, atol=1e-5)
