"""The tensor half of ``transforms.functional`` (torchvision's ``_functional_tensor``).

Images are ndgrad tensors of shape (..., C, H, W). The arithmetic follows torchvision 0.28 and
PyTorch's CPU kernels in float32 (a Python float scalar is rounded to float32 before it
multiplies a float32 image, as PyTorch does). These functions work on the arrays (no autograd
graph), except ``normalize`` and ``resize``, which use ndgrad's ops where gradients are needed
(an antialiased resize of a tensor that requires grad runs as two matrix products).

Antialiased bilinear resizing (the default of ``Resize`` on tensors) is PyTorch's
``interpolate(..., mode="bilinear", antialias=True)`` written in NumPy: the separable
triangle-filter resampling of ``aten/src/ATen/native/cpu/UpSampleKernel.cpp`` (a port of
Pillow's), weights and sums in float32, the width pass first, then the height pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ndgrad
from ndgrad import Tensor


def _is_tensor_a_torch_image(x: Any) -> bool:
    return x.ndim >= 2


def _assert_image_tensor(img: Tensor) -> None:
    if not _is_tensor_a_torch_image(img):
        raise TypeError("Tensor is not a torch image.")


def _array(img: Tensor) -> np.ndarray:
    return img.detach().numpy()


def _wrap(array: np.ndarray) -> Tensor:
    return ndgrad.from_numpy(np.ascontiguousarray(array))


def get_dimensions(img: Tensor) -> list[int]:
    _assert_image_tensor(img)
    channels = 1 if img.ndim == 2 else img.shape[-3]
    height, width = img.shape[-2:]
    return [channels, height, width]


def get_image_size(img: Tensor) -> list[int]:
    _assert_image_tensor(img)
    return [img.shape[-1], img.shape[-2]]


def get_image_num_channels(img: Tensor) -> int:
    _assert_image_tensor(img)
    if img.ndim == 2:
        return 1
    if img.ndim > 2:
        return img.shape[-3]
    raise TypeError(f"Input ndim should be 2 or more. Got {img.ndim}")


def _max_value(dtype: np.dtype) -> float:
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 255
    if dtype.kind == "b":
        return 1
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).max)
    return 1.0


def _assert_channels(img: Tensor, permitted: list[int]) -> None:
    c = get_dimensions(img)[0]
    if c not in permitted:
        raise TypeError(
            f"Input image tensor permitted channel values are {permitted}, but found {c}"
        )


def convert_image_dtype_array(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """torchvision's ``convert_image_dtype`` for the float32 <-> integer cases it uses here."""
    dtype = np.dtype(dtype)
    if image.dtype == dtype:
        return image
    if image.dtype.kind == "f":
        if dtype.kind == "f":
            return image.astype(dtype)
        eps = 1e-3
        max_val = float(_max_value(dtype))
        return (image * np.float32(max_val + 1.0 - eps)).astype(dtype)
    input_max = float(_max_value(image.dtype))
    if dtype.kind == "f":
        return image.astype(dtype) / dtype.type(input_max)
    raise NotImplementedError(f"convert_image_dtype from {image.dtype} to {dtype}")


def hflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-1)


def vflip(img: Tensor) -> Tensor:
    _assert_image_tensor(img)
    return img.flip(-2)


def crop(img: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    _assert_image_tensor(img)
    _, h, w = get_dimensions(img)
    right = left + width
    bottom = top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        padding_ltrb = [
            max(-left + min(0, right), 0),
            max(-top + min(0, bottom), 0),
            max(right - max(w, left), 0),
            max(bottom - max(h, top), 0),
        ]
        return pad(img[..., max(top, 0) : bottom, max(left, 0) : right], padding_ltrb, fill=0)
    return img[..., top:bottom, left:right]


def _parse_pad_padding(padding: int | list[int]) -> list[int]:
    if isinstance(padding, int):
        pad_left = pad_right = pad_top = pad_bottom = padding
    elif len(padding) == 1:
        pad_left = pad_right = pad_top = pad_bottom = padding[0]
    elif len(padding) == 2:
        pad_left = pad_right = padding[0]
        pad_top = pad_bottom = padding[1]
    else:
        pad_left, pad_top, pad_right, pad_bottom = padding
    return [pad_left, pad_right, pad_top, pad_bottom]


def pad(
    img: Tensor, padding: int | list[int], fill: float | None = 0, padding_mode: str = "constant"
) -> Tensor:
    _assert_image_tensor(img)
    if fill is None:
        fill = 0
    if not isinstance(padding, (int, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if not isinstance(fill, (int, float)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, tuple):
        padding = list(padding)
    if isinstance(padding, list) and len(padding) not in [1, 2, 4]:
        raise ValueError(
            f"Padding must be an int or a 1, 2, or 4 element tuple, not a {len(padding)} "
            "element tuple"
        )
    if padding_mode not in ["constant", "edge", "reflect", "symmetric"]:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")
    left, right, top, bottom = _parse_pad_padding(padding)
    array = _array(img)
    # negative padding crops
    h, w = array.shape[-2:]
    array = array[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    widths = [(0, 0)] * (array.ndim - 2) + [(max(top, 0), max(bottom, 0)),
                                            (max(left, 0), max(right, 0))]  # fmt: skip
    if padding_mode == "constant":
        out = np.pad(array, widths, mode="constant", constant_values=fill)
    else:
        out = np.pad(array, widths, mode=padding_mode)
    return _wrap(out)


# ----------------------------------------------------------------------------- resize
def _aa_filter(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return np.where(x < 1.0, np.float32(1.0) - x, np.float32(0.0)).astype(np.float32)


def _aa_indices_weights(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output index: the source indices [out, K] and float32 weights [out, K] (0-padded)."""
    f32 = np.float32
    scale = f32(in_size) / f32(out_size)  # area_pixel_compute_scale, align_corners=False
    support = scale if scale >= 1.0 else f32(1.0)  # (interp_size / 2) * scale, interp_size 2
    invscale = f32(1.0) / scale if scale >= 1.0 else f32(1.0)
    i = np.arange(out_size, dtype=np.float64)
    center = (np.float64(scale) * (i + 0.5)).astype(f32)  # double product stored as float
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)  # C++ truncation
    xmax = np.minimum((center + support + 0.5).astype(np.int64), in_size)
    xsize = xmax - xmin
    k = int(xsize.max())
    j = np.arange(k)
    # (j + xmin - center + 0.5) * invscale: int - float in float32, then double, then the
    # filter's float argument
    arg = ((j[None, :] + xmin[:, None]).astype(f32) - center[:, None]).astype(np.float64)
    arg = ((arg + 0.5) * np.float64(invscale)).astype(f32)
    w = _aa_filter(arg)
    w[j[None, :] >= xsize[:, None]] = 0
    total = np.zeros(out_size, f32)
    for col in range(k):  # sequential float32 sum, as the C++ loop
        total = (total + w[:, col]).astype(f32)
    w = np.where(total[:, None] != 0, w / np.where(total == 0, f32(1), total)[:, None], w)
    idx = np.minimum(xmin[:, None] + j[None, :], in_size - 1)
    return idx, w.astype(f32)


def _aa_resample(array: np.ndarray, out_size: int, axis: int) -> np.ndarray:
    idx, w = _aa_indices_weights(array.shape[axis], out_size)
    moved = np.moveaxis(array, axis, -1)
    out = moved[..., idx[:, 0]] * w[:, 0]
    for col in range(1, idx.shape[1]):
        out += moved[..., idx[:, col]] * w[:, col]
    return np.moveaxis(out, -1, axis)


def _resize_bilinear_aa(array: np.ndarray, size: list[int]) -> np.ndarray:
    out = array
    if size[1] != array.shape[-1]:
        out = _aa_resample(out, size[1], -1)  # horizontal pass first, as ATen
    if size[0] != array.shape[-2]:
        out = _aa_resample(out, size[0], -2)
    return out


def _aa_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The resampling as a dense float32 [out, in] matrix (rows are the weights)."""
    idx, w = _aa_indices_weights(in_size, out_size)
    matrix = np.zeros((out_size, in_size), np.float32)
    np.add.at(matrix, (np.arange(out_size)[:, None], idx), w)
    return matrix


def _resize_bilinear_aa_graph(img: Tensor, size: list[int]) -> Tensor:
    """The same resampling as two matrix products, so that gradients flow (float inputs).

    The sums run in the matrix product's order, so values can differ from the array path in
    the last bit."""
    y = img
    if size[1] != img.shape[-1]:
        y = y @ ndgrad.from_numpy(_aa_matrix(img.shape[-1], size[1]).T.copy()).to(img.dtype)
    if size[0] != img.shape[-2]:
        y = ndgrad.from_numpy(_aa_matrix(img.shape[-2], size[0])).to(img.dtype) @ y
    return y


def resize(
    img: Tensor, size: list[int], interpolation: str = "bilinear", antialias: bool | None = True
) -> Tensor:
    _assert_image_tensor(img)
    if isinstance(size, tuple):
        size = list(size)
    if antialias is None:
        antialias = False
    if antialias and interpolation not in ["bilinear", "bicubic"]:
        antialias = False
    out_dtype = img.dtype
    need_cast = out_dtype not in (ndgrad.float32, ndgrad.float64)
    if interpolation == "bilinear" and antialias and img.requires_grad and ndgrad.is_grad_enabled():
        return _resize_bilinear_aa_graph(img, size)
    if interpolation == "bilinear" and antialias:
        array = _array(img)
        if need_cast:
            array = array.astype(np.float32)
        lead = array.shape[:-2]
        flat = array.reshape((-1,) + array.shape[-2:]) if array.ndim != 3 else array
        result = _resize_bilinear_aa(flat, size).reshape(lead + tuple(size))
        if need_cast:
            if np.dtype(_array(img).dtype).kind in "iu":
                result = np.round(result)
            result = result.astype(_array(img).dtype)
        return _wrap(result)
    if interpolation not in ("bilinear", "nearest"):
        raise NotImplementedError(
            f"resize: interpolation {interpolation!r} (antialias={antialias}) of tensors is not "
            "supported by ndgrad.vision yet; use bilinear or nearest, or a PIL image"
        )
    from ndgrad.nn.functional import interpolate

    x = img
    squeeze = x.ndim < 4
    if squeeze:
        x = x.unsqueeze(0)
    if need_cast:
        x = x.to(ndgrad.float32)
    align = False if interpolation == "bilinear" else None
    shape = x.shape
    flat = x.reshape(-1, *shape[-3:]) if x.ndim > 4 else x
    y = interpolate(flat, size=size, mode=interpolation, align_corners=align)
    y = y.reshape(*shape[:-2], *size)
    if squeeze:
        y = y.squeeze(0)
    if need_cast:
        if not out_dtype.is_floating_point:
            y = y.round()
        y = y.to(out_dtype)
    return y


# ----------------------------------------------------------------------------- colour
def _blend(img1: np.ndarray, img2: np.ndarray, ratio: float) -> np.ndarray:
    ratio = float(ratio)
    bound = _max_value(img1.dtype)
    ftype = img1.dtype if img1.dtype.kind == "f" else np.dtype(np.float32)
    a = img1.astype(ftype) * ftype.type(ratio)
    b = img2.astype(ftype) * ftype.type(1.0 - ratio)
    return np.clip(a + b, 0, bound).astype(img1.dtype)


def rgb_to_grayscale_array(img: np.ndarray, num_output_channels: int = 1) -> np.ndarray:
    if img.ndim < 3:
        raise TypeError(
            f"Input image tensor should have at least 3 dimensions, but found {img.ndim}"
        )
    if num_output_channels not in (1, 3):
        raise ValueError("num_output_channels should be either 1 or 3")
    if img.shape[-3] == 3:
        ftype = img.dtype if img.dtype.kind == "f" else np.dtype(np.float32)
        r, g, b = (img[..., c, :, :].astype(ftype) for c in range(3))
        gray = r * ftype.type(0.2989) + g * ftype.type(0.587)
        gray = (gray + b * ftype.type(0.114)).astype(img.dtype)[..., None, :, :]
    else:
        gray = img.copy()
    if num_output_channels == 3:
        return np.broadcast_to(gray, img.shape).copy()
    return gray


def rgb_to_grayscale(img: Tensor, num_output_channels: int = 1) -> Tensor:
    _assert_channels(img, [1, 3])
    return _wrap(rgb_to_grayscale_array(_array(img), num_output_channels))


def adjust_brightness(img: Tensor, brightness_factor: float) -> Tensor:
    if brightness_factor < 0:
        raise ValueError(f"brightness_factor ({brightness_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    array = _array(img)
    return _wrap(_blend(array, np.zeros_like(array), brightness_factor))


def adjust_contrast(img: Tensor, contrast_factor: float) -> Tensor:
    if contrast_factor < 0:
        raise ValueError(f"contrast_factor ({contrast_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [3, 1])
    array = _array(img)
    ftype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float32)
    gray = rgb_to_grayscale_array(array) if array.shape[-3] == 3 else array
    mean = gray.astype(ftype).mean(axis=(-3, -2, -1), keepdims=True, dtype=ftype)
    return _wrap(_blend(array, mean, contrast_factor))


def adjust_saturation(img: Tensor, saturation_factor: float) -> Tensor:
    if saturation_factor < 0:
        raise ValueError(f"saturation_factor ({saturation_factor}) is not non-negative.")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:  # Match PIL behaviour
        return img
    array = _array(img)
    return _wrap(_blend(array, rgb_to_grayscale_array(array), saturation_factor))


def _rgb2hsv(img: np.ndarray) -> np.ndarray:
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc = img.max(axis=-3)
    minc = img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = np.ones_like(maxc)
    s = cr / np.where(eqc, ones, maxc)
    cr_divisor = np.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    f = img.dtype.type
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (f(2.0) + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (f(4.0) + gc - rc)
    h = (hr + hg + hb).astype(img.dtype)
    h = np.fmod(h / f(6.0) + f(1.0), f(1.0))
    return np.stack((h, s, maxc), axis=-3)


def _hsv2rgb(img: np.ndarray) -> np.ndarray:
    f = img.dtype.type
    h, s, v = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    i = np.floor(h * f(6.0))
    frac = (h * f(6.0)) - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (f(1.0) - s), 0.0, 1.0)
    q = np.clip(v * (f(1.0) - s * frac), 0.0, 1.0)
    t = np.clip(v * (f(1.0) - s * (f(1.0) - frac)), 0.0, 1.0)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = np.zeros(img.shape, img.dtype)
    for k, (rr, gg, bb) in enumerate(choices):
        mask = i == k
        out[..., 0, :, :] = np.where(mask, rr, out[..., 0, :, :])
        out[..., 1, :, :] = np.where(mask, gg, out[..., 1, :, :])
        out[..., 2, :, :] = np.where(mask, bb, out[..., 2, :, :])
    return out


def adjust_hue(img: Tensor, hue_factor: float) -> Tensor:
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    if not isinstance(img, Tensor):
        raise TypeError("Input img should be Tensor image")
    _assert_image_tensor(img)
    _assert_channels(img, [1, 3])
    if get_dimensions(img)[0] == 1:  # Match PIL behaviour
        return img
    array = _array(img)
    orig_dtype = array.dtype
    hsv = _rgb2hsv(convert_image_dtype_array(array, np.dtype(np.float32)))
    h = np.fmod(hsv[..., 0, :, :] + np.float32(hue_factor), np.float32(1.0))
    h = np.where(h < 0, h + np.float32(1.0), h)  # Python/torch % (the sign of the divisor)
    hsv[..., 0, :, :] = h
    return _wrap(convert_image_dtype_array(_hsv2rgb(hsv), orig_dtype))


def normalize(tensor: Tensor, mean: Any, std: Any, inplace: bool = False) -> Tensor:
    _assert_image_tensor(tensor)
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(
            "Expected tensor to be a tensor image of size (..., C, H, W). Got tensor.size() = "
            f"{tensor.size()}"
        )
    if not inplace:
        tensor = tensor.clone()
    dtype = tensor.dtype
    mean_t = ndgrad.as_tensor(mean, dtype=dtype)
    std_t = ndgrad.as_tensor(std, dtype=dtype)
    if bool((std_t == 0).any()):
        raise ValueError(
            f"std evaluated to zero after conversion to {dtype}, leading to division by zero."
        )
    if mean_t.ndim == 1:
        mean_t = mean_t.view(-1, 1, 1)
    if std_t.ndim == 1:
        std_t = std_t.view(-1, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)
