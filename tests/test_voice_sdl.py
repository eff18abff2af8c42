"""The SDL output (pygame.mixer), on SDL's dummy audio driver: no sound card needed."""

from __future__ import annotations

import time

import pytest

from hallq.drivers.voice import Announcement, OutputError, SdlOutput

RATE = 22050


def tone(seconds: float) -> Announcement:
    samples = int(seconds * RATE)
    pcm = b"".join(
        ((i % 50) * 400 - 10000).to_bytes(2, "little", signed=True) for i in range(samples)
    )
    return Announcement(kind="call", text="请A零零一号", clips=["tone"], pcm=pcm, rate=RATE)


async def test_sdl_plays_each_announcement_to_its_end(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    output = SdlOutput()
    try:
        started = time.monotonic()
        await output.play(tone(0.3))
        await output.play(tone(0.2))
        assert time.monotonic() - started >= 0.4  # not cut off: each played to its end
    finally:
        await output.close()


async def test_no_sound_card_is_an_output_error_staff_can_act_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SDL_AUDIODRIVER", "no-such-driver")
    output = SdlOutput()
    with pytest.raises(OutputError) as err:
        await output.play(tone(0.1))
    assert "声卡" in err.value.reason
    await output.close()
