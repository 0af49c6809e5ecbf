"""ndgrad.vision.transforms against torchvision's algorithms.

References: Pillow itself for the PIL paths (torchvision calls Pillow the same way), torch's
``interpolate(antialias=True)`` for the tensor resize, NumPy formulas, and torchvision 0.28's
own Python code where its wheel is available (``_reference``; skipped otherwise).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance
from tests.vision._reference import torchvision

import ndgrad
from ndgrad.vision import transforms as T
from ndgrad.vision.transforms import InterpolationMode
from ndgrad.vision.transforms import functional as F


def nd(a: np.ndarray) -> ndgrad.Tensor:
    return ndgrad.from_numpy(np.ascontiguousarray(a))


def th(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a))


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img)


# ----------------------------------------------------------------------------- conversions
def test_to_tensor_rgb_pil(rgb_image, rgb_array):
    out = T.ToTensor()(rgb_image)
    assert out.dtype == ndgrad.float32 and tuple(out.shape) == (3, 13, 17)
    expected = rgb_array.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_to_tensor_gray_and_ndarray(gray_image, rgb_array):
    out = F.to_tensor(gray_image)
    assert tuple(out.shape) == (1, 11, 9)
    np.testing.assert_array_equal(out.numpy()[0], pixels(gray_image) / np.float32(255))
    arr = F.to_tensor(rgb_array)
    np.testing.assert_array_equal(arr.numpy(), F.to_tensor(Image.fromarray(rgb_array)).numpy())
    two_d = F.to_tensor(rgb_array[:, :, 0])
    assert tuple(two_d.shape) == (1, 13, 17)
    floats = np.random.default_rng(0).random((4, 5, 2))  # not uint8: no scaling, dtype kept
    kept = F.to_tensor(floats)
    assert kept.dtype == ndgrad.float64
    np.testing.assert_array_equal(kept.numpy(), floats.transpose(2, 0, 1))


def test_to_tensor_default_dtype(gray_image):
    ndgrad.set_default_dtype(ndgrad.float64)
    assert F.to_tensor(gray_image).dtype == ndgrad.float64


def test_to_tensor_modes_match_torchvision(rgb_image, gray_image):
    tv = torchvision()
    for img in (rgb_image, gray_image, rgb_image.convert("RGBA"), gray_image.convert("1"),
                gray_image.convert("I"), gray_image.convert("F"), rgb_image.convert("LA")):  # fmt: skip
        ours, ref = F.to_tensor(img), tv.transforms.functional.to_tensor(img)
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1], img.mode
        np.testing.assert_array_equal(ours.numpy(), ref.numpy(), err_msg=img.mode)


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        F.to_tensor([1, 2])
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional. Got 4 dimensions"):
        F.to_tensor(np.zeros((1, 2, 3, 4), np.uint8))


def test_pil_to_tensor(rgb_image, rgb_array, gray_image):
    out = T.PILToTensor()(rgb_image)
    assert out.dtype == ndgrad.uint8
    np.testing.assert_array_equal(out.numpy(), rgb_array.transpose(2, 0, 1))
    assert tuple(F.pil_to_tensor(gray_image).shape) == (1, 11, 9)
    with pytest.raises(TypeError, match="pic should be PIL Image"):
        F.pil_to_tensor(rgb_array)


def test_to_pil_image_round_trip(rgb_image, gray_image):
    assert pixels(F.to_pil_image(F.pil_to_tensor(rgb_image))).tolist() == pixels(rgb_image).tolist()
    back = F.to_pil_image(F.to_tensor(gray_image))
    assert back.mode == "L"
    # float -> uint8 truncates (x * 255).astype(uint8) as torchvision; k/255*255 may land below k
    expected = (F.to_tensor(gray_image).numpy()[0] * 255).astype(np.uint8)
    np.testing.assert_array_equal(pixels(back), expected)
    assert F.to_pil_image(np.zeros((2, 2, 4), np.uint8)).mode == "RGBA"
    with pytest.raises(ValueError, match="pic should not have > 4 channels"):
        F.to_pil_image(np.zeros((2, 2, 5), np.uint8))


def test_to_pil_image_matches_torchvision(rgb_array):
    tv = torchvision()
    x = np.random.default_rng(3).random((3, 4, 5), dtype=np.float32)
    ours = F.to_pil_image(nd(x))
    ref = tv.transforms.functional.to_pil_image(th(x))
    assert ours.mode == ref.mode and pixels(ours).tolist() == pixels(ref).tolist()


# ----------------------------------------------------------------------------- normalize
def test_normalize_values_and_inplace():
    x = np.random.default_rng(0).random((3, 4, 5), dtype=np.float32)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    t = nd(x.copy())
    out = T.Normalize(mean, std)(t)
    ref = torch.nn.functional.normalize  # noqa: F841 - (the formula below is torchvision's)
    expected = (th(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(t.numpy(), x)  # not in place by default
    same = T.Normalize(mean, std, inplace=True)(t)
    assert same is t
    np.testing.assert_array_equal(t.numpy(), expected.numpy())


def test_normalize_errors():
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(ndgrad.zeros(3, 2, 2, dtype=ndgrad.uint8), [0.5], [0.5])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(ndgrad.zeros(1, 2, 2), [0.5], [0.0])
    with pytest.raises(TypeError, match="img should be Tensor Image"):
        F.normalize(np.zeros((1, 2, 2)), [0.5], [0.5])


# ----------------------------------------------------------------------------- resize
@pytest.mark.parametrize("size", [8, (5, 7), [9], (30, 40), 13])
def test_resize_pil_is_pils_resize(rgb_image, size):
    out = T.Resize(size)(rgb_image)
    w, h = rgb_image.size
    if isinstance(size, int) or len(size) == 1:
        s = size if isinstance(size, int) else size[0]
        # smaller edge -> s, the other int(s * long / short)
        expected_hw = (s, int(s * w / h)) if h <= w else (int(s * h / w), s)
    else:
        expected_hw = tuple(size)
    if expected_hw == (h, w):
        assert out is rgb_image
        return
    expected = rgb_image.resize(expected_hw[::-1], Image.BILINEAR)
    assert out.size == expected.size
    np.testing.assert_array_equal(pixels(out), pixels(expected))


def test_resize_pil_interpolations_and_max_size(rgb_image):
    for mode, pil in [(InterpolationMode.NEAREST, Image.NEAREST),
                      (InterpolationMode.BICUBIC, Image.BICUBIC),
                      (InterpolationMode.LANCZOS, Image.LANCZOS), (2, Image.BILINEAR)]:  # fmt: skip
        out = F.resize(rgb_image, [6, 7], interpolation=mode)
        np.testing.assert_array_equal(pixels(out), pixels(rgb_image.resize((7, 6), pil)))
    out = F.resize(rgb_image, 10, max_size=12)  # 13x17 -> 10x13 is over 12 -> 9x12
    assert out.size == (12, 9)
    with pytest.raises(ValueError, match="max_size = 10 must be strictly greater"):
        F.resize(rgb_image, 10, max_size=10)


SIZES = [(17, 23, 8, 10), (28, 28, 14, 14), (32, 32, 224, 224), (10, 37, 7, 50),
         (64, 48, 31, 29), (5, 5, 3, 9), (100, 3, 33, 3), (9, 9, 9, 4)]  # fmt: skip


@pytest.mark.parametrize(("h", "w", "oh", "ow"), SIZES)
def test_resize_tensor_antialias_matches_torch(h, w, oh, ow):
    rng = np.random.default_rng(h * w + oh)
    x = rng.random((2, 3, h, w), dtype=np.float32)
    ours = F.resize(nd(x), [oh, ow]).numpy()
    ref = torch.nn.functional.interpolate(
        th(x), size=(oh, ow), mode="bilinear", align_corners=False, antialias=True
    ).numpy()
    assert ours.dtype == np.float32 and ours.shape == (2, 3, oh, ow)
    # within float32 rounding (ATen may fuse multiply-adds)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=4e-7)
    # (C, H, W) and uint8 (cast to float, resampled, rounded, cast back as torchvision does)
    u = rng.integers(0, 256, (3, h, w), dtype=np.uint8)
    out_u = F.resize(nd(u), [oh, ow]).numpy()
    ref_u = (
        torch.nn.functional.interpolate(
            th(u)[None].float(), size=(oh, ow), mode="bilinear", align_corners=False, antialias=True
        )[0]
        .round()
        .to(torch.uint8)
    )
    assert out_u.dtype == np.uint8
    assert np.abs(out_u.astype(int) - ref_u.numpy()).max() <= 1
    assert (out_u != ref_u.numpy()).mean() < 0.01


def test_resize_tensor_antialias_gradient_matches_torch():
    x = np.random.default_rng(11).random((2, 3, 13, 9), dtype=np.float32)
    weights = np.random.default_rng(12).random((2, 3, 5, 17), dtype=np.float32)
    ours_x = nd(x).requires_grad_(True)
    ours = F.resize(ours_x, [5, 17])
    (ours * nd(weights)).sum().backward()
    ref_x = th(x).requires_grad_(True)
    ref = torch.nn.functional.interpolate(ref_x, size=(5, 17), mode="bilinear", antialias=True)
    (ref * th(weights)).sum().backward()
    np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=0, atol=4e-7)
    np.testing.assert_allclose(ours_x.grad.numpy(), ref_x.grad.numpy(), rtol=0, atol=2e-6)


def test_resize_tensor_matches_torchvision_resize():
    tv = torchvision()
    rng = np.random.default_rng(5)
    for h, w, size in [(17, 23, 8), (40, 30, (20, 11)), (6, 6, 20), (31, 57, [16])]:
        x = rng.random((3, h, w), dtype=np.float32)
        ours = T.Resize(size)(nd(x)).numpy()
        ref = tv.transforms.Resize(size)(th(x)).numpy()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=4e-7)
        u = rng.integers(0, 256, (1, h, w), dtype=np.uint8)
        out_u, ref_u = T.Resize(size)(nd(u)).numpy(), tv.transforms.Resize(size)(th(u)).numpy()
        assert np.abs(out_u.astype(int) - ref_u).max() <= 1


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_resize_tensor_without_antialias_matches_torch(mode):
    x = np.random.default_rng(7).random((3, 12, 15), dtype=np.float32)
    interpolation = InterpolationMode(mode)
    ours = F.resize(nd(x), [7, 20], interpolation=interpolation, antialias=False).numpy()
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    ref = torch.nn.functional.interpolate(th(x)[None], size=(7, 20), mode=mode, **kwargs)[0]
    np.testing.assert_allclose(ours, ref.numpy(), rtol=0, atol=4e-7)


def test_resize_errors(rgb_image):
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(2.5)
    with pytest.raises(ValueError, match="If size is a sequence, it should have 1 or 2 values"):
        T.Resize((1, 2, 3))
    with pytest.raises(TypeError, match="Argument interpolation should be a InterpolationMode"):
        F.resize(rgb_image, 3, interpolation="bilinear")


# ----------------------------------------------------------------------------- crops, flips
def test_center_crop(rgb_image, rgb_array):
    out = T.CenterCrop(5)(rgb_image)  # 13x17: top round(4.0)=4, left round(6.0)=6
    np.testing.assert_array_equal(pixels(out), rgb_array[4:9, 6:11])
    t = F.pil_to_tensor(rgb_image)
    np.testing.assert_array_equal(T.CenterCrop((4, 6))(t).numpy(),
                                  rgb_array.transpose(2, 0, 1)[:, 4:8, 6:12])  # fmt: skip
    # bigger than the image: zero padding first (left/top get the smaller half)
    big = T.CenterCrop((16, 18))(rgb_image)
    padded = np.zeros((16, 18, 3), np.uint8)
    padded[1:14, 0:17] = rgb_array
    np.testing.assert_array_equal(pixels(big), padded)
    np.testing.assert_array_equal(T.CenterCrop((16, 18))(t).numpy(), padded.transpose(2, 0, 1))


def test_center_crop_matches_torchvision(rgb_image):
    tv = torchvision()
    t = F.pil_to_tensor(rgb_image)
    for size in [5, (4, 6), (16, 18), (13, 20), [7], (1, 1)]:
        ref_pil = tv.transforms.CenterCrop(size)(rgb_image)
        np.testing.assert_array_equal(pixels(T.CenterCrop(size)(rgb_image)), pixels(ref_pil))
        ref_t = tv.transforms.CenterCrop(size)(th(t.numpy()))
        np.testing.assert_array_equal(T.CenterCrop(size)(t).numpy(), ref_t.numpy())


def test_crop_outside_is_zero(rgb_array):
    t = nd(rgb_array.transpose(2, 0, 1))
    out = F.crop(t, -2, 15, 4, 4).numpy()
    expected = np.zeros((3, 4, 4), np.uint8)
    expected[:, 2:, :2] = rgb_array.transpose(2, 0, 1)[:, 0:2, 15:17]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_matches_torchvision(rgb_image, mode):
    tv = torchvision()
    t = F.pil_to_tensor(rgb_image)
    for padding in [2, [1, 3], (1, 2, 3, 4), [-1, 2, 0, 1]]:
        if mode != "constant" or min(np.atleast_1d(padding)) >= 0:
            ours = F.pad(rgb_image, padding, fill=7, padding_mode=mode)
            ref = tv.transforms.functional.pad(rgb_image, padding, fill=7, padding_mode=mode)
            np.testing.assert_array_equal(pixels(ours), pixels(ref))
        ours_t = F.pad(t, padding, fill=7, padding_mode=mode).numpy()
        ref_t = tv.transforms.functional.pad(th(t.numpy()), padding, fill=7, padding_mode=mode)
        np.testing.assert_array_equal(ours_t, ref_t.numpy())


def test_random_crop_is_a_window_of_the_padded_image(rgb_image, rgb_array):
    crop = T.RandomCrop(8, padding=2)
    padded = np.pad(rgb_array, ((2, 2), (2, 2), (0, 0)))
    ndgrad.manual_seed(3)
    out = pixels(crop(rgb_image))
    ndgrad.manual_seed(3)
    i, j, h, w = T.RandomCrop.get_params(Image.fromarray(padded), (8, 8))
    np.testing.assert_array_equal(out, padded[i : i + 8, j : j + 8])
    seen = set()
    for seed in range(30):
        ndgrad.manual_seed(seed)
        seen.add(T.RandomCrop.get_params(rgb_image, (8, 8))[:2])
    assert all(0 <= i <= 5 and 0 <= j <= 9 for i, j in seen) and len(seen) > 10


def test_random_crop_pad_if_needed(gray_image):
    out = T.RandomCrop((15, 12), pad_if_needed=True, fill=9)(gray_image)  # 11x9 -> 15x12
    assert out.size == (12, 15)
    # both sides padded by the missing amount, then a 15x12 window of the 19x15 image
    assert (pixels(out) == 9).sum() >= 15 * 12 - 11 * 9
    t = T.RandomCrop((15, 12), pad_if_needed=True)(F.pil_to_tensor(gray_image))
    assert tuple(t.shape) == (1, 15, 12)
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(12)(gray_image)


def test_horizontal_flip(rgb_image, rgb_array):
    np.testing.assert_array_equal(pixels(T.RandomHorizontalFlip(p=1.0)(rgb_image)),
                                  rgb_array[:, ::-1])  # fmt: skip
    assert T.RandomHorizontalFlip(p=0.0)(rgb_image) is rgb_image
    t = nd(rgb_array.transpose(2, 0, 1))
    np.testing.assert_array_equal(F.hflip(t).numpy(), rgb_array.transpose(2, 0, 1)[:, :, ::-1])
    flips = 0
    for seed in range(40):
        ndgrad.manual_seed(seed)
        flips += T.RandomHorizontalFlip()(t) is not t
    assert 8 < flips < 32


def test_random_resized_crop_params():
    img = Image.new("RGB", (40, 30))
    for seed in range(50):
        ndgrad.manual_seed(seed)
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 < h <= 30 and 0 < w <= 40 and 0 <= i <= 30 - h and 0 <= j <= 40 - w
    # impossible areas: every try fails -> torchvision's central fallback
    tv = torchvision()
    for scale, ratio in [((2.0, 3.0), (3 / 4, 4 / 3)), ((2.0, 3.0), (2.0, 3.0)),
                         ((2.0, 3.0), (0.2, 0.5))]:  # fmt: skip
        ours = T.RandomResizedCrop.get_params(img, scale, ratio)
        ref = tv.transforms.RandomResizedCrop.get_params(img, scale, ratio)
        assert ours == tuple(ref)


def test_random_resized_crop_output(rgb_image):
    ndgrad.manual_seed(0)
    out = T.RandomResizedCrop((6, 5))(rgb_image)
    assert out.size == (5, 6)
    ndgrad.manual_seed(0)
    i, j, h, w = T.RandomResizedCrop.get_params(rgb_image, (0.08, 1.0), (3 / 4, 4 / 3))
    expected = rgb_image.crop((j, i, j + w, i + h)).resize((5, 6), Image.BILINEAR)
    np.testing.assert_array_equal(pixels(out), pixels(expected))
    t = T.RandomResizedCrop(7)(F.to_tensor(rgb_image))
    assert tuple(t.shape) == (3, 7, 7) and t.dtype == ndgrad.float32


# ----------------------------------------------------------------------------- colour
FACTORS = [0.0, 0.4, 1.0, 1.7]


@pytest.mark.parametrize("factor", FACTORS)
def test_adjust_pil_is_pil_enhance(rgb_image, factor):
    for ours, enhancer in [(F.adjust_brightness, ImageEnhance.Brightness),
                           (F.adjust_contrast, ImageEnhance.Contrast),
                           (F.adjust_saturation, ImageEnhance.Color)]:  # fmt: skip
        np.testing.assert_array_equal(pixels(ours(rgb_image, factor)),
                                      pixels(enhancer(rgb_image).enhance(factor)))  # fmt: skip


@pytest.mark.parametrize("hue", [-0.5, -0.2, 0.0, 0.13, 0.5])
def test_adjust_hue_pil(rgb_image, gray_image, hue):
    h, s, v = rgb_image.convert("HSV").split()
    shifted = (np.asarray(h).astype(np.int64) + int(hue * 255)) % 256
    expected = Image.merge("HSV", (Image.fromarray(shifted.astype(np.uint8)), s, v)).convert("RGB")
    np.testing.assert_array_equal(pixels(F.adjust_hue(rgb_image, hue)), pixels(expected))
    assert F.adjust_hue(gray_image, hue) is gray_image


def test_adjust_hue_range():
    with pytest.raises(ValueError, match=r"hue_factor \(0.6\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(Image.new("RGB", (2, 2)), 0.6)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_adjust_tensor_matches_torchvision(rgb_array, dtype):
    tv = torchvision()
    TF = tv.transforms.functional
    x = rgb_array.transpose(2, 0, 1)
    x = x if dtype == np.uint8 else (x / np.float32(255)).astype(np.float32)
    for name, factors in [("adjust_brightness", FACTORS), ("adjust_contrast", FACTORS),
                          ("adjust_saturation", FACTORS),
                          ("adjust_hue", [-0.5, -0.2, 0.0, 0.13, 0.5])]:  # fmt: skip
        for factor in factors:
            ours = getattr(F, name)(nd(x), factor).numpy()
            ref = getattr(TF, name)(th(x), factor).numpy()
            assert ours.dtype == ref.dtype
            if dtype == np.uint8:
                assert np.abs(ours.astype(int) - ref).max() <= 1, (name, factor)
                assert (ours != ref).mean() < 0.01, (name, factor)
            else:
                np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6, err_msg=f"{name} {factor}")


def test_adjust_tensor_formulas(rgb_array):
    x = (rgb_array.transpose(2, 0, 1) / np.float32(255)).astype(np.float32)
    out = F.adjust_brightness(nd(x), 1.5).numpy()
    np.testing.assert_array_equal(out, np.clip(x * np.float32(1.5), 0, 1))
    gray = (np.float32(0.2989) * x[0] + np.float32(0.587) * x[1]) + np.float32(0.114) * x[2]
    out = F.adjust_saturation(nd(x), 0.3).numpy()
    np.testing.assert_allclose(out, np.clip(0.3 * x + 0.7 * gray, 0, 1), atol=1e-6)
    out = F.adjust_contrast(nd(x), 0.5).numpy()
    np.testing.assert_allclose(out, np.clip(0.5 * x + 0.5 * gray.mean(), 0, 1), atol=1e-6)


def test_color_jitter(rgb_image):
    jitter = T.ColorJitter(brightness=(1.5, 1.5))
    np.testing.assert_array_equal(pixels(jitter(rgb_image)),
                                  pixels(ImageEnhance.Brightness(rgb_image).enhance(1.5)))  # fmt: skip
    assert T.ColorJitter().brightness is None and T.ColorJitter(hue=0).hue is None
    assert T.ColorJitter(brightness=2).brightness == (0.0, 3.0)
    ndgrad.manual_seed(0)
    order, b, c, s, h = T.ColorJitter.get_params((0.5, 1.5), (0.7, 1.3), None, (-0.1, 0.1))
    assert sorted(order.tolist()) == [0, 1, 2, 3] and s is None
    assert 0.5 <= b <= 1.5 and 0.7 <= c <= 1.3 and -0.1 <= h <= 0.1
    out = T.ColorJitter(0.4, 0.4, 0.4, 0.1)(rgb_image)
    assert out.size == rgb_image.size and out.mode == "RGB"
    t = T.ColorJitter(0.4, 0.4, 0.4, 0.1)(F.to_tensor(rgb_image))
    assert t.dtype == ndgrad.float32 and tuple(t.shape) == (3, 13, 17)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non neg"):
        T.ColorJitter(brightness=-1)


# ----------------------------------------------------------------------------- compose, reprs
def test_compose_lambda(rgb_image):
    pipeline = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor(), T.Lambda(lambda x: x * 2)])
    out = pipeline(rgb_image)
    expected = F.to_tensor(F.center_crop(F.resize(rgb_image, 8), 8)).numpy() * 2
    np.testing.assert_array_equal(out.numpy(), expected)
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    assert isinstance(T.Resize(3), ndgrad.nn.Module)


def _transforms(mod):
    return [
        mod.ToTensor(), mod.PILToTensor(), mod.Normalize((0.1307,), (0.3081,)),
        mod.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225], inplace=True),
        mod.Resize(32), mod.Resize((28, 30), interpolation=mod.InterpolationMode.NEAREST),
        mod.Resize([64], max_size=100, antialias=False), mod.CenterCrop(24), mod.CenterCrop((3, 4)),
        mod.RandomCrop(32, padding=4), mod.RandomCrop((28, 20), pad_if_needed=True),
        mod.RandomHorizontalFlip(), mod.RandomHorizontalFlip(p=0.3), mod.RandomResizedCrop(224),
        mod.RandomResizedCrop((20, 30), scale=(0.5, 1.0), ratio=(1.0, 2.0)),
        mod.ColorJitter(), mod.ColorJitter(0.4, 0.4, 0.4, 0.1),
        mod.ColorJitter(brightness=(0.5, 1.5), hue=(-0.2, 0.3)), mod.Lambda(lambda x: x),
        mod.Compose([mod.Resize(8), mod.ToTensor()]), mod.Pad(2), mod.ToPILImage(),
        mod.Grayscale(3),
    ]  # fmt: skip


def test_reprs():
    assert repr(T.Resize(32)) == (
        "Resize(size=32, interpolation=bilinear, max_size=None, antialias=True)"
    )
    assert repr(T.RandomResizedCrop(224)) == (
        "RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333), "
        "interpolation=bilinear, antialias=True)"
    )
    assert repr(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])) == (
        "Compose(\n    ToTensor()\n    Normalize(mean=(0.5,), std=(0.5,))\n)"
    )
    assert repr(T.ColorJitter(0.4, 0.4, 0.4, 0.1)) == (
        "ColorJitter(brightness=(0.6, 1.4), contrast=(0.6, 1.4), saturation=(0.6, 1.4), "
        "hue=(-0.1, 0.1))"
    )
    assert repr(T.RandomCrop(32, padding=4)) == "RandomCrop(size=(32, 32), padding=4)"
    assert repr(T.CenterCrop(24)) == "CenterCrop(size=(24, 24))"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.Lambda(abs)) == "Lambda()" and repr(T.PILToTensor()) == "PILToTensor()"


def test_reprs_match_torchvision():
    tv = torchvision()
    for ours, ref in zip(_transforms(T), _transforms(tv.transforms), strict=True):
        assert repr(ours) == repr(ref)
