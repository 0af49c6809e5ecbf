"""Functional higher-level autograd: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``.

Signatures, return conventions, error messages and the ``strict``/``create_graph`` rules follow
``torch.autograd.functional`` (PyTorch 2.x). Forward-mode products (``jvp``, ``hvp``) use the
double-backward trick: the vector-Jacobian product is linear in its vector ``u``, so
differentiating it with respect to ``u`` gives the Jacobian-vector product. ``vectorize`` is
accepted and computes the same values row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ndgrad.autograd.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

if TYPE_CHECKING:
    from ndgrad._tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Inputs = Any  # a Tensor or a tuple of Tensors


def _as_tuple(inp: Any, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """Tuple-ises ``inp``; says whether it was a tuple. Every element must be a Tensor."""
    from ndgrad._tensor import Tensor

    is_tuple = isinstance(inp, tuple)
    tup = inp if is_tuple else (inp,)
    for i, el in enumerate(tup):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but the {where} has type {type(el)}."
            )
    return is_tuple, tup


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    # Always a new Tensor object: tells the inputs given here apart from the same tensors
    # captured by the user's function (pytorch/pytorch#32576).
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view_as(inp))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs: tuple, create_graph: bool) -> tuple:
    from ndgrad._tensor import Tensor

    if isinstance(inputs[0], Tensor):
        return inputs if create_graph else tuple(inp.detach() for inp in inputs)
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}."
            )
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other, strict=False)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(
                f"{prepend}v has invalid size: should be {el_other.size()} but got {el_v.size()}."
            )


def _check_requires_grad(inputs: tuple, input_type: str, strict: bool) -> None:
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode."
            )
        if not inp.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(
                    f"The hessian of the user-provided function with respect to input {i} is "
                    "independent of the input. This is not allowed in strict mode. You should "
                    "ensure that your function is thrice differentiable and that the hessian "
                    "depends on the inputs."
                )
            if input_type == "jacobian":
                raise RuntimeError(
                    "While computing the hessian, found that the jacobian of the user-provided "
                    f"function with respect to input {i} is independent of the input. This is not "
                    "allowed in strict mode. You should ensure that your function is twice "
                    "differentiable and that the jacobian depends on the inputs (this would be "
                    "violated by a linear function for example)."
                )
            if input_type == "grad_inputs":
                raise RuntimeError(
                    f"The gradient with respect to input {i} is independent of the inputs of the "
                    "user-provided function. This is not allowed in strict mode."
                )
            raise RuntimeError(
                f"Output {i} of the user-provided function does not require gradients. The "
                "outputs must be computed in a differentiable manner from the input when "
                "running in strict mode."
            )


def _autograd_grad(
    outputs: tuple,
    inputs: tuple,
    grad_outputs: tuple | None = None,
    create_graph: bool = False,
    retain_graph: bool | None = None,
) -> tuple:
    """``autograd.grad`` that skips outputs that are None or do not require grad."""
    from ndgrad.autograd import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs, new_grad_outputs = [], []
    for out, grad_out in zip(outputs, grad_outputs, strict=False):
        if out is not None and out.requires_grad:
            new_outputs.append(out)
            new_grad_outputs.append(grad_out)
    if not new_outputs:
        return (None,) * len(inputs)
    return grad(
        tuple(new_outputs),
        inputs,
        tuple(new_grad_outputs),
        allow_unused=True,
        create_graph=create_graph,
        retain_graph=retain_graph,
    )


_STRICT_NONE = {
    "back": "The output of the user-provided function is independent of input {i}. This is not "
    "allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
    "grad_outputs when using the double backward trick to compute forward mode gradients. This "
    "is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
    "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry {i} "
    "in the grad_jacobian. This is not allowed in strict mode as it prevents from using the "
    "double backward trick to replace forward mode AD.",
}


def _fill_in_zeros(
    grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str
) -> tuple:
    from ndgrad._creation import zeros_like

    res = []
    for i, grads_i in enumerate(grads):
        if grads_i is None:
            if strict:
                raise RuntimeError(_STRICT_NONE[stage].format(i=i))
            grads_i = zeros_like(refs[i])
        elif strict and create_graph and not grads_i.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode when create_graph=True."
            )
        res.append(grads_i)
    return tuple(res)


def _prepare_v(
    v: Any, refs: tuple, is_refs_tuple: bool, create_graph: bool, fn_name: str, what: str
) -> tuple | None:
    if v is not None:
        _, v_t = _as_tuple(v, "v", fn_name)
        v_t = _grad_preprocess(v_t, create_graph=create_graph, need_graph=False)
        _validate_v(v_t, refs, is_refs_tuple)
        return v_t
    if len(refs) != 1 or refs[0].nelement() != 1:
        raise RuntimeError(
            f"The vector v can only be None if the {what} a single Tensor with a single element."
        )
    return None


def _differentiable_inputs(inputs: Inputs, create_graph: bool, fn_name: str) -> tuple[bool, tuple]:
    """The inputs as fresh tensors that require grad; says whether they came as a tuple."""
    is_inputs_tuple, inputs_t = _as_tuple(inputs, "inputs", fn_name)
    return is_inputs_tuple, _grad_preprocess(inputs_t, create_graph=create_graph, need_graph=True)


def _inputs_and_v(
    inputs: Inputs, v: Inputs, create_graph: bool, fn_name: str
) -> tuple[bool, tuple, tuple | None]:
    """The differentiable inputs and ``v`` checked against them (``jvp``, ``vhp``, ``hvp``)."""
    is_inputs_tuple, inputs_t = _differentiable_inputs(inputs, create_graph, fn_name)
    v_t = _prepare_v(
        v,
        inputs_t,
        is_inputs_tuple,
        create_graph,
        fn_name,
        "input to the user-provided function is",
    )
    return is_inputs_tuple, inputs_t, v_t


def _call(
    func: Callable[..., Any], inputs_t: tuple, strict: bool, fn_name: str
) -> tuple[bool, tuple]:
    """``func(*inputs_t)`` as a tuple of Tensors (each differentiable when ``strict``)."""
    outputs = func(*inputs_t)
    is_outputs_tuple, outputs_t = _as_tuple(
        outputs, "outputs of the user-provided function", fn_name
    )
    _check_requires_grad(outputs_t, "outputs", strict=strict)
    return is_outputs_tuple, outputs_t


def _vector_product(
    outputs: tuple,
    inputs: tuple,
    v_t: tuple | None,
    refs: tuple,
    strict: bool,
    create_graph: bool,
    stage: str,
) -> tuple:
    """``vᵀ · d outputs / d inputs``; zeros shaped like ``refs`` where a gradient is None."""
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v_t, create_graph=create_graph)
        return _fill_in_zeros(grad_res, refs, strict, create_graph, stage)


def _pack(
    outputs_t: tuple,
    is_outputs_tuple: bool,
    result: tuple,
    is_result_tuple: bool,
    create_graph: bool,
) -> tuple[Any, Any]:
    """``(outputs, result)``, detached unless ``create_graph``, unwrapped where not tuples."""
    return (
        _tuple_postprocess(_grad_postprocess(outputs_t, create_graph), is_outputs_tuple),
        _tuple_postprocess(_grad_postprocess(result, create_graph), is_result_tuple),
    )


def vjp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Inputs = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """Returns ``(func(inputs), vᵀ J)``: the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        is_inputs_tuple, inputs_t = _differentiable_inputs(inputs, create_graph, "vjp")
        is_outputs_tuple, outputs_t = _call(func, inputs_t, strict, "vjp")
        v_t = _prepare_v(
            v, outputs_t, is_outputs_tuple, create_graph, "vjp", "user-provided function returns"
        )
    result = _vector_product(outputs_t, inputs_t, v_t, inputs_t, strict, create_graph, "back")
    return _pack(outputs_t, is_outputs_tuple, result, is_inputs_tuple, create_graph)


def jvp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Inputs = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """Returns ``(func(inputs), J v)``: the Jacobian-vector product at ``inputs``."""
    from ndgrad._creation import zeros_like

    with enable_grad():
        _, inputs_t, v_t = _inputs_and_v(inputs, v, create_graph, "jvp")
        is_outputs_tuple, outputs_t = _call(func, inputs_t, strict, "jvp")
        # The backward is linear in grad_outputs, so their value does not matter (zeros
        # avoid inf/nan); they only have to be differentiable.
        grad_outputs = tuple(zeros_like(out, requires_grad=True) for out in outputs_t)
        grad_inputs = _autograd_grad(outputs_t, inputs_t, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    result = _vector_product(
        grad_inputs, grad_outputs, v_t, outputs_t, strict, create_graph, "back_trick"
    )
    return _pack(outputs_t, is_outputs_tuple, result, is_outputs_tuple, create_graph)


def jacobian(
    func: Callable[..., Any],
    inputs: Inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """The Jacobian of ``func`` at ``inputs``: for each output/input pair a Tensor of shape
    ``output.shape + input.shape`` (tuples of them for tuple outputs/inputs)."""
    from ndgrad._creation import zeros, zeros_like
    from ndgrad.autograd import graph

    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                'torch.autograd.functional.jacobian: `create_graph=True` and `strategy="forward-'
                'mode"` are not supported together (yet). Please either set `create_graph=False` '
                'or `strategy="reverse-mode"`.'
            )
        if strict:
            raise RuntimeError(
                'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
                "are not supported together (yet). Please either set `strict=False` or "
                '`strategy="reverse-mode"`.'
            )
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                "implemented for `vectorize=True`."
            )
    with enable_grad():
        is_inputs_tuple, inputs_t = _differentiable_inputs(inputs, create_graph, "jacobian")
        is_outputs_tuple, outputs_t = _call(func, inputs_t, strict, "jacobian")
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                "supported together. Please either set `strict=False` or `vectorize=False`."
            )

        jac: list[tuple] = []
        for i, out in enumerate(outputs_t):
            rows: tuple[list, ...] = tuple([] for _ in inputs_t)
            flat = out.reshape(-1) if out.requires_grad else None
            for j in range(out.nelement()):
                vj = (
                    _autograd_grad(
                        (flat[j],), inputs_t, retain_graph=True, create_graph=create_graph
                    )
                    if flat is not None
                    else (None,) * len(inputs_t)
                )
                for el_idx, (rows_el, vj_el, inp_el) in enumerate(
                    zip(rows, vj, inputs_t, strict=False)
                ):
                    if vj_el is not None:
                        if strict and create_graph and not vj_el.requires_grad:
                            raise RuntimeError(
                                "The jacobian of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode when "
                                "create_graph=True."
                            )
                        rows_el.append(vj_el)
                    else:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {el_idx}. This is not allowed in strict mode."
                            )
                        rows_el.append(zeros_like(inp_el))
            jac.append(
                tuple(
                    # the rows stacked with the differentiable concatenate the ops register
                    graph._TENSOR_NS.concatenate([r.reshape((1, -1)) for r in rows_el], 0).view(
                        tuple(out.shape) + tuple(inp.shape)
                    )
                    if rows_el
                    else zeros(tuple(out.shape) + tuple(inp.shape), dtype=inp.dtype)
                    for rows_el, inp in zip(rows, inputs_t, strict=False)
                )
            )
        result = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def hessian(
    func: Callable[..., Any],
    inputs: Inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """The Hessian of the scalar function ``func`` at ``inputs`` (blocks for tuple inputs)."""

    is_inputs_tuple, inputs_t = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        is_out_tuple, t_out = _call(func, inp, strict, "hessian")
        _scalar_output(t_out, is_out_tuple, "hessian")
        return t_out[0].squeeze()

    def jac_func(*inp: Tensor) -> tuple:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(
        jac_func,
        inputs_t,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_output(outputs_t: tuple, is_outputs_tuple: bool, fn_name: str) -> None:
    from ndgrad._tensor import Tensor

    if is_outputs_tuple or not isinstance(outputs_t[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs_t[0].nelement() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn_name} should contain a single "
            "element"
        )


def vhp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Inputs = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """Returns ``(func(inputs), vᵀ H)`` for a scalar ``func``."""
    with enable_grad():
        is_inputs_tuple, inputs_t, v_t = _inputs_and_v(inputs, v, create_graph, "vhp")
        is_outputs_tuple, outputs_t = _call(func, inputs_t, strict, "vhp")
        _scalar_output(outputs_t, is_outputs_tuple, "vhp")
        jac = _autograd_grad(outputs_t, inputs_t, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
    result = _vector_product(jac, inputs_t, v_t, inputs_t, strict, create_graph, "double_back")
    return _pack(outputs_t, is_outputs_tuple, result, is_inputs_tuple, create_graph)


def hvp(
    func: Callable[..., Any],
    inputs: Inputs,
    v: Inputs = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """Returns ``(func(inputs), H v)`` for a scalar ``func`` (double-backward trick)."""
    from ndgrad._creation import zeros_like

    with enable_grad():
        is_inputs_tuple, inputs_t, v_t = _inputs_and_v(inputs, v, create_graph, "hvp")
        is_outputs_tuple, outputs_t = _call(func, inputs_t, strict, "hvp")
        _scalar_output(outputs_t, is_outputs_tuple, "hvp")
        jac = _autograd_grad(outputs_t, inputs_t, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        grad_jac = tuple(zeros_like(inp, requires_grad=True) for inp in inputs_t)
        double_back = _autograd_grad(jac, inputs_t, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    result = _vector_product(
        double_back, grad_jac, v_t, inputs_t, strict, create_graph, "double_back_trick"
    )
    return _pack(outputs_t, is_outputs_tuple, result, is_inputs_tuple, create_graph)
