"""Changing a running hall's configuration: what may change while tickets are live.

A service or window can be renamed, retimed or disabled at any moment; it can only be
removed once nothing live depends on it, because a waiting citizen's ticket must never
point at a service or window that no longer exists.
"""

from __future__ import annotations

import hashlib
import tomllib

import msgspec

from hallq.hall.config import HallConfig
from hallq.hall.state import HallState

LIVE = ("waiting", "called", "serving")


def config_digest(cfg: HallConfig) -> str:
    """A short fingerprint of a configuration's content (not of its text or comments)."""
    # Sorted keys: the same tables written in another order are the same configuration.
    return hashlib.sha256(_canonical(cfg)).hexdigest()[:16]


def _canonical(value: object) -> bytes:
    return msgspec.json.encode(msgspec.to_builtins(value), order="sorted")


def changed_sections(old: HallConfig, new: HallConfig) -> list[str]:
    """The top-level sections that differ, e.g. ["notices", "services"]."""
    return [
        name
        for name in old.__struct_fields__
        if _canonical(getattr(old, name)) != _canonical(getattr(new, name))
    ]


def conflicts(new: HallConfig, state: HallState) -> list[str]:
    """Why `new` cannot replace the running configuration now (empty: it can)."""
    problems: list[str] = []
    services = {s.code for s in new.services}
    windows = {w.number for w in new.windows}
    categories = {p.code for p in new.priority}
    live: dict[str, int] = {}
    for t in state.tickets.values():
        if t.status in LIVE:
            live[t.service] = live.get(t.service, 0) + 1
            if t.category and t.category not in categories:
                problems.append(
                    f"优先类别 {t.category} 仍有号票 {t.display} / priority class "
                    f"{t.category!r} still has ticket {t.display}; keep it until the ticket is served"
                )
    for code, n in sorted(live.items()):
        if code not in services:
            problems.append(
                f"业务 {code} 还有 {n} 张号票未办结，可先停用 (enabled = false) / service "
                f"{code!r} still has {n} live tickets: disable it instead (enabled = false) "
                "and remove it once they are served"
            )
    for a in state.appointments.values():
        if a.service not in services and a.ticket is None:
            problems.append(
                f"业务 {a.service} 还有预约 {a.code} / service {a.service!r} still has "
                f"appointment {a.code}; cancel it first"
            )
    for ws in sorted(state.windows.values(), key=lambda w: w.number):
        if ws.number not in windows and (ws.ticket is not None or ws.status != "closed"):
            problems.append(
                f"{ws.number}号窗口仍在使用中，请先签退 / window {ws.number} is in use: "
                "sign out there before removing it"
            )
    return problems


def config_from_log(text: str) -> HallConfig | None:
    """A configuration stored in the log, read without today's checks (they may be stricter
    than those of the version that stored it; replay must never fail on that)."""
    try:
        return msgspec.convert(tomllib.loads(text), HallConfig, strict=True)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError):
        return None
