"""The caller voice: number reading, templates, voice packs, rendering and the driver's queue."""

from __future__ import annotations

import asyncio
import shutil
import stat
import time
import wave
from pathlib import Path

import pytest

from hallq.cli import main
from hallq.drivers.voice import (
    BREAK,
    GAP,
    PAUSE,
    SILENCES,
    Announcement,
    AplayOutput,
    CallerVoice,
    OutputError,
    SimulatedOutput,
    TemplateError,
    announcement,
    aplay_error,
    cardinal,
    parse_quiet_hours,
    render,
    spoken_text,
    ticket_clips,
)
from hallq.drivers.voicepack import (
    LETTERS,
    VoicePack,
    VoicePackError,
    build_pack,
    chime,
    clip_specs,
    load_pack,
    peak,
    write_wav,
)
from hallq.hall.events import Record, TicketCalled, TicketRecalled
from tests.conftest import SHANGHAI, at

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(
    not HAVE_ESPEAK, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)

ZH_A012_W5 = [
    "word-please",
    "letter-a",
    "digit-0",
    "digit-1",
    "digit-2",
    "word-number",
    "word-to",
    "num-5",
    "word-number",
    "word-window",
    "word-handle",
]


@pytest.fixture(scope="session")
def packs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A pack per language, built once per session with espeak-ng."""
    if not HAVE_ESPEAK:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    root = tmp_path_factory.mktemp("voicepacks")
    return {lang: build_pack(root / lang, lang) for lang in ("zh", "yue", "en")}


def tone_pack(rate: int = 8000, seconds: float = 0.02) -> VoicePack:
    """A pack of short tones with every zh clip name: the driver's tests need no espeak-ng."""
    tone = chime(rate, tones=(440.0,), each=seconds)
    clips = {spec.name: tone for spec in clip_specs("zh")}
    texts = {spec.name: spec.text for spec in clip_specs("zh")}
    clips["chime"], texts["chime"] = chime(rate, each=seconds), "（提示音）"
    return VoicePack("zh", rate, clips, texts, voice="cmn-latn-pinyin")


def called(seq: int, display: str, window: int) -> Record:
    event = TicketCalled(ticket=seq, display=display, service="police", window=window)
    return Record(seq=seq, ts=0.0, event=event)


def recalled(seq: int, display: str, window: int) -> Record:
    return Record(
        seq=seq, ts=0.0, event=TicketRecalled(ticket=1, display=display, window=window, recalls=1)
    )


class FakeOutput:
    """Plays by sleeping `seconds`; notes when each play began and ended; can fail."""

    def __init__(self, seconds: float = 0.03) -> None:
        self.seconds = seconds
        self.played: list[Announcement] = []
        self.spans: list[tuple[float, float]] = []
        self.failing = False

    async def play(self, item: Announcement) -> None:
        if self.failing:
            raise OutputError("aplay 失败：找不到声卡", "aplay failed: no sound card found")
        start = time.monotonic()
        await asyncio.sleep(self.seconds)
        self.played.append(item)
        self.spans.append((start, time.monotonic()))

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------- numbers and templates


def test_ticket_digits_are_read_one_by_one() -> None:
    assert ticket_clips("A012") == ["letter-a", "digit-0", "digit-1", "digit-2"]
    assert ticket_clips("VIP-20") == ["letter-v", "letter-i", "letter-p", "digit-2", "digit-0"]


@pytest.mark.parametrize(
    ("window", "reading"),
    [
        (1, "1"),
        (2, "2"),
        (10, "10"),
        (12, "10 2"),
        (20, "2 10"),
        (99, "9 10 9"),
        (100, "1 100"),
        (105, "1 100 0 5"),
        (110, "1 100 1 10"),
        (999, "9 100 9 10 9"),
    ],
)
def test_windows_are_read_as_cardinal_numbers_in_chinese(window: int, reading: str) -> None:
    expected = [f"num-{p}" for p in reading.split()]
    assert cardinal(window, "zh") == expected
    assert cardinal(window, "yue") == expected


@pytest.mark.parametrize(
    ("window", "reading"),
    [
        (5, "num-5"),
        (10, "num-10"),
        (12, "num-12"),
        (20, "num-20"),
        (21, "num-20 num-1"),
        (100, "num-1 num-100"),
        (105, "num-1 num-100 word-and num-5"),
        (999, "num-9 num-100 word-and num-90 num-9"),
    ],
)
def test_windows_in_english(window: int, reading: str) -> None:
    assert cardinal(window, "en") == reading.split()


def test_window_out_of_range_is_refused() -> None:
    for bad in (0, 1000):
        with pytest.raises(ValueError, match="1-999"):
            cardinal(bad)


def test_clip_lists_for_each_language() -> None:
    assert announcement("A012", 5) == ZH_A012_W5
    assert announcement("A012", 5, "yue") == ZH_A012_W5  # same order: 請A零一二號到五號窗口辦理
    assert announcement("A012", 5, "en") == [
        "word-ticket",
        "letter-a",
        "digit-0",
        "digit-1",
        "digit-2",
        PAUSE,
        "word-please",
        "word-go",
        "word-to",
        "word-window",
        "num-5",
    ]
    assert announcement("B105", 20)[-5:] == [
        "num-2",
        "num-10",
        "word-number",
        "word-window",
        "word-handle",
    ]


def test_templates_are_configurable() -> None:
    short = announcement("A012", 12, "zh", "请{ticket}号，到{window}号窗口")
    assert short == [
        *ZH_A012_W5[:6],
        PAUSE,
        "word-to",
        "num-10",
        "num-2",
        "word-number",
        "word-window",
    ]
    extra = announcement(
        "A012", 3, "zh", "{ticket}号请到{window}号柜台", words={"柜台": "word-counter"}
    )
    assert extra[-1] == "word-counter"
    with pytest.raises(TemplateError, match="柜台"):
        announcement("A012", 3, "zh", "请{ticket}号到{window}号柜台")
    with pytest.raises(TemplateError, match="placeholder"):
        announcement("A012", 3, "zh", "请{number}号")


def test_quiet_hours_are_checked() -> None:
    assert parse_quiet_hours(["12:00-13:30", "22:00-07:00"]) == [(720, 810), (1320, 420)]
    with pytest.raises(ValueError, match="HH:MM"):
        parse_quiet_hours(["noon"])


def test_aplay_errors_are_reasons_staff_can_act_on() -> None:
    e = aplay_error(
        "ALSA lib confmisc.c:855: cannot find card '0'\naplay: main:831: audio open error: No such file or directory"
    )
    assert e.reason == "aplay 失败：找不到声卡，请检查音箱和声卡连接"
    assert "busy" in aplay_error("audio open error: Device or resource busy").reason_en


# ---------------------------------------------------------------- voice packs (espeak-ng)


@needs_espeak
def test_a_pack_holds_every_clip_in_one_format(packs: dict[str, Path]) -> None:
    for lang, folder in packs.items():
        names = {"chime"} | {spec.name for spec in clip_specs(lang)}
        assert {f.stem for f in folder.glob("*.wav")} == names
        for name in names:
            with wave.open(str(folder / f"{name}.wav")) as w:
                assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
                seconds = w.getnframes() / w.getframerate()
            assert 0.1 < seconds < 1.5, f"{lang} {name}: {seconds:.2f} s"
        pack = load_pack(folder)
        assert pack.language == lang and set(pack.clips) == names
        assert pack.texts["word-please" if lang != "en" else "word-ticket"] in (
            "请",
            "請",
            "ticket",
        )
        assert {f"letter-{c.lower()}" for c in LETTERS} <= set(pack.clips)
    zh = load_pack(packs["zh"])
    assert zh.voice == "cmn-latn-pinyin"
    assert zh.texts["digit-2"] == "二" and zh.words()["窗口"] == "word-window"


@needs_espeak
def test_render_joins_clips_with_gaps(
    packs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    for lang in ("zh", "yue", "en"):
        pack = load_pack(packs[lang])
        clips = announcement("A012", 5, lang)
        started = time.perf_counter()
        pcm = render(pack, clips)
        took = time.perf_counter() - started
        spoken = [c for c in clips if c not in SILENCES]
        expected = sum(pack.seconds(c) for c in spoken) + GAP * (len(spoken) - 1)
        expected += sum(SILENCES[c] - GAP for c in clips if c in SILENCES)
        seconds = len(pcm) / 2 / pack.rate
        assert seconds == pytest.approx(expected, abs=0.01)
        with capsys.disabled():
            print(
                f"\n{lang}: {spoken_text(pack, clips)} — {seconds:.2f} s, rendered in {took * 1000:.2f} ms"
            )


@needs_espeak
def test_a_recording_replaces_a_clip_but_another_format_is_refused(
    packs: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "pack"
    shutil.copytree(packs["zh"], folder)
    recording = chime(22050, tones=(300.0,), each=0.4)  # the hall's own 幺 for digit 1
    write_wav(folder / "digit-1.wav", recording, 22050)
    assert load_pack(folder).clips["digit-1"] == recording
    write_wav(folder / "word-window.wav", chime(44100), 44100)
    with pytest.raises(VoicePackError, match=r"word-window\.wav: 44100 Hz.*22050 Hz"):
        load_pack(folder)
    with wave.open(str(folder / "word-window.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(bytes(400))
    with pytest.raises(VoicePackError, match=r"word-window\.wav: .*2 channel"):
        load_pack(folder)
    (folder / "word-window.wav").unlink()
    with pytest.raises(VoicePackError, match=r"word-window\.wav: the clip is missing"):
        load_pack(folder)


@needs_espeak
def test_cli_builds_a_pack(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "yue-pack"
    assert (
        main(["voicepack", "build", "--out", str(out), "--language", "yue", "--speed", "170"]) == 0
    )
    said = capsys.readouterr().out
    assert str(out) in said and "yue" in said
    assert load_pack(out).speed == 170
    assert main(["voicepack", "build", "--out", str(out), "--speed", "5"]) == 1
    assert "speed" in capsys.readouterr().err


def test_a_clear_error_without_espeak(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(VoicePackError, match=r"install espeak-ng \(apt-get install espeak-ng\)"):
        build_pack(tmp_path / "pack")


# ---------------------------------------------------------------- the driver


async def test_a_call_is_a_chime_then_the_phrase_twice() -> None:
    pack, out = tone_pack(), FakeOutput()
    events: list[tuple[str | None, int | None, str]] = []
    voice = CallerVoice("voice", pack, out, on_speaking=lambda t, w, p: events.append((t, w, p)))
    await voice.start()
    voice.offer(called(1, "A012", 5))
    await voice.idle(2)
    (item,) = out.played
    assert item.clips == ["chime", BREAK, *ZH_A012_W5, BREAK, *ZH_A012_W5]
    assert item.text == "请 A 零 一 二 号 到 五 号 窗口 办理" and item.repeats == 2
    assert events == [("A012", 5, "start"), ("A012", 5, "end")]
    assert voice.report.health.status == "ok"
    await voice.stop()


async def test_a_second_call_waits_for_the_first_and_a_recall_speaks_again() -> None:
    out = FakeOutput(seconds=0.1)
    voice = CallerVoice("voice", tone_pack(), out)
    await voice.start()
    voice.offer(called(1, "A012", 5))
    await asyncio.sleep(0.03)  # the first is playing now
    voice.offer(called(2, "B003", 12))
    voice.offer(recalled(3, "A012", 5))
    for seq in range(4, 30):  # a burst: none may be dropped
        voice.offer(called(seq, f"C{seq:03d}", 1))
    await voice.idle(10)
    assert [i.ticket for i in out.played[:3]] == ["A012", "B003", "A012"]
    assert [i.kind for i in out.played[:3]] == ["call", "call", "recall"]
    assert len(out.played) == 29 and voice.report.dropped == 0
    for (_, end), (start, _) in zip(out.spans, out.spans[1:], strict=False):
        assert start >= end  # never two at once: nothing is cut off
    await voice.stop()


async def test_a_full_queue_reports_what_it_dropped() -> None:
    out = FakeOutput(seconds=0.2)
    voice = CallerVoice("voice", tone_pack(), out, queue_size=2)
    await voice.start()
    for seq in range(1, 6):
        voice.offer(called(seq, f"A{seq:03d}", 1))
    assert voice.report.dropped >= 2
    assert voice.report.health.status == "error" and "丢弃" in voice.report.health.reason
    await voice.stop()


async def test_quiet_hours_play_only_the_chime_or_nothing() -> None:
    noon = at(2026, 11, 23, 12, 30)
    out = FakeOutput(seconds=0)
    voice = CallerVoice(
        "voice", tone_pack(), out, quiet_hours=["12:00-13:30"], zone=SHANGHAI, clock=lambda: noon
    )
    assert voice.is_quiet() and not voice.is_quiet(at(2026, 11, 23, 13, 30))
    await voice.start()
    voice.offer(called(1, "A012", 5))
    assert voice.broadcast("失物招领")  # held back in quiet hours
    await voice.idle(2)
    (item,) = out.played
    assert item.clips == ["chime"] and item.quiet
    voice.quiet_mode = "silent"
    voice.offer(called(2, "A013", 5))
    await voice.idle(2)
    assert len(out.played) == 1
    await voice.stop()


async def test_volume_scales_the_samples() -> None:
    out = FakeOutput(seconds=0)
    voice = CallerVoice("voice", tone_pack(), out)
    await voice.start()
    voice.offer(called(1, "A012", 5))
    await voice.idle(2)
    voice.set_volume(50)
    voice.offer(called(2, "A012", 5))
    await voice.idle(2)
    full, half = (peak(i.pcm) for i in out.played)
    assert half == pytest.approx(full / 2, abs=2)
    voice.set_volume(0)
    voice.offer(called(3, "A012", 5))
    await voice.idle(2)
    assert peak(out.played[-1].pcm) == 0
    await voice.stop()


async def test_a_failing_output_reports_error_then_recovers() -> None:
    out = FakeOutput(seconds=0)
    voice = CallerVoice("voice", tone_pack(), out, retry_delay=0.01)
    statuses: list[tuple[str, str]] = []
    voice.on_health(lambda r: statuses.append((r.health.status, r.health.reason)))
    await voice.start()
    out.failing = True
    voice.offer(called(1, "A012", 5))
    await voice.idle(2)
    assert statuses[-1] == ("error", "aplay 失败：找不到声卡")
    out.failing = False
    voice.offer(called(2, "A013", 5))
    await voice.idle(2)
    assert statuses[-1] == ("ok", "") and [i.ticket for i in out.played] == ["A013"]
    await voice.stop()


async def test_a_bad_template_is_refused_at_once() -> None:
    with pytest.raises(TemplateError):
        CallerVoice("voice", tone_pack(), FakeOutput(), template="请{ticket}号到{window}号柜台")


async def test_aplay_gets_raw_pcm_and_its_failure_is_reported(tmp_path: Path) -> None:
    got = tmp_path / "got.raw"
    ok = tmp_path / "aplay-ok"
    ok.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {got}\n')
    bad = tmp_path / "aplay-bad"
    bad.write_text(
        "#!/bin/sh\ncat > /dev/null\necho 'aplay: main:831: audio open error: No such file or directory' >&2\nexit 1\n"
    )
    for f in (ok, bad):
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    item = Announcement("call", "x", ["chime"], chime(8000, each=0.05), 8000, "A012", 5)
    await AplayOutput(aplay=str(ok), device="plughw:1").play(item)
    assert got.read_bytes() == item.pcm
    assert "-f S16_LE -c 1 -r 8000 -D plughw:1" in (tmp_path / "args").read_text()
    with pytest.raises(OutputError) as failed:
        await AplayOutput(aplay=str(bad)).play(item)
    assert "找不到声卡" in failed.value.reason
    with pytest.raises(OutputError) as missing:
        await AplayOutput(aplay=str(tmp_path / "no-such-aplay")).play(item)
    assert "alsa-utils" in missing.value.reason


@needs_espeak
async def test_the_simulator_writes_wav_files_and_a_log(
    packs: dict[str, Path], tmp_path: Path
) -> None:
    pack = load_pack(packs["zh"])
    out = SimulatedOutput(tmp_path / "voice", zone=SHANGHAI, clock=lambda: at(2026, 11, 23, 9, 30))
    voice = CallerVoice("voice", pack, out)
    await voice.start()
    voice.offer(called(1, "A012", 5))
    assert voice.broadcast("失物招领：请丢失钱包的市民到服务台领取")
    voice.offer(called(2, "B105", 12))
    await voice.idle(10)
    await voice.stop()
    assert [i.kind for i in out.played] == ["call", "broadcast", "call"]
    wavs = sorted((tmp_path / "voice").glob("*.wav"))
    assert len(wavs) == 3
    for path, item in zip(wavs, out.played, strict=True):
        with wave.open(str(path)) as w:
            assert w.getframerate() == 22050
            assert w.getnframes() / 22050 == pytest.approx(item.seconds)
    lines = out.log_path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(
        "2026-11-23 09:30:00\tcall\t请 A 零 一 二 号 到 五 号 窗口 办理 ×2\tchime _break"
    )
    assert "失物招领" in lines[1] and "请 B 一 零 五 号 到 十 二 号 窗口 办理" in lines[2]
    call_seconds = out.played[0].seconds
    assert 6 < call_seconds < 16  # a chime and two phrases
    print(
        f"\nzh call A012 → window 5: {call_seconds:.2f} s; broadcast {out.played[1].seconds:.2f} s"
    )
