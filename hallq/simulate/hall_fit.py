"""What only the hall can say about a scenario: its services, windows, classes, staff, hours."""

from __future__ import annotations

from hallq.hall.config import HallConfig
from hallq.hall.schedule import Timetable
from hallq.simulate.scenario import Scenario
from hallq.simulate.staffing import plans, staff_ids


def check_against_hall(cfg: HallConfig, scenario: Scenario) -> list[tuple[str, str]]:
    """(field, what to fix) for every way the scenario does not fit the hall."""
    problems: list[tuple[str, str]] = []
    add = problems.append
    codes = {s.code: s for s in cfg.services}
    known = ", ".join(codes)
    if not Timetable(cfg).sessions(scenario.day):
        add(
            (
                "date",
                f"{cfg.hall.name} is closed on {scenario.date} ({scenario.day:%A}); choose a day it opens",
            )
        )
    for code in scenario.services:
        svc = codes.get(code)
        if svc is None:
            add((f"services.{code}", f'the hall has no service "{code}"; it has {known}'))
        elif not svc.enabled:
            add(
                (
                    f"services.{code}",
                    f'"{code}" is disabled in the hall; give it share = 0 or enable it',
                )
            )
    c = scenario.citizens
    categories = [p.code for p in cfg.priority]
    if c.green_category and c.green_category not in categories:
        add(
            (
                "citizens.green_category",
                f'the hall has no priority class "{c.green_category}"; it has {", ".join(categories) or "none"}',
            )
        )
    if c.green_share > 0 and not categories:
        add(
            (
                "citizens.green_share",
                "the hall has no [[priority]] class (绿色通道); set 0 or add one",
            )
        )
    levels = [lv.code for lv in cfg.evaluation.levels]
    for code in c.evaluation_levels:
        if code not in levels:
            add(
                (
                    f"citizens.evaluation_levels.{code}",
                    f"unknown level; the hall's are {', '.join(levels)}",
                )
            )
    if scenario.appointments is not None:
        for code in scenario.appointments.services:
            if code not in codes:
                add(
                    (
                        f"appointments.services.{code}",
                        f'the hall has no service "{code}"; it has {known}',
                    )
                )
    numbers = {w.number for w in cfg.windows}
    where: dict[int, str] = {}
    for i, plan in enumerate(scenario.staffing.windows):
        for n in plan.windows:
            where[n] = f"staffing.windows[{i}]"
            if n not in numbers:
                add((f"staffing.windows[{i}].windows", f"the hall has no window {n}"))
    table = plans(cfg, scenario)
    staffed = [n for n in sorted(table) if table[n][0]]
    for n, staff in staff_ids(cfg, staffed).items():
        if staff is None:
            add(
                (
                    where.get(n, "staffing"),
                    f"nobody in the hall's [[staff]] may sign in at window {n} (its own staff or its "
                    "backup window's are busy or missing); add staff or give it shifts = []",
                )
            )
    return problems
