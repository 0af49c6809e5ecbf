"""What learners print, character for character the same as PyTorch's print.

``str``/``repr`` of tensors of every dtype, magnitude mix, negative zero, NaN/inf, empty and
0-d tensors, summarised tensors of more than 1000 elements, tensors that require grad, named
tuples from max/min/sort/topk, lists of tensors and f-strings. The ``ndgrad.`` prefix is the
one accepted difference (replaced by ``torch.`` before comparing).
"""

from __future__ import annotations

import pytest
from tests.compat._harness import assert_same, run_both
from tests.compat2._cases import Raised, evaluate

PRINTED = [
    "repr(torch.tensor([1e-5, 1., 1000.]))",
    "str(torch.tensor([1e-5, 1., 1000.]))",
    "repr(torch.tensor([1e-8, 1., 1e8]))",
    "str(torch.tensor([1e-8, 1., 1e8]))",
    "repr(torch.tensor([-0., 0., 1.]))",
    "str(torch.tensor([-0., 0., 1.]))",
    "repr(torch.tensor([-0.]))",
    "str(torch.tensor([-0.]))",
    "repr(torch.tensor(-0.))",
    "str(torch.tensor(-0.))",
    "repr(torch.tensor([123456789012, 1]))",
    "str(torch.tensor([123456789012, 1]))",
    "repr(torch.tensor([2**62]))",
    "str(torch.tensor([2**62]))",
    "repr(torch.tensor([True, False]))",
    "str(torch.tensor([True, False]))",
    "repr(torch.tensor(True))",
    "str(torch.tensor(True))",
    "repr(torch.tensor(3))",
    "str(torch.tensor(3))",
    "repr(torch.tensor(3.5))",
    "str(torch.tensor(3.5))",
    "repr(torch.tensor(-3.25e-7))",
    "str(torch.tensor(-3.25e-7))",
    "repr(torch.tensor(1e20))",
    "str(torch.tensor(1e20))",
    "repr(torch.tensor([]))",
    "str(torch.tensor([]))",
    "repr(torch.zeros(0, 3))",
    "str(torch.zeros(0, 3))",
    "repr(torch.zeros(2, 0))",
    "str(torch.zeros(2, 0))",
    "repr(torch.zeros(0, dtype=torch.int64))",
    "str(torch.zeros(0, dtype=torch.int64))",
    "repr(torch.zeros(0, dtype=torch.int32))",
    "str(torch.zeros(0, dtype=torch.int32))",
    "repr(torch.zeros(0, dtype=torch.float64))",
    "str(torch.zeros(0, dtype=torch.float64))",
    "repr(torch.zeros(0, 2, 3))",
    "str(torch.zeros(0, 2, 3))",
    "repr(torch.zeros(0,requires_grad=True))",
    "str(torch.zeros(0,requires_grad=True))",
    "repr(torch.tensor([], dtype=torch.bool))",
    "str(torch.tensor([], dtype=torch.bool))",
    "repr(torch.arange(2000.))",
    "str(torch.arange(2000.))",
    "repr(torch.arange(1001))",
    "str(torch.arange(1001))",
    "repr(torch.arange(1000))",
    "str(torch.arange(1000))",
    "repr(torch.arange(2000.).reshape(40,50))",
    "str(torch.arange(2000.).reshape(40,50))",
    "repr(torch.arange(3000.).reshape(10,10,30))",
    "str(torch.arange(3000.).reshape(10,10,30))",
    "repr(torch.linspace(0,1,1500))",
    "str(torch.linspace(0,1,1500))",
    "repr(torch.arange(2000).reshape(2,1000) > 500)",
    "str(torch.arange(2000).reshape(2,1000) > 500)",
    "repr(torch.tensor([1.5, 2.25], dtype=torch.float64))",
    "str(torch.tensor([1.5, 2.25], dtype=torch.float64))",
    "repr(torch.tensor(1.5, dtype=torch.float64))",
    "str(torch.tensor(1.5, dtype=torch.float64))",
    "repr(torch.tensor([1, 2], dtype=torch.int32))",
    "str(torch.tensor([1, 2], dtype=torch.int32))",
    "repr(torch.tensor(1, dtype=torch.int32))",
    "str(torch.tensor(1, dtype=torch.int32))",
    "repr(torch.tensor([1, 2], dtype=torch.int16))",
    "str(torch.tensor([1, 2], dtype=torch.int16))",
    "repr(torch.tensor([1, 2], dtype=torch.uint8))",
    "str(torch.tensor([1, 2], dtype=torch.uint8))",
    "repr(torch.tensor([1, 2], dtype=torch.int8))",
    "str(torch.tensor([1, 2], dtype=torch.int8))",
    "repr(torch.tensor([1, 2], dtype=torch.float16))",
    "str(torch.tensor([1, 2], dtype=torch.float16))",
    "repr(torch.tensor([1.33, 2], dtype=torch.float16))",
    "str(torch.tensor([1.33, 2], dtype=torch.float16))",
    "repr(torch.tensor([1., 2.], requires_grad=True))",
    "str(torch.tensor([1., 2.], requires_grad=True))",
    "repr(torch.tensor(1., requires_grad=True))",
    "str(torch.tensor(1., requires_grad=True))",
    "repr(torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True))",
    "str(torch.tensor([1., 2.], dtype=torch.float64, requires_grad=True))",
    "repr(torch.tensor([1., 2.], requires_grad=True) * 2)",
    "str(torch.tensor([1., 2.], requires_grad=True) * 2)",
    "repr(torch.tensor([1., 2.], requires_grad=True).sum())",
    "str(torch.tensor([1., 2.], requires_grad=True).sum())",
    "repr(torch.tensor([1., 2.], requires_grad=True).mean())",
    "str(torch.tensor([1., 2.], requires_grad=True).mean())",
    "repr(torch.tensor([float('nan'), float('inf'), -float('inf'), 1.]))",
    "str(torch.tensor([float('nan'), float('inf'), -float('inf'), 1.]))",
    "repr(torch.tensor([float('nan'), 1.5]))",
    "str(torch.tensor([float('nan'), 1.5]))",
    "repr(torch.tensor([float('inf'), 100000.]))",
    "str(torch.tensor([float('inf'), 100000.]))",
    "repr(torch.tensor([1e10, 1.]))",
    "str(torch.tensor([1e10, 1.]))",
    "repr(torch.tensor([0.1, 0.25, 100.]))",
    "str(torch.tensor([0.1, 0.25, 100.]))",
    "repr(torch.tensor([1., 2., 3.]))",
    "str(torch.tensor([1., 2., 3.]))",
    "repr(torch.tensor([100., 2000., 3.]))",
    "str(torch.tensor([100., 2000., 3.]))",
    "repr(torch.tensor([123456.]))",
    "str(torch.tensor([123456.]))",
    "repr(torch.tensor([1234567.]))",
    "str(torch.tensor([1234567.]))",
    "repr(torch.tensor([0.0001, 0.001]))",
    "str(torch.tensor([0.0001, 0.001]))",
    "repr(torch.tensor([1e-4,1e4]))",
    "str(torch.tensor([1e-4,1e4]))",
    "repr(torch.tensor([[1e-4,1e4],[1, 2]]))",
    "str(torch.tensor([[1e-4,1e4],[1, 2]]))",
    "repr(torch.tensor([-1.5, 1e3]))",
    "str(torch.tensor([-1.5, 1e3]))",
    "repr(torch.tensor([1.123456789]))",
    "str(torch.tensor([1.123456789]))",
    "repr(torch.tensor([[-1, 10],[100, -1000]]))",
    "str(torch.tensor([[-1, 10],[100, -1000]]))",
    "repr(torch.tensor([0.1+0.2]))",
    "str(torch.tensor([0.1+0.2]))",
    "repr(torch.tensor([1/3]))",
    "str(torch.tensor([1/3]))",
    "repr(torch.tensor([1/3], dtype=torch.float64))",
    "str(torch.tensor([1/3], dtype=torch.float64))",
    "repr(torch.tensor([2.0**-20]))",
    "str(torch.tensor([2.0**-20]))",
    "repr(torch.ones(2,2,2,2))",
    "str(torch.ones(2,2,2,2))",
    "repr(torch.eye(3))",
    "str(torch.eye(3))",
    "repr(torch.zeros(3, dtype=torch.bool))",
    "str(torch.zeros(3, dtype=torch.bool))",
    "str([torch.tensor([1.,2]), torch.tensor(3)])",
    "str((torch.tensor([1.,2]), torch.tensor(3)))",
    "str({'a': torch.tensor([1.,2])})",
    "repr(torch.max(torch.tensor([[1.,5],[3,2]]), dim=1))",
    "str(torch.max(torch.tensor([[1.,5],[3,2]]), dim=1))",
    "str(torch.min(torch.tensor([[1.,5],[3,2]], requires_grad=True), dim=1))",
    "str(torch.sort(torch.tensor([3,1,2])))",
    "str(torch.topk(torch.tensor([3.,1,2]), 2))",
    "type(torch.max(torch.tensor([[1.,5],[3,2]]), dim=1)).__name__",
    "f'{torch.tensor(3.14159).item():.4f}'",
    "f'{torch.tensor(3.14159):.2f}'",
    "f'{torch.tensor(3):d}'",
    "f'{torch.tensor([3.14159])}'",
    "'{}'.format(torch.tensor(2.5))",
    "format(torch.tensor(2.5), '.3f')",
    "f'{torch.tensor(2.5)!r}'",
    "f'loss {torch.tensor(0.123456):f}'",
    "str(torch.tensor(2.5).item())",
    "float(torch.tensor([2.5]))",
    "int(torch.tensor(2.7))",
    "bool(torch.tensor([0.]))",
    "bool(torch.tensor([1., 2]))",
    "round(torch.tensor(2.567).item(), 2)",
    "torch.tensor(3) == 3",
    "len(torch.ones(4,2))",
    "len(torch.tensor(3))",
    "[x for x in torch.tensor([1,2])]",
    "list(torch.tensor([[1,2],[3,4]]))",
    "3 in torch.tensor([1,2,3])",
    "hash(torch.ones(1)) is not None",
    "[1,2,3][torch.tensor(1)]",
    "range(10)[torch.tensor(2):torch.tensor(5)]",
    "abs(torch.tensor([-1.]))",
    "torch.tensor([3.,4]).max().item()",
    "max(torch.tensor([3.,4]))",
    "sum(torch.tensor([3.,4]))",
    "sorted(torch.tensor([3.,1]))",
    "torch.tensor([3.,1]).numpy().dtype",
]

GRAD_FN_NAMES = [
    "x * 2",
    "x + 1",
    "x - 1",
    "x / 2",
    "x ** 2",
    "x.exp()",
    "x.log()",
    "x.sum()",
    "x.mean()",
    "x.sum(0)",
    "x.mean(1)",
    "x.relu()",
    "x.sigmoid()",
    "x.tanh()",
    "x.view(4)",
    "x.reshape(4)",
    "x.t()",
    "x[0]",
    "x.unsqueeze(0)",
    "x @ x",
    "x.max()",
    "x.max(dim=0)[0]",
    "x.abs()",
    "x.sqrt()",
    "x.clamp(min=0)",
    "x.softmax(0)",
    "x.log_softmax(0)",
    "torch.cat([x, x])",
    "x.norm()",
    "x.flatten()",
    "-x",
    "x.clone()",
    "torch.where(x > 2, x, 0.0)",
    "x.masked_fill(x > 2, 0)",
    "x.cumsum(0)",
    "x.argmax()",
    "x.detach()",
    "x.to(torch.float64)",
    "x.median()",
    "x.median(0)[0]",
    "x.kthvalue(1)[0]",
    "x.mode()[0]",
    "x.repeat_interleave(2)",
    "torch.diag(x[0], 1)",
    "F.relu(x)",
    "F.cross_entropy(x, torch.tensor([0, 1]))",
    "F.l1_loss(x, x * 0)",
    "x[:, 0]",
    "x[0, 1:]",
    "x[1:, 0]",
    "x[None]",
    "x[[0, 1]]",
    "torch.stack([x, x])",
    "1 / x",
    "x.reciprocal()",
    "x.prod()",
    "x.prod(0)",
    "x.var()",
    "x.std(0)",
    "x.split(1)[0]",
    "x.chunk(2)[1]",
    "x.unbind()[0]",
    "x.index_select(0, torch.tensor([0]))",
    "x.masked_select(x > 2)",
    "x.diag()",
    "x.sort()[0]",
    "x.topk(1)[0]",
    "x.exp2()",
    "x.lerp(x * 2, 0.5)",
    "F.gelu(x)",
    "F.mse_loss(x, x * 0)",
    "F.mse_loss(x, x * 0, reduction='none')",
    "F.nll_loss(x, torch.tensor([0, 1]))",
    "F.binary_cross_entropy(x.sigmoid(), x * 0)",
    "F.binary_cross_entropy_with_logits(x, x * 0)",
    "F.smooth_l1_loss(x, x * 0)",
    "F.huber_loss(x, x * 0)",
    "nn.MSELoss()(x, x * 0)",
    "nn.CrossEntropyLoss()(x, torch.tensor([0, 1]))",
]


@pytest.mark.parametrize("expr", PRINTED)
def test_printed_text_is_torchs(expr):
    ours, ref = run_both(evaluate, expr)
    if isinstance(ref, str | Raised):  # printed text: character for character
        assert ours == ref, f"{expr}:\nndgrad: {ours}\ntorch:  {ref}"
    else:  # what Python's builtins make of tensors (bool, len, iteration, sum, sorted...)
        assert_same(ours, ref, where=expr)


@pytest.mark.parametrize("op", GRAD_FN_NAMES)
def test_grad_fn_is_printed_with_torchs_name(op):
    expr = f"str(({op}).grad_fn).split(' ')[0]"
    program = f"(lambda x: {expr})(torch.tensor([[1.0, 2], [3, 4]], requires_grad=True))"
    ours, ref = run_both(evaluate, program)
    assert ours == ref, f"{op}: ndgrad {ours} != torch {ref}"


def print_options(fw):
    """``torch.set_printoptions``: precision, threshold, edgeitems, profiles, sci_mode, linewidth."""
    torch = fw.torch
    out = []
    try:
        torch.set_printoptions(precision=2)
        out.append(repr(torch.tensor([1.23456, 2.5])))
        torch.set_printoptions(threshold=5)
        out += [repr(torch.arange(10)), repr(torch.arange(10.0).reshape(2, 5))]
        torch.set_printoptions(edgeitems=1)
        out.append(repr(torch.arange(10.0)))
        torch.set_printoptions(profile="short")
        out += [repr(torch.tensor([1.23456, 100.5])), repr(torch.arange(2000.0))]
        torch.set_printoptions(profile="full")
        out.append(repr(torch.arange(1001)))
        torch.set_printoptions(profile="default", sci_mode=True)
        out += [repr(torch.tensor([1.5, 2.0])), repr(torch.tensor([1.0, 2.0]))]
        torch.set_printoptions(sci_mode=False)
        out += [repr(torch.tensor([1e-6, 1e9])), repr(torch.tensor([1e10, 2.0]))]
        torch.set_printoptions(profile="default", linewidth=30)
        out += [repr(torch.arange(12.0).reshape(2, 6) + 0.5), repr(torch.ones(3) * 2)]
        torch.set_printoptions(profile="default", precision=6)
        out += [repr(torch.tensor(1 / 3)), repr(torch.tensor([1 / 3, 1e-5]))]
    finally:
        torch.set_printoptions(profile="default")
    out.append(repr(torch.tensor([1 / 3, 2.0])))
    return out


def test_print_options_change_what_is_printed_like_torch():
    ours, ref = run_both(print_options)
    assert ours == ref
