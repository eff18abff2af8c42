"""Voice packs: a folder of short WAV clips (digits, letters, words, a chime) and `pack.toml`.

The caller voice never synthesizes a call at run time: it joins clips already in memory, so
speech starts within milliseconds of the call. `build_pack` makes every clip with espeak-ng
(Mandarin through the `cmn-latn-pinyin` voice fed pinyin with tone numbers — Debian's
espeak-ng 1.51 `cmn` voice reads 请 and 号 as English words), trims the silence around each
one and writes the manifest. A hall may replace any clip with its own recording of the same
format (16-bit mono PCM at the pack's rate); `load_pack` refuses another format and names the
file. See docs/VOICE.md.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import wave
from array import array
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "pack.toml"
SAMPLE_WIDTH = 2  # bytes: 16-bit signed little-endian PCM
CHANNELS = 1
LANGUAGES = ("zh", "yue", "en")
DEFAULT_SPEED = 150  # espeak-ng words per minute; its default 175 is hurried for a hall
ESPEAK_MISSING = "install espeak-ng (apt-get install espeak-ng)"

# The espeak-ng voice for each language.
VOICES = {"zh": "cmn-latn-pinyin", "yue": "yue", "en": "en"}

_ZH_DIGITS = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]
_ZH_CHARS = "零一二三四五六七八九"
_EN_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
]  # fmt: skip
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class VoicePackError(Exception):
    """A pack that cannot be built or loaded; the message says what to do."""


@dataclass(frozen=True)
class ClipSpec:
    """One clip to synthesize: its name (the file is `<name>.wav`), what it says, what to feed."""

    name: str
    text: str  # what a person hears, for logs and the manifest (请, A, 十)
    say: str  # what espeak-ng is given (qing3)


def clip_specs(language: str) -> list[ClipSpec]:
    """Every clip a pack of this language holds, except the chime (not spoken)."""
    specs: list[ClipSpec] = []
    if language == "zh":
        for d in range(10):
            specs.append(ClipSpec(f"digit-{d}", _ZH_CHARS[d], _ZH_DIGITS[d]))
        for n in range(10):
            specs.append(ClipSpec(f"num-{n}", _ZH_CHARS[n], _ZH_DIGITS[n]))
        specs += [ClipSpec("num-10", "十", "shi2"), ClipSpec("num-100", "百", "bai3")]
        words = [("please", "请", "qing3"), ("number", "号", "hao4"), ("to", "到", "dao4")]
        words += [("window", "窗口", "chuang1 kou3"), ("handle", "办理", "ban4 li3")]
        specs += [ClipSpec(f"word-{n}", text, say) for n, text, say in words]
    elif language == "yue":  # the yue voice reads Chinese characters itself
        for d in range(10):
            specs.append(ClipSpec(f"digit-{d}", _ZH_CHARS[d], _ZH_CHARS[d]))
        for n in range(10):
            specs.append(ClipSpec(f"num-{n}", _ZH_CHARS[n], _ZH_CHARS[n]))
        specs += [ClipSpec("num-10", "十", "十"), ClipSpec("num-100", "百", "百")]
        yue_words = [("please", "請"), ("number", "號"), ("to", "到")]
        yue_words += [("window", "窗口"), ("handle", "辦理")]
        specs += [ClipSpec(f"word-{n}", text, text) for n, text in yue_words]
    elif language == "en":
        for d in range(10):
            specs.append(ClipSpec(f"digit-{d}", str(d), _EN_ONES[d]))
        for n in range(20):
            specs.append(ClipSpec(f"num-{n}", _EN_ONES[n], _EN_ONES[n]))
        for t in range(2, 10):
            specs.append(ClipSpec(f"num-{t * 10}", _EN_TENS[t], _EN_TENS[t]))
        specs.append(ClipSpec("num-100", "hundred", "hundred"))
        for w in ("ticket", "please", "go", "to", "window", "number", "and"):
            specs.append(ClipSpec(f"word-{w}", w, w))
    else:
        raise VoicePackError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    # A capital letter alone is read as the letter's name by all three voices (A → "ei").
    specs += [ClipSpec(f"letter-{c.lower()}", c, c) for c in LETTERS]
    return specs


# ---------------------------------------------------------------- PCM helpers


def _to_samples(frames: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(frames)
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    return samples


def _to_bytes(samples: array[int]) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def silence(seconds: float, rate: int) -> bytes:
    return bytes(SAMPLE_WIDTH * round(seconds * rate))


def scale(frames: bytes, volume: int) -> bytes:
    """16-bit PCM at `volume` percent (0-100) of its level."""
    volume = max(0, min(100, volume))
    if volume == 100:
        return frames
    if volume == 0:
        return bytes(len(frames))
    samples = _to_samples(frames)
    return _to_bytes(array("h", [s * volume // 100 for s in samples]))


def peak(frames: bytes) -> int:
    samples = _to_samples(frames)
    return max((abs(s) for s in samples), default=0)


def trim_silence(frames: bytes, rate: int, threshold: int = 400, margin: float = 0.01) -> bytes:
    """Cut the quiet before the first and after the last sample above `threshold` (about -38 dB)."""
    samples = _to_samples(frames)
    loud = [i for i in range(len(samples)) if abs(samples[i]) > threshold]
    if not loud:
        return b""
    keep = round(margin * rate)
    start, end = max(0, loud[0] - keep), min(len(samples), loud[-1] + 1 + keep)
    return frames[start * SAMPLE_WIDTH : end * SAMPLE_WIDTH]


def chime(rate: int, tones: Iterable[float] = (659.26, 523.25), each: float = 0.65) -> bytes:
    """A two-tone ding-dong (E5 then C5): sines with a bell's partials and a decaying envelope."""
    out = array("h")
    for freq in tones:
        n = round(each * rate)
        attack = round(0.005 * rate)
        for i in range(n):
            t = i / rate
            env = math.exp(-4.0 * t) * (min(1.0, i / attack) if attack else 1.0)
            wave_ = (
                math.sin(2 * math.pi * freq * t)
                + 0.35 * math.sin(2 * math.pi * 2 * freq * t) * math.exp(-3.0 * t)
                + 0.15 * math.sin(2 * math.pi * 3 * freq * t) * math.exp(-6.0 * t)
            )
            out.append(round(0.45 * 32767 * env * wave_ / 1.5))
    return _to_bytes(out)


def write_wav(path: Path, frames: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(frames)


def read_wav(path: Path, rate: int | None = None) -> tuple[bytes, int]:
    """The PCM frames and rate of a 16-bit mono WAV; anything else is refused, naming the file."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, found = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except FileNotFoundError:
        raise VoicePackError(f"{path}: the clip is missing") from None
    except (wave.Error, EOFError) as e:
        raise VoicePackError(
            f"{path}: not a PCM WAV file ({e}); save it as 16-bit mono PCM WAV"
        ) from None
    want = f"{rate} Hz" if rate else "any rate"
    if channels != CHANNELS or width != SAMPLE_WIDTH or (rate is not None and found != rate):
        raise VoicePackError(
            f"{path}: {found} Hz, {8 * width}-bit, {channels} channel(s); this pack needs "
            f"{want}, 16-bit, mono. Convert it first, e.g. "
            f"`sox in.wav -r {rate or found} -b 16 -c 1 {path.name}`"
        )
    return frames, found


# ---------------------------------------------------------------- espeak-ng


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if path is None:
        raise VoicePackError(ESPEAK_MISSING)
    return path


def synthesize(
    text: str, voice: str, speed: int = DEFAULT_SPEED, timeout: float = 30.0
) -> tuple[bytes, int]:
    """Speak `text` with espeak-ng; the 16-bit mono PCM and its rate (blocking: use a thread)."""
    exe = espeak_path()
    fd, name = tempfile.mkstemp(suffix=".wav", prefix="hallq-espeak-")
    os.close(fd)
    try:
        done = subprocess.run(
            [exe, "-v", voice, "-s", str(speed), "-w", name, "--", text],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            raise VoicePackError(f"espeak-ng -v {voice} failed: {err or done.returncode}")
        return read_wav(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)


# ---------------------------------------------------------------- packs


@dataclass
class VoicePack:
    """Every clip of a pack, in memory: 16-bit mono PCM at `rate`."""

    language: str
    rate: int
    clips: dict[str, bytes]
    texts: dict[str, str] = field(default_factory=dict)  # clip → what it says
    voice: str = ""  # the espeak-ng voice for broadcasts
    speed: int = DEFAULT_SPEED
    path: Path | None = None
    _scaled: dict[tuple[str, int], bytes] = field(default_factory=dict, repr=False)

    def clip(self, name: str, volume: int = 100) -> bytes:
        """A clip's PCM at `volume` percent (computed once per volume, then kept)."""
        if volume >= 100:
            return self.clips[name]
        key = (name, volume)
        if key not in self._scaled:
            self._scaled[key] = scale(self.clips[name], volume)
        return self._scaled[key]

    def seconds(self, name: str) -> float:
        return len(self.clips[name]) / SAMPLE_WIDTH / self.rate

    def words(self) -> dict[str, str]:
        """Text → clip name for the pack's word clips (for templates)."""
        return {text: name for name, text in self.texts.items() if name.startswith("word-")}


def _toml_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_manifest(
    out: Path, language: str, rate: int, voice: str, speed: int, texts: Mapping[str, str]
) -> None:
    lines = [
        "# hallq voice pack: one 16-bit mono PCM WAV per clip, named <clip>.wav (docs/VOICE.md).",
        "# Replace any clip with a recording of the same format; keep the names.",
        f"language = {_toml_string(language)}",
        f"sample_rate = {rate}",
        f"sample_width = {SAMPLE_WIDTH}",
        f"channels = {CHANNELS}",
        f"voice = {_toml_string(voice)}  # espeak-ng voice, also used for broadcasts",
        f"speed = {speed}",
        "",
        "[clips]  # clip name = what it says",
    ]
    lines += [f"{_toml_string(name)} = {_toml_string(text)}" for name, text in texts.items()]
    (out / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_pack(out_dir: str | Path, language: str = "zh", speed: int = DEFAULT_SPEED) -> Path:
    """Make every clip of `language` with espeak-ng into `out_dir`, with the chime and manifest."""
    if language not in LANGUAGES:
        raise VoicePackError(f"unknown language {language!r}; use one of {', '.join(LANGUAGES)}")
    if not 80 <= speed <= 450:
        raise VoicePackError(f"speed {speed}: use 80-450 words a minute (default {DEFAULT_SPEED})")
    espeak_path()  # fail before making anything
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    voice = VOICES[language]
    specs = clip_specs(language)

    def make(spec: ClipSpec) -> tuple[ClipSpec, bytes, int]:
        frames, rate = synthesize(spec.say, voice, speed)
        return spec, trim_silence(frames, rate), rate

    workers = min(8, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        made = list(pool.map(make, specs))
    rates = {rate for _, _, rate in made}
    if len(rates) != 1:
        raise VoicePackError(f"espeak-ng gave clips at several rates: {sorted(rates)}")
    rate = rates.pop()
    texts: dict[str, str] = {"chime": "（提示音）" if language != "en" else "(chime)"}
    write_wav(out / "chime.wav", chime(rate), rate)
    for spec, frames, _ in made:
        if len(frames) < 0.05 * rate * SAMPLE_WIDTH:
            raise VoicePackError(f"espeak-ng -v {voice} said nothing for {spec.say!r}")
        write_wav(out / f"{spec.name}.wav", frames, rate)
        texts[spec.name] = spec.text
    write_manifest(out, language, rate, voice, speed, texts)
    return out


def load_pack(directory: str | Path) -> VoicePack:
    """Read `pack.toml` and every clip it lists into memory, checking each clip's format."""
    root = Path(directory)
    try:
        manifest = tomllib.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VoicePackError(
            f"{root / MANIFEST}: no voice pack here; make one with `hallq voicepack build --out {root}`"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise VoicePackError(f"{root / MANIFEST}: {e}") from None
    try:
        language = str(manifest["language"])
        rate = int(manifest["sample_rate"])
        texts = {str(k): str(v) for k, v in dict(manifest["clips"]).items()}
    except (KeyError, TypeError, ValueError) as e:
        raise VoicePackError(f"{root / MANIFEST}: missing or bad entry {e}") from None
    clips: dict[str, bytes] = {}
    for name in texts:
        frames, _ = read_wav(root / f"{name}.wav", rate)
        clips[name] = frames
    return VoicePack(
        language=language,
        rate=rate,
        clips=clips,
        texts=texts,
        voice=str(manifest.get("voice", VOICES.get(language, ""))),
        speed=int(manifest.get("speed", DEFAULT_SPEED)),
        path=root,
    )
