"""Capacity planning (hallq/simulate/plan*.py): `hallq simulate --plan --target-p90 N`.

The statistical check plays the plan on days it was not tuned on and allows four standard
errors, measured from the days themselves, for the planning days and the new ones each.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from hallq.cli import main
from hallq.hall.config import HallConfig, parse_config
from hallq.simulate import parse_scenario, simulate_day
from hallq.simulate.plan import Plan, PlanOptions, make_plan, waits_by_hour
from hallq.simulate.plan_demand import PlanHour
from hallq.simulate.plan_staffing import plan_hall, staffed_day, window_shifts
from hallq.simulate.scenario import Scenario

TARGET = 10.0  # minutes
PLANNING_SEEDS = tuple(range(1, 11))
NEW_SEEDS = tuple(range(101, 131))

# A hall open 09:00-13:00 every day with no cutoff; its own windows do not matter to the plan.
PLAN_HALL_TOML = """\
[hall]
id = "plan-hall"
name = "测算大厅"
timezone = "Asia/Shanghai"

[hours]
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
sessions = ["09:00-13:00"]
issue_cutoff_minutes = 0

[[services]]
code = "alpha"
name = "甲事项"
prefix = "A"
service_minutes = 6

[[services]]
code = "beta"
name = "乙事项"
prefix = "B"
service_minutes = 10

[[windows]]
number = 1
label = "甲乙"
tiers = [["alpha", "beta"]]
"""

# Stationary: 60 walk-ins an hour all morning, alpha 40/h at 6 minutes (exponential: M/M/s),
# beta 20/h at 10 minutes; nobody walks up slowly, misses a call, gives up or steps away.
# The windows finish the queue after closing (overtime), so no wait is cut short.
STATIONARY = """\
name = "stationary morning"
date = "2026-11-23"
hall = "hall.toml"

[arrivals]
profile = [{ from = "09:00", to = "13:00", per_hour = 60 }]

[services.alpha]
share = 2
minutes = { distribution = "exponential", mean = 6 }

[services.beta]
share = 1
minutes = { mean = 10, cv = 0.5 }

[citizens]
walk_up_seconds = { distribution = "deterministic", mean = 0 }
evaluation_share = 0

[staffing]
overtime_minutes = 60
"""


@pytest.fixture(scope="module")
def hall() -> HallConfig:
    return parse_config(PLAN_HALL_TOML, "hall.toml")


@pytest.fixture(scope="module")
def stationary() -> Scenario:
    return parse_scenario(STATIONARY, "stationary.toml")


@pytest.fixture(scope="module")
def plan(hall: HallConfig, stationary: Scenario) -> Plan:
    return make_plan(hall, stationary, PlanOptions(TARGET, seeds=PLANNING_SEEDS))


def _erlang_c(s: int, a: float) -> float:
    """P(wait) in M/M/s by the textbook sum (plan_demand uses Erlang B's recursion)."""
    tail = a**s / math.factorial(s) * s / (s - a)
    return tail / (sum(a**k / math.factorial(k) for k in range(s)) + tail)


def _erlang_windows(per_hour: float, minutes: float, target: float) -> int:
    """The fewest windows whose M/M/s p90 wait, from P(W > t) = C·e^(−(sμ−λ)t), is ≤ target."""
    lam, a = per_hour / 60.0, per_hour * minutes / 60.0
    s = math.floor(a) + 1
    while True:
        c = _erlang_c(s, a)
        p90 = 0.0 if c <= 0.1 else math.log(c / 0.1) / (s / minutes - lam)
        if p90 <= target:
            return s
        s += 1


def test_first_guess_is_erlang_c(hall: HallConfig, stationary: Scenario) -> None:
    one = make_plan(hall, stationary, PlanOptions(TARGET, seeds=(1,), rounds=1))
    assert [h.label for h in one.hours] == [
        "09:00-10:00",
        "10:00-11:00",
        "11:00-12:00",
        "12:00-13:00",
    ]
    assert one.services == ["alpha", "beta"]
    expected = {"alpha": _erlang_windows(40, 6, TARGET), "beta": _erlang_windows(20, 10, TARGET)}
    assert expected == {"alpha": 6, "beta": 5}  # the sum formula, worked by hand as a check
    for (code, i), n in one.first_guess.items():
        demand = one.demand.cells[(code, i)]
        assert demand.per_hour == pytest.approx(40 if code == "alpha" else 20, rel=0.02)
        assert n == expected[code]
    assert len(one.checks) == 1 and one.windows == one.first_guess  # one round: the guess


def test_plan_meets_the_target_on_days_it_was_not_tuned_on(
    hall: HallConfig, stationary: Scenario, plan: Plan
) -> None:
    assert plan.met and plan.unmet == []
    assert all(n >= 1 for n in plan.windows.values())
    cfg, scenario = staffed_day(hall, stationary, plan.services, plan.hours, plan.windows)
    hour_index = {h.hour: i for i, h in enumerate(plan.hours)}
    shares: dict[tuple[str, int], list[float]] = {}
    over = tickets = 0
    daily: list[float] = []
    for seed in NEW_SEEDS:
        waits = waits_by_hour([simulate_day(cfg, scenario, seed)], hour_index)
        day_over = day_tickets = 0
        for cell, ws in waits.items():
            late = sum(1 for w in ws if w > TARGET)
            shares.setdefault(cell, []).append(late / len(ws))
            day_over, day_tickets = day_over + late, day_tickets + len(ws)
        daily.append(day_over / day_tickets)
        over, tickets = over + day_over, tickets + day_tickets

    def tolerance(values: list[float]) -> float:
        # The plan's check had its own error (10 days), the new days theirs (30).
        sd = statistics.stdev(values)
        return 4 * sd * math.sqrt(1 / len(PLANNING_SEEDS) + 1 / len(values))

    for cell, values in shares.items():
        assert statistics.fmean(values) <= 0.10 + tolerance(values), cell
    assert over / tickets <= 0.10 + tolerance(daily)


def test_a_too_tight_target_reports_unmet_cells(hall: HallConfig, stationary: Scenario) -> None:
    tight = make_plan(hall, stationary, PlanOptions(0.5, seeds=(1, 2), rounds=3, max_windows=5))
    assert not tight.met
    alpha = [u for u in tight.unmet if u.service == "alpha"]
    assert alpha and all("the most allowed" in u.reason for u in alpha)
    assert all(tight.windows[("alpha", i)] == 5 for i in range(4))
    out_of_rounds = make_plan(hall, stationary, PlanOptions(0.5, seeds=(1,), rounds=1))
    assert out_of_rounds.unmet and all("rounds ran out" in u.reason for u in out_of_rounds.unmet)


def test_windows_follow_the_plan_hour_by_hour() -> None:
    hours = [
        PlanHour(8, ((520, 540),)),
        PlanHour(9, ((540, 600),)),
        PlanHour(10, ((600, 660),)),
        PlanHour(13, ((790, 840),)),
    ]
    plan = {("alpha", 0): 1, ("alpha", 1): 2, ("alpha", 3): 1, ("beta", 2): 1}
    layout = window_shifts(["alpha", "beta"], hours, plan, overtime_minutes=20)
    assert layout == [
        ("alpha", [(520, 600), (790, 860)]),  # the last hour's window keeps the overtime
        ("alpha", [(540, 600)]),
        ("beta", [(600, 680)]),
    ]
    cfg = plan_hall(parse_config(PLAN_HALL_TOML, "hall.toml"), layout)
    assert [(w.number, w.tiers) for w in cfg.windows] == [
        (1, [["alpha"]]),
        (2, [["alpha"]]),
        (3, [["beta"]]),
    ]


def _files(tmp_path: Path) -> Path:
    (tmp_path / "hall.toml").write_text(PLAN_HALL_TOML, encoding="utf-8")
    scenario = tmp_path / "day.toml"
    scenario.write_text(STATIONARY, encoding="utf-8")
    return scenario


def test_cli_writes_the_plan_as_json_and_a_picture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = _files(tmp_path)
    out, png = tmp_path / "plan.json", tmp_path / "plan.png"
    args = ["simulate", "--plan", "--target-p90", "10", "--scenario", str(scenario)]
    args += ["--seed", "5", "--seeds", "2", "--rounds", "2", "--json", str(out), "--plot", str(png)]
    assert main(args) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["target_p90_minutes"] == 10 and data["seeds"] == [5, 6]
    assert data["services"] == ["alpha", "beta"] and len(data["hours"]) == 4
    assert data["total"] == [data["plan"]["alpha"][i] + data["plan"]["beta"][i] for i in range(4)]
    assert data["rounds"] == len(data["checks"]) <= 2
    assert data["result"]["plan"] == data["plan"]
    assert data["confirmation"]["seeds"] == [7, 8]
    assert data["first_guess"] == {"alpha": [6] * 4, "beta": [5] * 4}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "window-hours" in printed and "p90" in printed and "alpha" in printed


def test_cli_flags_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = str(_files(tmp_path))
    assert main(["simulate", "--scenario", scenario, "--plan"]) == 2
    assert "--plan needs --target-p90" in capsys.readouterr().err
    assert main(["simulate", "--scenario", scenario, "--target-p90", "20"]) == 2
    assert "--target-p90 only go with --plan" in capsys.readouterr().err
    for bad, words in (
        ("--target-p90=-5", "above 0 minutes"),
        ("--target-p90=0", "above 0 minutes"),
        ("--target-p90=soon", "not a number of minutes"),
        ("--seeds=0", "give 1 or more"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["simulate", "--scenario", scenario, "--plan", bad])
        assert exit_.value.code == 2
        assert words in capsys.readouterr().err
