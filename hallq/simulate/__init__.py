"""The hall simulator (issue 7): a discrete-event simulation of a business day that drives the
real engine through its commands, on a simulated clock. docs/SIMULATION.md describes it.

`simulate_day(cfg, scenario, seed)` plays a day and returns its records (`DayResult`);
`simulate_days(cfg, scenario, seeds, learn_days)` plays days in a row, each learning from the last;
`metrics(result)` gives the figures the JSON output holds.
"""

from hallq.simulate.day import HallDay, simulate_day, simulate_days
from hallq.simulate.metrics import metrics
from hallq.simulate.records import DayResult, TicketRecord
from hallq.simulate.scenario import Scenario, ScenarioError
from hallq.simulate.scenario_file import parse_scenario, read_scenario

__all__ = [
    "DayResult",
    "HallDay",
    "Scenario",
    "ScenarioError",
    "TicketRecord",
    "metrics",
    "parse_scenario",
    "read_scenario",
    "simulate_day",
    "simulate_days",
]
