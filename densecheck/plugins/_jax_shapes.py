"""Shape rules shared by the JAX plugins (Flax linen and nnx, Haiku, Equinox): convolutions and pooling
windows.

Flax and Haiku are channels-last, (*batch, *spatial, features), any number of leading batch axes, and take an
unbatched input (*spatial, features) too; Equinox is unbatched and channels-first, (channels, *spatial). The
number of spatial axes comes from the kernel (``kernel_size=(3, 3)``) or from the layer's name (``Conv2D``).
Not a plugin (its name starts with ``_``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from densecheck.plugins.base import Args
from densecheck.shapes import UNKNOWN, Dim, Shape, as_tuple, conv_out, known


def _pad_amounts(padding: Any, nd: int) -> list[Any] | None:
    """Per spatial axis: ``"same"`` / ``"valid"``, or the total explicit padding of the axis (both sides)."""
    if isinstance(padding, str):
        p = padding.lower()
        p = "same" if p in ("same", "circular", "reflect", "same_lower") else p
        return [p] * nd
    if isinstance(padding, int) and not isinstance(padding, bool):
        return [2 * padding] * nd
    if isinstance(padding, (tuple, list)) and len(padding) == nd:
        out: list[Any] = []
        for p in padding:
            if isinstance(p, int):
                out.append(2 * p)
            elif isinstance(p, (tuple, list)) and len(p) == 2 and all(isinstance(x, int) for x in p):
                out.append(p[0] + p[1])
            else:
                return None
        return out
    return None


def window_out(size: Dim, k: int, stride: int, pad: Any, dilation: int = 1) -> Dim:
    """One spatial axis after a convolution or pooling window with ``pad`` from :func:`_pad_amounts`."""
    if isinstance(pad, str):
        return conv_out(size, k, stride, pad, dilation, mode="keras")
    if not known(size) or not isinstance(pad, int):
        return None
    eff = dilation * (k - 1) + 1
    out = (size + pad - eff) // stride + 1
    return out if out > 0 else None


def spatial_rank(a: Args, kernel: str, fixed: int | None) -> int | None:
    """The number of spatial axes: fixed by the layer's name, else the kernel's length (an int kernel is
    one-dimensional, as Flax reads it)."""
    if fixed is not None:
        return fixed
    k = a[kernel]
    if isinstance(k, (tuple, list)):
        return len(k)
    if isinstance(k, int):
        return 1
    return None


def channels_last_window(
    kernel: str,
    stride: str,
    padding: str,
    features: str | None,
    fixed_nd: int | None = None,
    dilation: str | None = None,
    default_padding: str = "same",
    default_stride: int | None = 1,
    transposed: bool = False,
) -> Callable[[Shape, Args], Shape]:
    """A channels-last convolution (``features`` names the output channels) or pooling window (``features``
    None: the channels are kept), on (*batch, *spatial, channels) or unbatched (*spatial, channels)."""

    def rule(s: Shape, a: Args) -> Shape:
        nd = spatial_rank(a, kernel, fixed_nd)
        if nd is None:
            return UNKNOWN
        if s.rank is None:
            s = Shape.of((None,) * (nd + 2), -1)
        if s.dims is None or len(s.dims) < nd + 1:
            return UNKNOWN
        k = as_tuple(a[kernel], nd)
        st_given = a[stride]
        st = as_tuple(st_given if st_given is not None else (default_stride or a[kernel]), nd)
        dl = as_tuple(a.get(dilation, 1), nd) if dilation else (1,) * nd
        pads = _pad_amounts(a.get(padding, default_padding), nd)
        r = len(s.dims)
        lead = s.dims[: r - nd - 1]
        spatial = s.dims[r - nd - 1 : -1]
        out: list[Dim] = []
        for i in range(nd):
            if k is None or st is None or dl is None or pads is None:
                out.append(None)
            elif transposed:
                p = pads[i]
                if p == "same":
                    out.append(spatial[i] * st[i] if known(spatial[i]) else None)
                elif p == "valid" and known(spatial[i]):
                    out.append(spatial[i] * st[i] + max(dl[i] * (k[i] - 1) + 1 - st[i], 0))
                else:
                    out.append(None)
            else:
                out.append(window_out(spatial[i], k[i], st[i], pads[i], dl[i]))
        channels = a[features] if features is not None else s.dims[-1]
        channels = channels if known(channels) else None
        return Shape.of(tuple(lead) + tuple(out) + (channels,), -1, spatial=True)

    return rule


def channels_first_window(
    kernel: str,
    stride: str,
    padding: str,
    features: str | None,
    fixed_nd: int,
    dilation: str | None = None,
    default_stride: int | None = 1,
    transposed: bool = False,
    output_padding: str | None = None,
) -> Callable[[Shape, Args], Shape]:
    """Equinox's unbatched channels-first convolution or pool: (channels, *spatial); a batched input (under a
    ``jax.vmap`` the analysis kept the mapped axis of) is (*batch, channels, *spatial)."""

    def rule(s: Shape, a: Args) -> Shape:
        nd = fixed_nd
        if s.rank is None:
            s = Shape.of((None,) * (nd + 1), 0)
        if s.dims is None or len(s.dims) < nd + 1:
            return UNKNOWN
        k = as_tuple(a[kernel], nd)
        st_given = a[stride]
        st = as_tuple(st_given if st_given is not None else (default_stride or a[kernel]), nd)
        dl = as_tuple(a.get(dilation, 1), nd) if dilation else (1,) * nd
        pads = _pad_amounts(a.get(padding, 0), nd)
        op_ = as_tuple(a.get(output_padding, 0), nd) if output_padding else (0,) * nd
        r = len(s.dims)
        lead = s.dims[: r - nd - 1]
        spatial = s.dims[r - nd :]
        out: list[Dim] = []
        for i in range(nd):
            if k is None or st is None or dl is None or pads is None or op_ is None:
                out.append(None)
            elif transposed:
                p, size = pads[i], spatial[i]
                if isinstance(p, int) and known(size):
                    out.append((size - 1) * st[i] - p + dl[i] * (k[i] - 1) + 1 + op_[i])
                elif p == "same" and known(size):
                    out.append(size * st[i])
                else:
                    out.append(None)
            else:
                out.append(window_out(spatial[i], k[i], st[i], pads[i], dl[i]))
        channels = a[features] if features is not None else s.dims[len(lead)]
        channels = channels if known(channels) else None
        return Shape.of(tuple(lead) + (channels,) + tuple(out), len(lead), spatial=True)

    return rule


def pool_function(
    x: str, window: str, strides: str, padding: str, default_padding: str = "valid"
) -> Callable[[Args], Shape]:
    """``nn.max_pool(x, window_shape, strides=None, padding="VALID")`` (Flax: no strides are ones) as a
    function
    rule."""
    layer_rule = channels_last_window(window, strides, padding, None, default_padding=default_padding)

    def rule(a: Args) -> Shape:
        s = a.shape(x)
        return layer_rule(s if s is not None else UNKNOWN, a)

    return rule


def last_axis_sizes(features: Any) -> tuple[Dim, ...] | None:
    """``features=10`` or ``features=(4, 8)`` (DenseGeneral): the output axes' sizes."""
    if isinstance(features, int) and not isinstance(features, bool):
        return (features,)
    if isinstance(features, (tuple, list)) and all(isinstance(f, int) for f in features):
        return tuple(features)
    return None


def axes_of(s: Shape, axis: Any) -> Sequence[int] | None:
    """Normalised axes of ``s`` (an int or a tuple of ints), None when unknown or out of range."""
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        if not isinstance(ax, int):
            return None
        n = s.axis(ax)
        if n is None:
            return None
        out.append(n)
    return out
