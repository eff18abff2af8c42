"""The caller voice (叫号语音): a chime, then 「请A零一二号到五号窗口办理」, twice.

One announcement queue per voice: every call, recall and broadcast is played whole, in the
order it came, each playback awaited to its end, so the next call never cuts one off and
none is skipped (`keeps_every_event = True`, a queue of 1000). A call is turned into clip
names (`announcement`) and joined from the voice pack in memory (`render`), so the first
sample reaches the output within milliseconds; free-text broadcasts are spoken by espeak-ng
at run time. Playback is a small protocol: `AplayOutput` (ALSA's aplay, package alsa-utils)
on a Pi, `SimulatedOutput` (WAV files and announcements.log) in the demo hall and the tests.
See docs/VOICE.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Literal, Protocol

from hallq.drivers.base import Driver, Health
from hallq.drivers.voicepack import (
    SAMPLE_WIDTH,
    VoicePack,
    VoicePackError,
    scale,
    silence,
    synthesize,
    trim_silence,
    write_wav,
)
from hallq.hall.events import Record, TicketCalled, TicketRecalled

log = logging.getLogger("hallq.drivers.voice")

PAUSE = "_pause"  # a comma in a template
BREAK = "_break"  # after the chime and between repeats
GAP = 0.05  # seconds between two spoken clips
SILENCES = {PAUSE: 0.25, BREAK: 0.6}

DEFAULT_TEMPLATES = {
    "zh": "请{ticket}号到{window}号窗口办理",
    "yue": "請{ticket}號到{window}號窗口辦理",
    "en": "Ticket {ticket}, please go to window {window}",
}

# Template text → clip name, built in; a pack's manifest can add more (VoicePack.words).
WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "请": "word-please",
        "號": "word-number",
        "号": "word-number",
        "到": "word-to",
        "窗口": "word-window",
        "办理": "word-handle",
    },
    "yue": {
        "請": "word-please",
        "请": "word-please",
        "號": "word-number",
        "号": "word-number",
        "到": "word-to",
        "窗口": "word-window",
        "辦理": "word-handle",
        "办理": "word-handle",
    },
    "en": {w: f"word-{w}" for w in ("ticket", "please", "go", "to", "window", "number", "and")},
}

_PUNCTUATION = set(",.;:!?，。；：！？、…")
_PLACEHOLDER = re.compile(r"\{(\w*)\}")


class TemplateError(ValueError):
    """A template that names an unknown placeholder or says a word no clip holds."""


# ---------------------------------------------------------------- numbers and templates


def ticket_clips(display: str) -> list[str]:
    """A ticket read as written: letters by name, digits one by one (A012 → A 零 一 二)."""
    out: list[str] = []
    for ch in display:
        if ch.isascii() and ch.isalpha():
            out.append(f"letter-{ch.lower()}")
        elif ch.isascii() and ch.isdigit():
            out.append(f"digit-{ch}")
    return out


def cardinal(n: int, language: str = "zh") -> list[str]:
    """A window number as a number (12 → 十二, 20 → 二十, 105 → 一百零五), 1-999."""
    if not 1 <= n <= 999:
        raise ValueError(f"window {n}: the voice reads windows 1-999")
    if language == "en":
        return _cardinal_en(n)
    hundreds, tens, ones = n // 100, n // 10 % 10, n % 10
    out: list[str] = []
    if hundreds:
        out += [f"num-{hundreds}", "num-100"]
        if tens == 0 and ones:
            out.append("num-0")  # 一百零五
    if tens:
        if tens > 1 or hundreds:  # 十二, but 一百一十二
            out.append(f"num-{tens}")
        out.append("num-10")
    if ones:
        out.append(f"num-{ones}")
    return out


def _cardinal_en(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    out: list[str] = []
    if hundreds:
        out += [f"num-{hundreds}", "num-100"]
        if rest:
            out.append("word-and")
    if rest >= 20:
        out.append(f"num-{rest // 10 * 10}")
        if rest % 10:
            out.append(f"num-{rest % 10}")
    elif rest:
        out.append(f"num-{rest}")
    return out


def _words_in(text: str, words: Mapping[str, str]) -> list[str]:
    """Literal template text as clip names: the longest known word at each place."""
    out: list[str] = []
    lowered = text.lower()
    keys = sorted(words, key=len, reverse=True)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _PUNCTUATION:
            if not out or out[-1] != PAUSE:
                out.append(PAUSE)
            i += 1
            continue
        for key in keys:
            k = key.lower()
            end = i + len(k)
            if lowered.startswith(k, i) and not (
                k[-1].isascii() and k[-1].isalnum() and end < len(text) and text[end].isalnum()
            ):
                out.append(words[key])
                i = end
                break
        else:
            rest = text[i:].split()[0] if text[i:].split() else text[i:]
            raise TemplateError(
                f"no clip says {rest!r}; use the pack's words ({'、'.join(sorted(words))}) "
                "or add a clip for it to pack.toml"
            )
    return out


def announcement(
    ticket_display: str,
    window: int,
    language: str = "zh",
    template: str | None = None,
    words: Mapping[str, str] | None = None,
) -> list[str]:
    """The clip names for one call: 「请 A 零 一 二 号 到 五 号 窗口 办理」.

    `template` holds `{ticket}` and `{window}`; the text around them is made of words the pack
    has clips for (the built-in ones for the language, plus `words`: text → clip name).
    """
    if template is None:
        try:
            template = DEFAULT_TEMPLATES[language]
        except KeyError:
            raise TemplateError(f"no template for language {language!r}") from None
    known = {**WORDS.get(language, {}), **(words or {})}
    out: list[str] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        out += _words_in(template[pos : m.start()], known)
        if m.group(1) == "ticket":
            out += ticket_clips(ticket_display)
        elif m.group(1) == "window":
            out += cardinal(window, language)
        else:
            raise TemplateError(
                f"template {template!r}: unknown placeholder {m.group(0)}; use {{ticket}} and {{window}}"
            )
        pos = m.end()
    out += _words_in(template[pos:], known)
    # a pause neither starts nor ends the phrase, and two in a row are one
    return [
        c for i, c in enumerate(out) if c != PAUSE or (0 < i < len(out) - 1 and out[i + 1] != PAUSE)
    ]


def check_template(template: str, language: str, words: Mapping[str, str] | None = None) -> None:
    """Raise TemplateError if the template cannot be said (for a configuration check)."""
    announcement("A001", 1, language, template, words)


def spoken_text(pack: VoicePack, clips: Iterable[str]) -> str:
    """What the clips say, for logs: 「请 A 零 一 二 号 到 五 号 窗口 办理」."""
    parts: list[str] = []
    for name in clips:
        if name == PAUSE:
            parts.append(",")
        elif name == BREAK:
            parts.append("/")
        else:
            parts.append(pack.texts.get(name, name))
    return " ".join(parts).replace(" ,", ",")


def render(pack: VoicePack, clips: Sequence[str], volume: int = 100, gap: float = GAP) -> bytes:
    """The clips joined in memory as 16-bit mono PCM at the pack's rate, with short gaps."""
    gap_bytes = silence(gap, pack.rate)
    parts: list[bytes] = []
    spoken_before = False
    for name in clips:
        if name in SILENCES:
            parts.append(silence(SILENCES[name], pack.rate))
            spoken_before = False
            continue
        try:
            pcm = pack.clip(name, volume)
        except KeyError:
            raise VoicePackError(f"the voice pack has no clip {name!r} ({name}.wav)") from None
        if spoken_before:
            parts.append(gap_bytes)
        parts.append(pcm)
        spoken_before = True
    return b"".join(parts)


# ---------------------------------------------------------------- quiet hours


def parse_quiet_hours(spans: Iterable[str]) -> list[tuple[int, int]]:
    """["12:00-13:30", "22:00-07:00"] as minutes of the day; a span may cross midnight."""
    out: list[tuple[int, int]] = []
    for span in spans:
        m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", span)
        if not m:
            raise ValueError(f"quiet hours {span!r}: write HH:MM-HH:MM, e.g. 12:00-13:30")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError(f"quiet hours {span!r}: not a time of day")
        out.append((h1 * 60 + m1, h2 * 60 + m2))
    return out


def in_spans(minute: int, spans: Iterable[tuple[int, int]]) -> bool:
    for start, end in spans:
        if start <= end and start <= minute < end:
            return True
        if start > end and (minute >= start or minute < end):  # across midnight
            return True
    return False


# ---------------------------------------------------------------- outputs


@dataclass
class Announcement:
    """One thing said: a call, a recall or a broadcast, rendered and ready to play."""

    kind: Literal["call", "recall", "broadcast"]
    text: str  # what is said once, as text
    clips: list[str]  # the full sequence played, chime and repeats included
    pcm: bytes
    rate: int
    ticket: str | None = None
    window: int | None = None
    repeats: int = 1
    quiet: bool = False  # quiet hours: only the chime was played

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH / self.rate


class OutputError(Exception):
    """The sound could not be played; `reason` is for staff (aplay 失败：找不到声卡)."""

    def __init__(self, reason: str, reason_en: str) -> None:
        super().__init__(reason_en)
        self.reason, self.reason_en = reason, reason_en


class AudioOutput(Protocol):
    """Plays one announcement and returns when the last sample has been played."""

    async def play(self, item: Announcement) -> None: ...

    async def close(self) -> None: ...


class AplayOutput:
    """ALSA through `aplay` (package alsa-utils): raw PCM on its stdin, awaited to the end."""

    def __init__(
        self, device: str | None = None, aplay: str = "aplay", margin: float = 5.0
    ) -> None:
        self.device, self.aplay, self.margin = device, aplay, margin

    def command(self, rate: int) -> list[str]:
        cmd = [self.aplay, "-q", "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", str(rate)]
        if self.device:
            cmd += ["-D", self.device]
        return cmd

    async def play(self, item: Announcement) -> None:
        exe = shutil.which(self.aplay)
        if exe is None:
            raise OutputError(
                "aplay 未安装：请安装 alsa-utils（apt-get install alsa-utils）",
                "aplay is missing: install alsa-utils (apt-get install alsa-utils)",
            )
        proc = await asyncio.create_subprocess_exec(
            *self.command(item.rate),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, err = await asyncio.wait_for(proc.communicate(item.pcm), item.seconds + self.margin)
        except TimeoutError:
            raise OutputError(
                "aplay 无响应：声卡可能被占用", "aplay did not finish: the sound card may be busy"
            ) from None
        finally:
            if proc.returncode is None:  # cancelled or timed out: do not leave it playing
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(Exception):
                    await proc.wait()
        if proc.returncode != 0:
            raise aplay_error(err.decode(errors="replace"))

    async def close(self) -> None:
        return None


def aplay_error(stderr: str) -> OutputError:
    """aplay's complaint as a reason staff can act on."""
    text = stderr.strip()
    low = text.lower()
    if "no soundcards" in low or "cannot find card" in low or "no such file" in low:
        return OutputError(
            "aplay 失败：找不到声卡，请检查音箱和声卡连接",
            "aplay failed: no sound card found; check the speaker and sound card",
        )
    if "busy" in low:
        return OutputError("aplay 失败：声卡被其他程序占用", "aplay failed: the sound card is busy")
    last = text.splitlines()[-1] if text else "unknown error"
    return OutputError(f"aplay 失败：{last}", f"aplay failed: {last}")


class SdlOutput:
    """SDL through pygame.mixer: the sound card the kiosk's pygame screen uses too.

    pygame is imported when the first sound is played, so a hall that speaks through ALSA
    never loads SDL. Each announcement is played to its end before `play` returns.
    """

    def __init__(self, margin: float = 5.0) -> None:
        self.margin = margin
        self._rate: int | None = None

    def _play(self, item: Announcement) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame

        try:
            if self._rate != item.rate:
                if pygame.mixer.get_init():
                    pygame.mixer.quit()
                pygame.mixer.init(frequency=item.rate, size=-16, channels=1)
                self._rate = item.rate
            channel = pygame.mixer.Sound(buffer=item.pcm).play()
        except pygame.error as e:
            self._rate = None
            raise OutputError(
                f"SDL 音频失败：{e}，请检查音箱和声卡连接", f"SDL audio failed: {e}"
            ) from None
        deadline = time.monotonic() + item.seconds + self.margin
        while channel is not None and channel.get_busy():
            if time.monotonic() > deadline:
                channel.stop()
                raise OutputError("SDL 音频卡住，已停止", "SDL audio stalled; stopped")
            time.sleep(0.01)

    async def play(self, item: Announcement) -> None:
        await asyncio.to_thread(self._play, item)

    def _close(self) -> None:
        if self._rate is not None:
            import pygame

            pygame.mixer.quit()
            self._rate = None

    async def close(self) -> None:
        await asyncio.to_thread(self._close)


@dataclass
class SimulatedOutput:
    """The demo hall's speaker: each announcement as a WAV file and a line in announcements.log.

    `realtime` waits as long as the sound lasts (for a screen highlight following the voice);
    `failing` makes it raise OutputError, to play a dead sound card.
    """

    folder: Path
    zone: tzinfo | None = None
    clock: Callable[[], float] = time.time
    realtime: bool = False
    failing: str | None = None
    played: list[Announcement] = field(default_factory=list)
    count: int = 0

    @property
    def log_path(self) -> Path:
        return self.folder / "announcements.log"

    async def play(self, item: Announcement) -> None:
        if self.failing:
            raise OutputError(f"aplay 失败：{self.failing}", f"aplay failed: {self.failing}")
        await asyncio.to_thread(self._write, item)
        if self.realtime:
            await asyncio.sleep(item.seconds)
        self.played.append(item)

    def _write(self, item: Announcement) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.fromtimestamp(self.clock(), self.zone)
        self.count += 1
        label = item.ticket or item.kind
        name = f"{now:%Y%m%d-%H%M%S}-{self.count:04d}-{item.kind}-{label}.wav"
        name = re.sub(r"[^\w.-]", "_", name)
        write_wav(self.folder / name, item.pcm, item.rate)
        said = item.text + (f" ×{item.repeats}" if item.repeats > 1 else "")
        if item.quiet:
            said = f"（静音时段，仅提示音） {said}"
        line = "\t".join(
            [
                f"{now:%Y-%m-%d %H:%M:%S}",
                item.kind,
                said,
                " ".join(item.clips),
                f"{item.seconds:.2f}s",
                name,
            ]
        )
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------- the driver


Phase = Literal["start", "end"]
SpeakingListener = Callable[[str | None, int | None, Phase], None]
QuietMode = Literal["chime", "silent"]


@dataclass
class _Job:
    kind: Literal["call", "recall", "broadcast"]
    ticket: str | None = None
    window: int | None = None
    text: str = ""
    repeats: int | None = None
    force: bool = False


class CallerVoice(Driver):
    """Says every call and recall (and broadcasts) through one output, one at a time, whole.

    Quiet hours ("HH:MM-HH:MM" in the hall's local time, `zone`): with `quiet_mode="chime"`
    (the default) a call plays the chime only — the screens still show it; with "silent" it
    plays nothing. Broadcasts are held back in quiet hours unless sent with `force=True`.
    """

    kind = "voice"
    keeps_every_event = True
    operation_timeout = 5.0  # `handle` only queues the announcement; playing has its own

    def __init__(
        self,
        name: str,
        pack: VoicePack,
        output: AudioOutput,
        *,
        language: str | None = None,
        template: str | None = None,
        repeats: int = 2,
        volume: int = 100,
        quiet_hours: Sequence[str] = (),
        quiet_mode: QuietMode = "chime",
        zone: tzinfo | None = None,
        clock: Callable[[], float] = time.time,
        on_speaking: SpeakingListener | None = None,
        queue_size: int = 1000,
        retry_delay: float = 0.5,
    ) -> None:
        super().__init__(name, queue_size=1)  # unused: `offer` queues into `_jobs` below
        self.pack = pack
        self.output = output
        self.language = language or pack.language
        self.template = template
        self.repeats = max(1, repeats)
        self.volume = max(0, min(100, volume))
        self.quiet_spans = parse_quiet_hours(quiet_hours)
        self.quiet_mode: QuietMode = quiet_mode
        self.zone = zone
        self.clock = clock
        self.retry_delay = retry_delay
        self._speaking_listeners: list[SpeakingListener] = []
        if on_speaking is not None:
            self._speaking_listeners.append(on_speaking)
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue(queue_size)
        self._outstanding = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._player: asyncio.Task[None] | None = None
        check_template(
            template or DEFAULT_TEMPLATES.get(self.language, ""), self.language, pack.words()
        )

    # ------------------------------------------------------------ public

    def on_speaking(self, listener: SpeakingListener) -> None:
        """`listener(ticket, window, "start" | "end")` around each announcement."""
        self._speaking_listeners.append(listener)

    def set_volume(self, volume: int) -> None:
        self.volume = max(0, min(100, volume))

    def reconfigure(
        self, *, volume: int, repeats: int, quiet_hours: Sequence[str], quiet_mode: QuietMode
    ) -> None:
        """Take the admin page's new voice settings at once (the next announcement uses them)."""
        self.set_volume(volume)
        self.repeats = max(1, repeats)
        self.quiet_spans = parse_quiet_hours(quiet_hours)
        self.quiet_mode = quiet_mode

    def is_quiet(self, now: float | None = None) -> bool:
        if not self.quiet_spans:
            return False
        local = datetime.fromtimestamp(self.clock() if now is None else now, self.zone)
        return in_spans(local.hour * 60 + local.minute, self.quiet_spans)

    def broadcast(self, text: str, repeats: int = 1, force: bool = False) -> bool:
        """Queue free text (lost property, closing notices) behind the announcements waiting.

        Spoken by espeak-ng with the pack's voice when its turn comes. False if the queue is full.
        """
        if not text.strip():
            return False
        return self._enqueue(_Job("broadcast", text=text.strip(), repeats=repeats, force=force))

    async def idle(self, timeout: float | None = None) -> None:
        """Wait until everything offered so far has been said (or given up)."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    def offer(self, record: Record) -> None:
        """Queue a call or recall in the one announcement queue, without waiting; never raises.

        Calls, recalls and broadcasts share this queue so they are said in the order they came.
        """
        event = record.event
        if isinstance(event, TicketCalled):
            self._enqueue(_Job("call", ticket=event.display, window=event.window))
        elif isinstance(event, TicketRecalled):
            self._enqueue(_Job("recall", ticket=event.display, window=event.window))

    # ------------------------------------------------------------ driver

    async def open(self) -> None:
        if self._player is None:
            self._player = asyncio.create_task(self._play_loop(), name=f"voice-{self.name}")

    async def close(self) -> None:
        if self._player is not None:
            self._player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._player
            self._player = None
        await self.output.close()

    async def handle(self, record: Record) -> None:
        """For a caller that hands events over directly: the same as `offer`."""
        self.offer(record)

    # ------------------------------------------------------------ internals

    def _enqueue(self, job: _Job) -> bool:
        try:
            self._jobs.put_nowait(job)
        except asyncio.QueueFull:
            self.report.dropped += 1
            self.failed(
                f"{self.name} 语音队列已满，已丢弃 {self.report.dropped} 条",
                f"{self.name}: the announcement queue is full: {self.report.dropped} dropped",
            )
            return False
        self._outstanding += 1
        self._idle.clear()
        return True

    def _done_one(self) -> None:
        self._outstanding = max(0, self._outstanding - 1)
        if self._outstanding == 0:
            self._idle.set()

    def _speaking(self, job: _Job, phase: Phase) -> None:
        for listener in self._speaking_listeners:
            try:
                listener(job.ticket, job.window, phase)
            except Exception:
                log.exception("speaking listener failed for %s", self.name)

    async def _play_loop(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await self._say(job)
            except asyncio.CancelledError:
                raise
            except OutputError as e:
                self.failed(e.reason, e.reason_en)
            except Exception as e:  # a bad template or pack: report, go on with the next
                log.exception("voice %s could not say %s", self.name, job)
                self.failed(f"{self.name} 语音出错：{e}", f"{self.name}: voice failed: {e}")
            finally:
                self._done_one()

    async def prepare(self, job: _Job) -> Announcement | None:
        """The announcement for a job, rendered; None when quiet hours silence it."""
        quiet = self.is_quiet()
        chime = ["chime"] if "chime" in self.pack.clips else []
        repeats = job.repeats or (self.repeats if job.kind != "broadcast" else 1)
        if job.kind == "broadcast":
            if quiet and not job.force:
                log.info("voice %s: quiet hours, broadcast held back: %s", self.name, job.text)
                return None
            frames, rate = await asyncio.to_thread(
                synthesize, job.text, self.pack.voice, self.pack.speed
            )
            if rate != self.pack.rate:
                raise VoicePackError(
                    f"espeak-ng spoke at {rate} Hz, the pack is {self.pack.rate} Hz"
                )
            speech = scale(trim_silence(frames, rate), self.volume)
            pause = silence(SILENCES[BREAK], rate)
            head = render(self.pack, [*chime, BREAK], self.volume) if chime else b""
            pcm = head + pause.join([speech] * repeats)
            clips = [*chime, *([BREAK, "_espeak"] * repeats)]
            return Announcement("broadcast", job.text, clips, pcm, rate, repeats=repeats)
        assert job.ticket is not None and job.window is not None
        phrase = announcement(
            job.ticket, job.window, self.language, self.template, self.pack.words()
        )
        text = spoken_text(self.pack, phrase)
        if quiet:
            if self.quiet_mode == "silent" or not chime:
                log.info("voice %s: quiet hours, not said: %s", self.name, text)
                return None
            clips = chime
        else:
            clips = list(chime)
            for i in range(repeats):
                if clips or i:
                    clips.append(BREAK)
                clips += phrase
        pcm = render(self.pack, clips, self.volume)
        return Announcement(
            job.kind, text, clips, pcm, self.pack.rate, job.ticket, job.window, repeats, quiet
        )

    async def _say(self, job: _Job) -> None:
        item = await self.prepare(job)
        if item is None:
            return
        self._speaking(job, "start")
        try:
            try:
                await self.output.play(item)
            except OutputError as first:
                log.warning("voice %s: %s; trying once more", self.name, first.reason_en)
                await asyncio.sleep(self.retry_delay)
                await self.output.play(item)
        finally:
            self._speaking(job, "end")
        self.seen(Health("ok"))
