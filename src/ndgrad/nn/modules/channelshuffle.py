"""``ChannelShuffle`` (ShuffleNet)."""

from __future__ import annotations

from ndgrad._tensor import Tensor
from ndgrad.nn import functional as F
from ndgrad.nn.modules.module import Module


class ChannelShuffle(Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002
        return F.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
