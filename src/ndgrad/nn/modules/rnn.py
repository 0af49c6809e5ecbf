"""Recurrent layers: ``RNN``, ``GRU``, ``LSTM`` and their one-step cells.

Each direction of each layer is one op (``ndgrad.ops.recurrent.recurrent_layer``): the input
projections of all steps in one GEMM here, the recurrence and backpropagation through time
inside the op. Parameter names, order, shapes, initialisation, outputs and errors are
PyTorch's.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from ndgrad import _creation
from ndgrad._backend import to_device
from ndgrad._tensor import Tensor
from ndgrad.nn import functional as F
from ndgrad.nn import init
from ndgrad.nn.modules.module import Module
from ndgrad.nn.parameter import Parameter
from ndgrad.nn.utils.rnn import PackedSequence
from ndgrad.ops import indexing as _idx
from ndgrad.ops import recurrent as _rec
from ndgrad.ops import shape as _shape
from ndgrad.ops.namespace import TENSOR as _TENSORS

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return _creation.zeros(shape, dtype=like.dtype, device=like.device)


def _packed_layout(batch_sizes: Tensor) -> tuple:
    """For a packed batch: the lengths, the (step, batch) positions of its data rows, the
    index ``(T, B)`` of each padded position's data row, and the mask ``(T, B, 1)``."""
    bs = to_device(batch_sizes._data, "cpu").astype(np.int64)
    steps, batch = bs.size, int(bs[0])
    valid = np.arange(batch)[None, :] < bs[:, None]  # (T, B)
    lengths = valid.sum(0)
    t_idx, b_idx = np.nonzero(valid)  # row-major: the packed order
    rows = np.zeros((steps, batch), dtype=np.int64)
    rows[t_idx, b_idx] = np.arange(t_idx.size)
    return lengths, t_idx, b_idx, rows, valid


def _reverse_index(lengths: np.ndarray, steps: int) -> tuple[Tensor, Tensor]:
    """The index ``(T, B)`` pair that reverses each sequence within its own length."""
    t = np.arange(steps)[:, None]
    rev = np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)
    cols = np.broadcast_to(np.arange(lengths.size)[None, :], rev.shape)
    return Tensor._make(rev.astype(np.int64)), Tensor._make(np.ascontiguousarray(cols))


class RNNBase(Module):
    """What ``RNN``, ``GRU`` and ``LSTM`` share: parameters, checks and the layer loop."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (
            not isinstance(dropout, numbers.Number)
            or not 0 <= dropout <= 1
            or isinstance(dropout, bool)
        ):
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of "
                "an element being zeroed"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                "dropout expects num_layers greater than 1, but got "
                f"dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError(
                "proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode == "LSTM":
            gate_size = 4 * hidden_size
        elif mode == "GRU":
            gate_size = 3 * hidden_size
        elif mode in ("RNN_TANH", "RNN_RELU"):
            gate_size = hidden_size
        else:
            raise ValueError("Unrecognized RNN mode: " + mode)

        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                real_hidden = proj_size if proj_size > 0 else hidden_size
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                shapes = [(gate_size, layer_input), (gate_size, real_hidden)]
                if bias:
                    shapes += [(gate_size,), (gate_size,)]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    shapes.append((proj_size, hidden_size))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, shape in zip(names, shapes):
                    setattr(self, name, Parameter(_creation.empty(shape, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, w) for w in weights] for weights in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op (cuDNN's weight layout has no meaning here)."""

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    # ------------------------------------------------------------------ checks
    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:  # noqa: A002
        weight = self._flat_weights[0]
        if input.dtype != weight.dtype:
            raise ValueError(f"input must have the type {weight.dtype}, got type {input.dtype}")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(
                f"input must have {expected_input_dim} dimensions, got {input.dim()}"
            )
        if self.input_size != input.shape[-1]:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]}"
            )

    def get_expected_hidden_size(
        self,
        input: Tensor,
        batch_sizes: Tensor | None,  # noqa: A002
    ) -> tuple[int, int, int]:
        if batch_sizes is not None:
            mini_batch = int(batch_sizes._data[0])
        else:
            mini_batch = input.shape[0] if self.batch_first else input.shape[1]
        num_directions = 2 if self.bidirectional else 1
        hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, hidden)

    def check_hidden_size(
        self, hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, got {}"
    ) -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def _dtype_check(self, input: Tensor) -> None:  # noqa: A002
        weight = self._flat_weights[0]
        if input.dtype != weight.dtype:
            raise ValueError(
                f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: "
                f"model.to({input.dtype})"
            )

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ------------------------------------------------------------------ forward
    def _run(self, input: Any, hx: Any) -> tuple:  # noqa: A002
        """The shared forward: returns ``(output, h_n[, c_n])`` with PyTorch's layout."""
        lstm = self.mode == "LSTM"
        name = type(self).__name__
        packed = isinstance(input, PackedSequence)
        batched = True
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            self._dtype_check(data)
            self.check_input(data, batch_sizes)
            lengths, t_idx, b_idx, rows, valid = _packed_layout(batch_sizes)
            steps, batch = rows.shape
            x = data[Tensor._make(rows)]
            # the layout is computed on the host (torch keeps batch_sizes on the CPU)
            mask = Tensor._make(to_device(valid[:, :, None].astype(data._data.dtype), data.device))
            if hx is not None and sorted_indices is not None:
                if lstm:
                    hx = tuple(_idx.index_select(h, 1, sorted_indices) for h in hx)
                else:
                    hx = _idx.index_select(hx, 1, sorted_indices)
        else:
            batch_sizes = sorted_indices = unsorted_indices = None
            mask = None
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead"
                )
            self._dtype_check(input)
            batched = input.dim() == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            if hx is not None:
                hx = self._batch_hidden(hx, batched)
            self.check_input(x, None)
            steps, batch = x.shape[:2]
        num_directions = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = _zeros((self.num_layers * num_directions, batch, real_hidden), x)
            c0 = _zeros((self.num_layers * num_directions, batch, self.hidden_size), x)
        elif lstm:
            h0, c0 = hx
            expected = (self.num_layers * num_directions, batch, real_hidden)
            self.check_hidden_size(h0, expected, "Expected hidden[0] size {}, got {}")
            expected_c = (self.num_layers * num_directions, batch, self.hidden_size)
            self.check_hidden_size(c0, expected_c, "Expected hidden[1] size {}, got {}")
        else:
            h0, c0 = hx, None
            self.check_hidden_size(h0, (self.num_layers * num_directions, batch, real_hidden))
        reverse = _reverse_index(lengths, steps) if packed else None
        layer_input = x
        finals_h: list = []
        finals_c: list = []
        weights = self._flat_weights
        per = len(weights) // (self.num_layers * num_directions)
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                w = weights[k * per : (k + 1) * per]
                w_ih, w_hh = w[0], w[1]
                b_ih, b_hh = (w[2], w[3]) if self.bias else (None, None)
                w_hr = w[-1] if self.proj_size > 0 else None
                inp = layer_input
                if direction == 1:
                    inp = inp[reverse] if packed else inp.flip(0)
                if b_hh is not None and self.mode != "GRU":
                    # the hidden bias joins the input projections (GRU's b_hn stays inside r*(.))
                    b_ih, b_hh = b_ih + b_hh, None
                xproj = F.linear(inp.reshape(steps * batch, inp.shape[2]), w_ih, b_ih)
                xproj = xproj.reshape(steps, batch, xproj.shape[1])
                y = _rec.recurrent_layer(
                    self.mode, xproj, h0[k], c0[k] if lstm else None, w_hh, b_hh, w_hr, mask
                )
                sizes = _rec.block_sizes(self.mode, self.hidden_size, real_hidden)
                states = _rec.blocks(_TENSORS, y, steps, batch, sizes[: 2 if lstm else 1])
                out = states[0]
                finals_h.append(out[steps - 1])
                if lstm:
                    finals_c.append(states[1][steps - 1])
                if direction == 1:
                    out = out[reverse] if packed else out.flip(0)
                outs.append(out)
            layer_input = outs[0] if num_directions == 1 else _shape.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        h_n = _shape.stack(finals_h, 0)
        c_n = _shape.stack(finals_c, 0) if lstm else None
        if packed:
            output: Any = PackedSequence(
                layer_input[Tensor._make(t_idx), Tensor._make(b_idx)],
                batch_sizes,
                sorted_indices,
                unsorted_indices,
            )
            if unsorted_indices is not None:
                h_n = _idx.index_select(h_n, 1, unsorted_indices)
                if lstm:
                    c_n = _idx.index_select(c_n, 1, unsorted_indices)
        else:
            output = layer_input
            if not batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                if lstm:
                    c_n = c_n.squeeze(1)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, h_n, c_n) if lstm else (output, h_n)

    def _batch_hidden(self, hx: Any, batched: bool) -> Any:
        want = 3 if batched else 2
        kind = "batched 3-D" if batched else "unbatched 2-D"
        if self.mode == "LSTM":
            # PyTorch reads hx[0] and hx[1], so its errors are those of that indexing.
            hint = f" ({type(self).__name__}: hx must be a tuple (h_0, c_0))"
            n = len(hx) if isinstance(hx, (tuple, list)) else hx.shape[0] if hx.dim() else 0
            if n < 2:
                raise IndexError(
                    (
                        "tuple index out of range"
                        if isinstance(hx, (tuple, list))
                        else f"index 1 is out of bounds for dimension 0 with size {n}"
                    )
                    + hint
                )
            if isinstance(hx, (tuple, list)) and n > 2:
                raise RuntimeError("lstm expects two hidden states" + hint)
            h, c = hx[0], hx[1]
            if h.dim() != want or c.dim() != want:
                raise RuntimeError(
                    f"For {kind} input, hx and cx should also be {want}-D but got "
                    f"({h.dim()}-D, {c.dim()}-D) tensors"
                )
            return (h, c) if batched else (h.unsqueeze(1), c.unsqueeze(1))
        if hx.dim() != want:
            raise RuntimeError(
                f"For {kind} input, hx should also be {want}-D but got {hx.dim()}-D tensor"
            )
        return hx if batched else hx.unsqueeze(1)


class RNN(RNNBase):
    """An Elman RNN: ``h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)`` (or ReLU)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'."
            )
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:  # noqa: A002
        return self._run(input, hx)


class GRU(RNNBase):
    """Gated recurrent units, gates ``r, z, n`` in PyTorch's order:
    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Any, hx: Tensor | None = None) -> tuple:  # noqa: A002
        return self._run(input, hx)


class LSTM(RNNBase):
    """Long short-term memory, gates ``i, f, g, o`` in PyTorch's order; ``proj_size > 0``
    projects ``h`` with ``weight_hr``. Returns ``(output, (h_n, c_n))``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(
        self,
        input: Tensor,
        batch_sizes: Tensor | None,  # noqa: A002
    ) -> tuple[int, int, int]:
        h = self.get_expected_hidden_size(input, batch_sizes)
        return (h[0], h[1], self.hidden_size)

    def forward(self, input: Any, hx: tuple | None = None) -> tuple:  # noqa: A002
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


# ----------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Parameters and checks of the one-step cells."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        num_chunks: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(
            _creation.empty((num_chunks * hidden_size, input_size), dtype=dtype)
        )
        self.weight_hh = Parameter(
            _creation.empty((num_chunks * hidden_size, hidden_size), dtype=dtype)
        )
        if bias:
            self.bias_ih = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(_creation.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, input: Tensor, hx: Any) -> tuple[Tensor, bool]:  # noqa: A002
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected "
                f"{self.input_size}"
            )
        batched = input.dim() == 2
        return (input if batched else input.unsqueeze(0)), batched

    def _check_hidden(self, input: Tensor, hx: Tensor, which: str, batched: bool) -> Tensor:  # noqa: A002
        name = type(self).__name__
        if hx.dim() != (2 if batched else 1):
            raise RuntimeError(
                f"{name}: Expected hidden to be {2 if batched else 1}D, got {hx.dim()}D instead"
            )
        h = hx if batched else hx.unsqueeze(0)
        if h.shape[0] != input.shape[0]:
            raise RuntimeError(
                f"Input batch size {input.shape[0]} doesn't match {which} batch size {h.shape[0]}"
            )
        if h.shape[1] != self.hidden_size:
            raise RuntimeError(
                f"{which} has inconsistent hidden_size: got {h.shape[1]}, expected "
                f"{self.hidden_size}"
            )
        return h

    def _step(self, mode: str, x: Tensor, h: Tensor, c: Tensor | None) -> list[Tensor]:
        """One step: ``[h']``, or ``[h', c']`` for the LSTM."""
        xproj = F.linear(x, self.weight_ih, self.bias_ih).unsqueeze(0)
        y = _rec.recurrent_layer(mode, xproj, h, c, self.weight_hh, self.bias_hh)
        size = self.hidden_size
        states = _rec.blocks(_TENSORS, y, 1, x.shape[0], (size, size)[: 2 if c is not None else 1])
        return [s[0] for s in states]


class RNNCell(RNNCellBase):
    """One step of an Elman RNN (tanh or relu)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, batched = self._check(input, hx)
        if hx is None:
            h = _zeros((x.shape[0], self.hidden_size), x)
        else:
            h = self._check_hidden(x, hx, "hidden0", batched)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        (out,) = self._step(mode, x, h, None)
        return out if batched else out.squeeze(0)


class GRUCell(RNNCellBase):
    """One step of a GRU."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=3, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        x, batched = self._check(input, hx)
        if hx is None:
            h = _zeros((x.shape[0], self.hidden_size), x)
        else:
            h = self._check_hidden(x, hx, "hidden0", batched)
        (out,) = self._step("GRU", x, h, None)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One step of an LSTM: returns ``(h', c')``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, num_chunks=4, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        x, batched = self._check(input, hx)
        if hx is None:
            h = c = _zeros((x.shape[0], self.hidden_size), x)
        else:
            h = self._check_hidden(x, hx[0], "hidden0", batched)
            c = self._check_hidden(x, hx[1], "hidden1", batched)
        hn, cn = self._step("LSTM", x, h, c)
        return (hn, cn) if batched else (hn.squeeze(0), cn.squeeze(0))
