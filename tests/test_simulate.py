"""The hall simulator (hallq/simulate): reproducible days that drive the real engine.

The statistical checks use seeded runs and tolerances of four standard errors, the standard
errors measured from the runs themselves (independent days) or from the binomial model.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from hallq.cli import main
from hallq.hall import commands as c
from hallq.hall import events as e
from hallq.hall.config import HallConfig, load_config, parse_config
from hallq.simulate import HallDay, ScenarioError, metrics, parse_scenario, simulate_day
from hallq.simulate.arrivals import midnight
from hallq.simulate.hall_fit import check_against_hall
from hallq.simulate.metrics import to_json
from hallq.simulate.report import SimulateOptions, load
from tests.conftest import SMALL_HALL_TOML

SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios"
DISTRICT = SCENARIOS / "district-two-peaks.toml"
TOWNSHIP = SCENARIOS / "township-quiet.toml"


@pytest.fixture(scope="module")
def small() -> HallConfig:
    return parse_config(SMALL_HALL_TOML, "small-hall.toml")


@pytest.fixture(scope="module")
def mms_hall() -> HallConfig:
    return load_config(SCENARIOS / "mms-hall.toml")


# A busy day at the small test hall (4 windows, 3 services, quotas on beta): every kind of
# citizen and every outcome, and no overtime, so some tickets are still waiting at closing.
BUSY_SMALL = """
name = "busy small hall"
date = "2026-11-23"

[arrivals]
profile = [
    { from = "08:20", to = "11:40", per_hour = 30 },
    { from = "13:10", to = "16:40", per_hour = 34 },
]

[services.alpha]
share = 5
[services.beta]
share = 3
minutes = { distribution = "exponential", mean = 6 }
[services.gamma]
share = 2
minutes = { mean = 15, cv = 0.8 }

[citizens]
green_share = 0.1
no_show_share = 0.08
walk_up_seconds = { mean = 30, cv = 0.8 }
patience_minutes = { distribution = "exponential", mean = 100 }
evaluation_share = 0.7

[appointments]
count = 8
services = { alpha = 1, gamma = 1 }

[staffing]
away = { per_hour = 0.5, minutes = { mean = 5 } }

[[staffing.windows]]
windows = [4]
shifts = ["09:00-11:50", "13:10-15:30"]
away_at = [{ at = "10:00", minutes = 20 }]
"""


@pytest.mark.parametrize("name", ["township-quiet", "district-two-peaks", "city-monday", "mms"])
def test_shipped_scenarios_fit_their_halls(name: str) -> None:
    cfg, scenario = load(SimulateOptions(scenario=SCENARIOS / f"{name}.toml"))
    assert check_against_hall(cfg, scenario) == []


def test_same_seed_same_json_and_another_seed_differs() -> None:
    cfg, scenario = load(SimulateOptions(scenario=DISTRICT))
    first = to_json(metrics(simulate_day(cfg, scenario, 7)))
    again = to_json(metrics(simulate_day(cfg, scenario, 7)))
    other = to_json(metrics(simulate_day(cfg, scenario, 8)))
    assert first == again
    assert first != other


def test_every_ticket_ends_and_the_engine_agrees(small: HallConfig) -> None:
    day = HallDay(small, parse_scenario(BUSY_SMALL), seed=3)
    result = day.run()
    outcomes = {r.ticket: r.outcome for r in result.tickets}
    assert set(outcomes.values()) == {"served", "no_show", "abandoned", "expired"}
    assert result.rejected == {}  # the simulation never asked the engine for the impossible
    assert result.turned_away  # beta's quota and the cutoff turn some away at the kiosk
    state = day.engine.state
    assert set(state.tickets) == set(outcomes)
    engine_word = {"served": "done", "no_show": "no_show", "abandoned": "cancelled"}
    for ticket, outcome in outcomes.items():
        assert state.tickets[ticket].status == engine_word.get(outcome, "waiting")
    assert any(r.category == "green" for r in result.tickets)
    assert any(r.appointment for r in result.tickets)
    assert any(r.evaluation for r in result.tickets)
    assert all(w.status == "closed" for w in state.windows.values())  # all signed out
    # The next day's start expires exactly the tickets the simulation calls expired.
    tomorrow = midnight(small, parse_scenario(BUSY_SMALL).day) + 86400 + 60
    out = day.engine.execute(c.Tick(request_id="tick"), tomorrow)
    started = [r.event for r in out.records if isinstance(r.event, e.DayStarted)]
    assert sorted(started[0].expired) == sorted(t for t, o in outcomes.items() if o == "expired")
    counts = metrics(result)["tickets"]
    assert counts["issued"] == len(outcomes)
    parts = ("served", "no_show", "abandoned", "expired")
    assert sum(counts[k] for k in parts) == counts["issued"]


def _erlang_c(s: int, a: float) -> float:
    """The probability that an arrival waits in M/M/s with offered load a = λ/μ."""
    term = total = 1.0
    for k in range(1, s):
        term *= a / k
        total += term
    tail = term * a / s * s / (s - a)
    return tail / (total + tail)


def _mms(windows: int, per_hour: float, minutes: float) -> str:
    closed = list(range(windows + 1, 11))
    return f"""
name = "M/M/{windows}"
date = "2026-11-23"
warm_up_minutes = 60
[arrivals]
profile = [{{ from = "00:00", to = "23:00", per_hour = {per_hour} }}]
[services.single]
share = 1
minutes = {{ distribution = "exponential", mean = {minutes} }}
[citizens]
walk_up_seconds = {{ distribution = "deterministic", mean = 0 }}
evaluation_share = 0
[staffing]
shifts = ["00:00-23:00"]
overtime_minutes = 55
[[staffing.windows]]
windows = {closed}
shifts = []
"""


def test_mms_mean_wait_matches_erlang_c(mms_hall: HallConfig) -> None:
    s, per_hour, minutes, days = 4, 42.0, 4.0, 40  # ρ = 0.7
    lam, mu = per_hour / 60, 1 / minutes
    waits_prob = _erlang_c(s, lam / mu)
    mean_wait = waits_prob / (s * mu - lam)  # 1.43 minutes
    scenario = parse_scenario(_mms(s, per_hour, minutes))
    day_means, day_waited = [], []
    for seed in range(1, days + 1):
        result = simulate_day(mms_hall, scenario, seed)
        waits = [r.wait_minutes for r in result.measured if r.wait_minutes is not None]
        assert len(waits) == len(result.measured)  # everyone is called: nothing censored
        day_means.append(statistics.fmean(waits))
        day_waited.append(sum(w > 0 for w in waits) / len(waits))
    # One day's mean wait varies by about 40% at this load: the days are the samples.
    mean, se = statistics.fmean(day_means), statistics.stdev(day_means) / math.sqrt(days)
    assert se < 0.1 * mean_wait, "too few days to test anything"
    assert abs(mean - mean_wait) < 4 * se, (mean, mean_wait, se)
    share, se_share = statistics.fmean(day_waited), statistics.stdev(day_waited) / math.sqrt(days)
    assert abs(share - waits_prob) < 4 * se_share, (share, waits_prob, se_share)


def test_no_shows_happen_at_their_rate_after_the_recalls(small: HallConfig) -> None:
    scenario = parse_scenario(
        """
name = "no-shows"
date = "2026-11-23"
[arrivals]
profile = [{ from = "08:40", to = "16:20", per_hour = 40 }]
[services.alpha]
share = 1
minutes = { mean = 3 }
[citizens]
no_show_share = 0.25
walk_up_seconds = { distribution = "deterministic", mean = 10 }
[staffing]
overtime_minutes = 60
"""
    )
    day = HallDay(small, scenario, seed=5)
    result = day.run()
    called = [r for r in result.tickets if r.first_called_at is not None]
    missed = [r for r in called if r.outcome == "no_show"]
    n, p = len(called), 0.25
    assert n > 200
    assert abs(len(missed) / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    needed = small.no_show.recalls_before_no_show
    assert all(day.engine.state.tickets[r.ticket].recalls >= needed for r in missed)


def test_citizens_give_up_at_the_rate_their_patience_says(small: HallConfig) -> None:
    # Nobody is staffed: every ticket waits until its holder gives up or the hall closes, so
    # with exponential patience of mean m each gives up with chance 1 - exp(-open time / m).
    scenario = parse_scenario(
        """
name = "nobody at the windows"
date = "2026-11-23"
[arrivals]
profile = [{ from = "08:40", to = "16:30", per_hour = 30 }]
[services.alpha]
share = 1
[citizens]
patience_minutes = { distribution = "exponential", mean = 60 }
[staffing]
shifts = []
"""
    )
    result = simulate_day(small, scenario, seed=11)
    closing = midnight(small, scenario.day) + (16 * 60 + 50) * 60
    chances = [1 - math.exp(-(closing - r.issued_at) / 3600) for r in result.tickets]
    expected = sum(chances)
    sd = math.sqrt(sum(q * (1 - q) for q in chances))
    gave_up = sum(r.outcome == "abandoned" for r in result.tickets)
    assert len(result.tickets) > 150
    assert abs(gave_up - expected) < 4 * sd, (gave_up, expected, sd)
    assert {r.outcome for r in result.tickets} == {"abandoned", "expired"}


def test_away_episodes_reduce_throughput(small: HallConfig) -> None:
    busy = BUSY_SMALL.replace("patience_minutes", "# patience_minutes")
    present = parse_scenario(busy.replace("per_hour = 0.5,", "per_hour = 0,"))
    away = parse_scenario(
        busy.replace(
            "per_hour = 0.5, minutes = { mean = 5 }", "per_hour = 2, minutes = { mean = 12 }"
        )
    )
    full, less = simulate_day(small, present, 4), simulate_day(small, away, 4)
    served = [sum(r.outcome == "served" for r in day.tickets) for day in (full, less)]
    assert served[1] < served[0] * 0.85
    assert sum(w.away_episodes for w in less.windows) > 20
    assert sum(w.away_seconds for w in less.windows) > sum(w.away_seconds for w in full.windows)
    # The same citizens came both days (the staff draw from their own random stream).
    assert [r.arrived_at for r in full.tickets][:50] == [r.arrived_at for r in less.tickets][:50]


def _error(text: str) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "day.toml")
    return str(caught.value)


MINIMAL = """name = "x"
date = "2026-11-23"
[arrivals]
profile = [{ from = "09:00", to = "10:00", per_hour = 10 }]
[services.alpha]
share = 1
"""


def test_scenario_errors_name_the_line_and_the_field(small: HallConfig) -> None:
    assert (
        "day.toml:8: citizens.green_shar: unknown setting (misspelt?); allowed: green_share"
        in _error(MINIMAL + "[citizens]\ngreen_shar = 0.1\n")
    )
    assert "arrivals.profile[0].per_hour: expected a number, got text" in _error(
        MINIMAL.replace("per_hour = 10", 'per_hour = "ten"')
    )
    assert "day.toml:6: services.alpha.share: must be 0 or more" in _error(
        MINIMAL.replace("share = 1", "share = -1")
    )
    assert 'services.alpha.minutes.distribution: use "lognormal", "exponential"' in _error(
        MINIMAL + 'minutes = { distribution = "normal", mean = 5 }\n'
    )
    assert "day.toml:2: date: write the day" in _error(MINIMAL.replace("2026-11-23", "23/11/2026"))
    assert "staffing.shifts[0]:" in _error(MINIMAL + '[staffing]\nshifts = ["9-12"]\n')
    assert "appointments: give either count" in _error(
        MINIMAL + "[appointments]\nslot_minutes = 30\n"
    )
    # What only the hall can say: checked against the small hall.
    bad = parse_scenario(
        MINIMAL.replace("2026-11-23", "2026-11-28")
        + "[services.delta]\nshare = 1\n[[staffing.windows]]\nwindows = [9]\n"
    )
    found = dict(check_against_hall(small, bad))
    assert "is closed on 2026-11-28" in found["date"]
    assert 'no service "delta"' in found["services.delta"]
    assert "no window 9" in found["staffing.windows[0].windows"]
    with pytest.raises(ScenarioError, match=r"services\.delta"):
        simulate_day(small, bad)


def test_cli_writes_json_and_a_picture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "day.json", tmp_path / "day.png"
    code = main(
        [
            "simulate",
            "--scenario",
            str(TOWNSHIP),
            "--seed",
            "3",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["seed"] == 3 and data["tickets"]["issued"] > 30
    assert data["tickets"]["issued"] == sum(
        data["tickets"][k] for k in ("served", "no_show", "abandoned", "expired")
    )
    assert {"tickets", "delayed", "mean_wait_minutes", "hallq", "ql", "les", "p90"} <= set(
        data["accuracy"]
    )
    assert len(data["queue"]["waiting"]) == len(data["queue"]["at"]) > 400
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "issued" in printed and "RRMSE" in printed


def test_cli_names_a_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        MINIMAL.replace('name = "x"', 'name = "x"\nhall = "nowhere.toml"'), encoding="utf-8"
    )
    assert main(["simulate", "--scenario", str(bad)]) == 2
    assert "nowhere.toml: no such file" in capsys.readouterr().err
    assert main(["simulate", "--scenario", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: no such file" in capsys.readouterr().err


def test_days_in_a_row_carry_what_the_hall_learned(tmp_path: Path) -> None:
    """`--learn-days`: the measured day's engine starts knowing the days before (their
    staffing over the day, the P90's scale); without it, a day starts knowing nothing."""
    from hallq.simulate import simulate_days

    cfg, scenario = load(SimulateOptions(scenario=TOWNSHIP))
    first = HallDay(cfg, scenario, 1)
    first.run()
    learned = first.close()
    assert learned.staffing.days == 1 and learned.hall_pace.p90_checks > 0
    second = HallDay(cfg, scenario, 2, learned)
    assert second.engine.state.staffing.days == 1
    assert second.engine.state.hall_pace.p90_scale == learned.hall_pace.p90_scale
    assert not second.engine.state.tickets and second.engine.state.day is None
    assert HallDay(cfg, scenario, 2).engine.state.staffing.days == 0

    played = list(simulate_days(cfg, scenario, [7, 8, 9], learn_days=2))
    assert [r.seed for r in played] == [9]
    assert to_json(metrics(played[0])) != to_json(metrics(simulate_day(cfg, scenario, 9)))

    out = tmp_path / "days.json"
    args = ["simulate", "--scenario", str(TOWNSHIP), "--days", "2", "--learn-days", "1"]
    assert main([*args, "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["seeds"] == [1, 2] and data["learn_days"] == 1 and len(data["days"]) == 2
    with pytest.raises(SystemExit) as refused:
        main(["simulate", "--scenario", str(TOWNSHIP), "--learn-days", "-1"])
    assert refused.value.code == 2
