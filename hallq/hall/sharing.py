"""How composite windows (综合窗口) share their time between their tiers, for wait estimates.

A window takes its tiers in turn: a service in its second tier gets only the time that the
services of its first tier leave over. From each service's load (its arrival rate times its
window time per call, in windows' worth) the time is shared out as a fluid would: a service's
load is carried by the windows able to serve it in proportion to what each can offer it (a
whole window where it is in the first tier; where it is in a lower tier, what the tiers above
leave over there), and a window's tiers above a service leave over what their share of those
loads does not take. Deeper levels depend on each other, so the recursion stops a few levels
down, where only first-tier windows count.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

DEPTH = 1  # levels of "what the tiers above leave over" followed


@dataclass(frozen=True)
class Layout:
    """The hall's windows and tiers arranged for `Sharing` (built once per configuration)."""

    tiers: Mapping[int, tuple[tuple[str, ...], ...]]  # window → its tiers
    bit: Mapping[int, int]  # window → its bit in a set of open windows
    alone_first: Mapping[str, int]  # service → windows whose first tier is it alone
    shared_first: Mapping[str, tuple[tuple[int, tuple[str, ...]], ...]]  # (window, first tier)
    lower: Mapping[str, tuple[tuple[int, int, tuple[str, ...]], ...]]  # (window, index, tier)

    @classmethod
    def of(cls, tiers: Mapping[int, Sequence[Sequence[str]]]) -> Layout:
        bit = {number: 1 << i for i, number in enumerate(sorted(tiers))}
        alone: dict[str, int] = {}
        shared: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        lower: dict[str, list[tuple[int, int, tuple[str, ...]]]] = {}
        for number, its in tiers.items():
            for index, tier in enumerate(its):
                for code in tier:
                    if index:
                        lower.setdefault(code, []).append((number, index, tuple(tier)))
                    elif len(tier) == 1:
                        alone[code] = alone.get(code, 0) | bit[number]
                    else:
                        shared.setdefault(code, []).append((number, tuple(tier)))
        return cls(
            tiers={n: tuple(tuple(t) for t in its) for n, its in tiers.items()},
            bit=bit,
            alone_first=alone,
            shared_first={k: tuple(v) for k, v in shared.items()},
            lower={k: tuple(v) for k, v in lower.items()},
        )

    def open_set(self, is_open: Callable[[int], bool]) -> int:
        """The open windows as a set of bits."""
        return sum(b for number, b in self.bit.items() if is_open(number))


class Sharing:
    """The shares of one moment: which windows are open and each service's load."""

    def __init__(self, layout: Layout, open_set: int, load: Callable[[str], float]) -> None:
        self.layout = layout
        self.open_set = open_set
        self._load_of = load
        self._capacity: dict[tuple[str, int], float] = {}
        self._spare: dict[tuple[int, int, int], float] = {}
        self._loads: dict[str, float] = {}
        self._tier_load: dict[Sequence[str], float] = {}

    def load(self, code: str) -> float:
        """The service's load: windows' worth of time its arrivals need."""
        known = self._loads.get(code)
        if known is None:
            known = self._loads[code] = self._load_of(code)
        return known

    def capacity(self, code: str, depth: int = DEPTH) -> float:
        """Windows' worth of time the open windows can offer the service."""
        key = (code, depth)
        known = self._capacity.get(key)
        if known is not None:
            return known
        layout, opened = self.layout, self.open_set
        total = float((opened & layout.alone_first.get(code, 0)).bit_count())
        for window, tier in layout.shared_first.get(code, ()):
            if opened & layout.bit[window]:
                total += self._split(tier, code)
        if depth:
            for window, index, tier in layout.lower.get(code, ()):
                if opened & layout.bit[window]:
                    split = 1.0 if len(tier) == 1 else self._split(tier, code)
                    total += self.spare(window, index, depth - 1) * split
        self._capacity[key] = total
        return total

    def spare(self, window: int, index: int, depth: int = DEPTH) -> float:
        """The share of the window's time that its tiers before `index` leave over."""
        key = (window, index, depth)
        known = self._spare.get(key)
        if known is not None:
            return known
        left = 1.0
        for tier in self.layout.tiers[window][:index]:
            total = self._total(tier)
            if total <= 0.0:
                continue
            used = 0.0
            for code in tier:
                load = self.load(code)
                offer = left * load / total
                able = self.capacity(code, depth)
                used += load * offer / able if able > 0.0 else offer
            left = max(0.0, left - used)
        self._spare[key] = left
        return left

    def _total(self, tier: Sequence[str]) -> float:
        total = self._tier_load.get(tier)
        if total is None:
            total = self._tier_load[tier] = sum(self.load(c) for c in tier)
        return total

    def _split(self, tier: Sequence[str], code: str) -> float:
        """The service's part of what a window offers a tier: in proportion to the loads."""
        total = self._total(tier)
        if total <= 0.0:
            return 1.0 / len(tier)
        return self.load(code) / total
