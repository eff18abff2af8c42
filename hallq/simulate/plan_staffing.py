"""Capacity planning: a plan (windows per service per hour) as a hall and a staffing the
simulator plays.

The plan is played at single-service windows: the hall's own windows are replaced by, for
each service, as many windows serving only it as the plan's busiest hour of the service
needs. Window k of a service is staffed in the hours the plan gives the service at least k
windows, its shifts being those hours' open spans joined end to end, so a window signs in
when its hour begins and out when it ends (after its current ticket). Everything else of
the hall (hours, rules, priority classes, quotas) and of the scenario (who comes, what they
need, away episodes, recalls) is kept; the hall's staff list goes (anyone may sign in), and
with it the devices, screens and notices that name its windows.

The scenario's overtime (after the last shift, keep calling while the queue lasts) is given
to the windows staffed in a service's last planned hour as a longer last shift; a window
whose plan ends earlier in the day signs out when its hour ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from hallq.hall.config import HallConfig, config_data, config_from_data
from hallq.simulate.plan_demand import PlanHour
from hallq.simulate.scenario import Scenario, WindowPlan

Cell = tuple[str, int]  # (service code, index into the plan's hours)
LAST_MINUTE = 23 * 60 + 59  # a shift may end at 23:59 at the latest

# Parts of a hall's configuration that name its windows or its staff.
_DROPPED = ("staff", "led_buses", "keypad_buses", "buttons", "screens", "notices")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _joined(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def window_shifts(
    services: Sequence[str],
    hours: Sequence[PlanHour],
    windows: Mapping[Cell, int],
    overtime_minutes: float,
) -> list[tuple[str, list[tuple[int, int]]]]:
    """(service, shifts in minutes after midnight) of every planned window, in window order."""
    out = []
    for code in services:
        counts = [windows.get((code, i), 0) for i in range(len(hours))]
        staffed = [i for i, n in enumerate(counts) if n > 0]
        if not staffed:
            continue
        last = staffed[-1]
        for k in range(1, max(counts) + 1):
            spans = [span for i, n in enumerate(counts) if n >= k for span in hours[i].spans]
            shifts = _joined(spans)
            if counts[last] >= k and overtime_minutes > 0:
                a, b = shifts[-1]
                shifts[-1] = (a, min(LAST_MINUTE, max(b, b + round(overtime_minutes))))
            out.append((code, shifts))
    return out


def plan_hall(cfg: HallConfig, layout: Sequence[tuple[str, list[tuple[int, int]]]]) -> HallConfig:
    """The hall with single-service windows 1…N, one per entry of `layout`."""
    data = config_data(cfg)
    for key in _DROPPED:
        data.pop(key, None)
    names = {s.code: s.name for s in cfg.services}
    data["windows"] = [
        {"number": n, "label": names.get(code, code), "tiers": [[code]]}
        for n, (code, _) in enumerate(layout, start=1)
    ]
    return config_from_data(data, f"{cfg.hall.id} (planned windows)")


def plan_scenario(
    scenario: Scenario, layout: Sequence[tuple[str, list[tuple[int, int]]]]
) -> Scenario:
    """The scenario with the planned windows' shifts as its staffing."""
    by_shifts: dict[tuple[str, ...], list[int]] = {}
    for n, (_, shifts) in enumerate(layout, start=1):
        texts = tuple(f"{_clock(a)}-{_clock(b)}" for a, b in shifts)
        by_shifts.setdefault(texts, []).append(n)
    staffing = msgspec.structs.replace(
        scenario.staffing,
        shifts=[],  # a window the plan does not name is closed
        overtime_minutes=0.0,  # given as longer last shifts instead (window_shifts)
        windows=[WindowPlan(windows=ns, shifts=list(texts)) for texts, ns in by_shifts.items()],
    )
    return msgspec.structs.replace(scenario, staffing=staffing)


def staffed_day(
    cfg: HallConfig,
    scenario: Scenario,
    services: Sequence[str],
    hours: Sequence[PlanHour],
    windows: Mapping[Cell, int],
) -> tuple[HallConfig, Scenario]:
    """The hall and the scenario that play `windows` (windows per service and hour)."""
    layout = window_shifts(services, hours, windows, scenario.staffing.overtime_minutes)
    return plan_hall(cfg, layout), plan_scenario(scenario, layout)
