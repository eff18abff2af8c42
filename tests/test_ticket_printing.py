"""The ticket printer's bytes, the ticket layout, and the simulator's PNG preview."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from escpos.printer import Dummy
from PIL import Image

from hallq.controller.views import hall_view
from hallq.drivers import escpos_bytes as eb
from hallq.drivers import ticket_preview
from hallq.drivers.ticket import (
    Line,
    QrBlock,
    TicketContent,
    content_from_reply,
    number_scale,
    ticket_bytes,
    ticket_layout,
    wrap,
)
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from tests.conftest import at, run

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
URL = "https://hall.example.cn/t/A012"
LONG_MATERIALS = [
    "申请人身份证原件及复印件（如委托他人办理，须提供经公证的授权委托书及受托人身份证）",
    "不动产权属证书",
    "Marriage certificate, or a statement https://example.gov.cn/a/very/long/path/that/cannot/fit",
]


def gb(text: str) -> bytes:
    return text.encode("gb18030")


def sample(**changes: Any) -> TicketContent:
    fields: dict[str, Any] = {
        "hall_name": "市中区政务服务中心",
        "service_name": "不动产登记",
        "number": "A012",
        "ahead": 5,
        "estimate_minutes": 23.4,
        "issued_at": "2026-11-23 09:12",
        "windows": [3, 5],
        "materials": ["身份证", "不动产权证书"],
        "status_url": URL,
        "footer": "请保管好您的号票",
    }
    fields.update(changes)
    return TicketContent(**fields)


# ------------------------------------------------------------------ the byte vocabulary


def test_init_and_chinese_mode_bytes() -> None:
    assert eb.INIT == b"\x1b\x40"
    assert eb.CHINESE_MODE_ON == b"\x1c\x26"
    assert eb.CHINESE_MODE_OFF == b"\x1c\x2e"


def test_punctuation_only_line_is_gb18030_not_question_marks() -> None:
    out = eb.line("「」、。")
    assert out == b"\xa1\xb8\xa1\xb9\xa1\xa2\xa1\xa3\n"
    assert b"?" not in out
    assert eb.line("，：") == b"\xa3\xac\xa3\xba\n"


def test_python_escpos_text_loses_punctuation_which_is_why_we_encode() -> None:
    printer = Dummy()
    printer.text("「」、。")
    assert b"?" in printer.output


def test_rare_characters_missing_from_gb2312() -> None:
    with pytest.raises(UnicodeEncodeError):
        "堃𠀾".encode("gb2312")
    assert eb.line("堃") == b"\x88\xd2\n"
    assert eb.line("𠀾") == b"\x95\x32\x88\x38\n"  # four-byte GB18030
    assert eb.encode_text("张堃") == b"\xd5\xc5\x88\xd2"


def test_alignment_size_bold_feed_cut() -> None:
    assert eb.align("left") == b"\x1ba\x00"
    assert eb.align("center") == b"\x1ba\x01"
    assert eb.align("right") == b"\x1ba\x02"
    assert eb.char_size(1, 1) == b"\x1d!\x00"
    assert eb.char_size(4, 4) == b"\x1d!\x33"
    assert eb.char_size(2, 1) == b"\x1d!\x10"
    assert eb.char_size(8, 8) == b"\x1d!\x77"
    assert eb.bold(True) == b"\x1bE\x01"
    assert eb.bold(False) == b"\x1bE\x00"
    assert eb.feed(4) == b"\x1bd\x04"
    assert eb.partial_cut() == b"\x1dV\x42\x00"
    with pytest.raises(ValueError):
        eb.char_size(9, 1)
    with pytest.raises(ValueError):
        eb.paper_dots(40)


def test_text_columns_count_hanzi_as_two() -> None:
    assert eb.text_columns("A012") == 4
    assert eb.text_columns("号窗口") == 6
    assert eb.text_columns("「𠀾」·") == 8


def test_native_qr_sequence_for_a_short_url() -> None:
    url = "https://q.cn/t/1"
    k = len(url) + 3
    expected = (
        b"\x1d(k\x04\x00\x31\x41\x32\x00"  # fn 165: model 2
        b"\x1d(k\x03\x00\x31\x43\x06"  # fn 167: module size 6
        b"\x1d(k\x03\x00\x31\x45\x31"  # fn 169: level M
        + b"\x1d(k"
        + bytes([k & 0xFF, k >> 8])
        + b"\x31\x50\x30"
        + url.encode()  # fn 180: store
        + b"\x1d(k\x03\x00\x31\x51\x30"  # fn 181: print
    )
    assert eb.qr_native(url) == expected


def test_native_qr_long_data_uses_the_high_length_byte() -> None:
    url = "https://hall.example.cn/" + "x" * 276  # 300 bytes
    out = eb.qr_native(url, module_size=4, level="H")
    assert b"\x1d(k\x2f\x01\x31\x50\x30" + url.encode() in out  # 303 = 0x012f
    assert b"\x1d(k\x03\x00\x31\x45\x33" in out
    with pytest.raises(ValueError):
        eb.qr_native("")


def test_raster_fallback_header_size_and_dots() -> None:
    image = eb.qr_image(URL, module_size=5)
    out = eb.qr_raster(URL, module_size=5, width_dots=576)
    x, y = 576 // 8, image.height
    assert out[:8] == b"\x1dv0\x00" + x.to_bytes(2, "little") + y.to_bytes(2, "little")
    assert len(out) == 8 + x * y
    # Decode the dots back: a set bit is a printed (black) dot, centred on the paper.
    left = (576 - image.width) // 2
    rows = out[8:]
    for row in range(0, y, 7):
        for col in range(0, image.width, 3):
            dot = rows[row * x + (left + col) // 8] >> (7 - (left + col) % 8) & 1
            assert dot == (image.getpixel((col, row)) == 0)


def test_raster_of_odd_width_image_pads_rows() -> None:
    image = Image.new("1", (10, 2), 0)  # all black
    out = eb.raster_image(image)
    assert out == b"\x1dv0\x00\x02\x00\x02\x00" + b"\xff\xc0" * 2


def test_our_bytes_pass_through_python_escpos_unchanged() -> None:
    data = ticket_bytes(sample(materials=LONG_MATERIALS), qr_native=False)
    printer = Dummy()
    printer._raw(data)
    assert printer.output == data


# ------------------------------------------------------------------ the ticket


def test_ticket_starts_chinese_and_ends_with_feed_and_cut() -> None:
    out = ticket_bytes(sample())
    assert out.startswith(eb.INIT + eb.CHINESE_MODE_ON)
    assert out.endswith(eb.feed(4) + eb.partial_cut() + eb.CHINESE_MODE_OFF)


def test_ticket_holds_every_field_in_order() -> None:
    out = ticket_bytes(sample())
    expected = [
        gb("市中区政务服务中心"),
        gb("不动产登记"),
        gb("A012"),
        gb("您前面还有 5 人"),
        gb("预计等候约 23 分钟"),
        gb("取号时间：2026-11-23 09:12"),
        gb("请到 3、5 号窗口办理"),
        gb("请准备以下材料："),
        gb("1. 身份证"),
        gb("2. 不动产权证书"),
        URL.encode(),
        gb("扫码查看排队进度"),
        gb("请保管好您的号票"),
    ]
    at_ = 0
    for piece in expected:
        found = out.find(piece, at_)
        assert found >= 0, piece.decode("gb18030")
        at_ = found + len(piece)


def test_number_is_large_and_centred() -> None:
    out48 = ticket_bytes(sample())
    assert eb.align("center") + eb.char_size(6, 6) + eb.bold(True) + b"A012\n" in out48
    out32 = ticket_bytes(sample(), paper_columns=32)
    assert eb.char_size(4, 4) + eb.bold(True) + b"A012\n" in out32
    assert number_scale("VIP0123", 32) == 4
    assert number_scale("ABCDEFGHIJ", 32) == 3


def test_no_estimate_and_single_window() -> None:
    out = ticket_bytes(sample(estimate_minutes=None, windows=[7]))
    assert gb("等候时间暂无法估计") in out
    assert gb("预计等候") not in out
    assert gb("请到 7 号窗口办理") in out


def test_estimate_is_never_zero_minutes() -> None:
    assert gb("预计等候约 1 分钟") in ticket_bytes(sample(estimate_minutes=0.0))


def test_image_qr_fallback_replaces_gs_k() -> None:
    out = ticket_bytes(sample(), qr_native=False)
    assert b"\x1d(k" not in out
    assert b"\x1dv0\x00\x48\x00" in out  # 576 dots = 72 bytes a row


def test_english_ticket_needs_no_chinese_mode() -> None:
    content = sample(
        hall_name="Shizhong Service Centre",
        service_name="Real Estate Registration",
        materials=["ID card"],
        footer="Keep your ticket",
        language="en",
    )
    out = ticket_bytes(content)
    assert eb.CHINESE_MODE_ON not in out
    for text in ("5 ahead of you", "about 23 min", "Please go to windows 3, 5", "1. ID card"):
        assert text.encode() in out


def test_fields_with_rare_characters_and_punctuation_print() -> None:
    out = ticket_bytes(sample(hall_name="堃𠀾政务服务中心", footer="「」、。"))
    assert gb("堃𠀾政务服务中心") in out
    assert gb("「」、。") in out
    assert b"?" not in out.replace(URL.encode(), b"")


@pytest.mark.parametrize("columns", [32, 48])
def test_long_text_wraps_to_the_paper(columns: int) -> None:
    content = sample(
        service_name="不动产登记（二手房买卖转移登记、抵押权首次登记、更正登记）",
        hall_name="山东省枣庄市市中区人民政府政务服务中心",
        materials=LONG_MATERIALS,
        footer="请保管好您的号票，过号请到服务台办理顺延。监督电话 12345",
    )
    blocks = ticket_layout(content, columns)
    lines = [b for b in blocks if isinstance(b, Line)]
    for ln in lines:
        assert eb.text_columns(ln.text) * ln.scale_w <= columns, ln
        assert ln.text[:1] not in set("，。、）」")
    texts = [ln.text for ln in lines]
    first = next(i for i, t in enumerate(texts) if t.startswith("1. "))
    assert texts[first + 1].startswith("   ")  # hanging indent under "1. "
    material_text = "".join(t.strip() for t in texts[first : first + 12] if not t.startswith("2. "))
    assert "经公证的授权委托书" in material_text.replace(" ", "")
    assert sum(1 for b in blocks if isinstance(b, QrBlock)) == 1


def test_wrap_keeps_closing_punctuation_off_the_line_start() -> None:
    assert wrap("你好，世界。", 10) == ["你好，世", "界。"]
    assert wrap("一二三四（五）", 10) == ["一二三四", "（五）"]
    assert wrap("abc defgh", 5) == ["abc", "defgh"]
    assert wrap("https://x.cn/abcdefgh", 8) == ["https://", "x.cn/abc", "defgh"]
    assert wrap("", 10) == [""]


def test_wrap_never_overflows_nor_loses_text() -> None:
    rng = random.Random(7)
    alphabet = [*"你好，。「」（）、：abc defg 𠀾堃 ", "http://x.cn/" + "z" * 40]
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        for columns in (16, 32, 48):
            for head, rest in (("", ""), ("12. ", "    ")):
                lines = wrap(text, columns, head, rest)
                assert all(eb.text_columns(ln) <= columns for ln in lines)
                joined = "".join(ln.replace(" ", "") for ln in lines)
                assert joined == head.strip() + text.replace(" ", "")


def test_content_from_controller_reply(make_engine: Any, demo_config: HallConfig) -> None:
    engine = make_engine(demo_config)
    now = at(2026, 11, 23, 9, 12)
    reply = run(engine, c.IssueTicket(request_id="k1", service="property"), now)
    state = hall_view(engine, now)
    service = next(s for s in state["services"] if s["code"] == "property")
    content = content_from_reply(reply["ticket"], service, state["hall"], URL)
    assert content.number == reply["ticket"]["number"]
    assert content.service_name == "不动产登记"
    assert content.hall_name == demo_config.hall.name
    assert content.issued_at == "2026-11-23 09:12"
    assert content.windows == service["windows"] and content.windows
    assert content.materials == service["guide"]["materials"]
    assert content.footer == demo_config.hall.footer
    assert gb(content.materials[0]) in ticket_bytes(content)
    english = content_from_reply(reply["ticket"], service, state["hall"], URL, language="en")
    assert english.service_name == "Real Estate Registration"
    assert english.materials == service["guide"]["materials_en"]


def test_english_falls_back_to_chinese_when_untranslated() -> None:
    ticket = {"number": "B003", "ahead": 0, "estimate_minutes": None, "issued_at": 0.0}
    service = {"name": "商事登记", "name_en": "", "windows": [1], "guide": {"materials": ["章程"]}}
    hall = {"name": "测试大厅", "timezone": "Asia/Shanghai", "footer": "谢谢"}
    content = content_from_reply(ticket, service, hall, URL, language="en")
    assert (content.service_name, content.materials, content.footer) == (
        "商事登记",
        ["章程"],
        "谢谢",
    )
    assert content.issued_at == "1970-01-01 08:00"
    assert eb.CHINESE_MODE_ON in ticket_bytes(content)


# ------------------------------------------------------------------ the preview


def test_system_cjk_font_draws_hanzi() -> None:
    spec = ticket_preview.find_cjk_font()
    if spec is None:
        pytest.skip("no CJK font on this machine (fonts-wqy-microhei or fonts-noto-cjk)")
    assert ticket_preview.covers_hanzi(spec)


@pytest.mark.parametrize(
    "path",
    [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Latin only: no 号
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # hanzi but no "A"
    ],
)
def test_fonts_without_hanzi_or_latin_are_refused(path: str) -> None:
    if not Path(path).exists():
        pytest.skip(f"{path} not on this machine")
    assert not ticket_preview.covers_hanzi((path, 0))


def test_missing_font_file_is_refused() -> None:
    assert not ticket_preview.covers_hanzi(("/nonexistent/font.ttf", 0))


@pytest.mark.parametrize("columns", [32, 48])
def test_preview_width_and_height_grows_with_materials(columns: int) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    heights = []
    for count in (0, 2, 5):
        materials = (LONG_MATERIALS * 2)[:count]
        content = sample(materials=materials, service_name="不动产登记（二手房买卖转移登记）")
        path = ticket_preview.save_preview(
            content, ARTIFACTS / f"ticket-{columns}col-{count}materials.png", columns
        )
        with Image.open(path) as image:
            assert image.width == eb.paper_dots(columns)
            assert image.format == "PNG"
            heights.append(image.height)
    assert heights[0] < heights[1] < heights[2]


def test_preview_qr_scans_when_zbar_is_present() -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ticket_preview.save_preview(sample(), ARTIFACTS / "ticket-qr.png")
    if shutil.which("zbarimg") is None:
        pytest.skip("zbarimg not installed")
    out = subprocess.run(["zbarimg", "-q", "--raw", str(path)], capture_output=True, text=True)
    assert out.stdout.strip() == URL


def test_preview_without_cjk_font_warns_and_still_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ticket_preview, "find_cjk_font", lambda: None)
    with pytest.warns(RuntimeWarning, match="CJK font"):
        image = ticket_preview.render_preview(sample())
    assert image.width == 576
