"""LED board framings: exact bytes, checks, replies, and a round trip over pyserial's loop://."""

from __future__ import annotations

import logging

import pytest
import serial

from hallq.drivers.ledframe import (
    FRAMINGS,
    A090Framing,
    AABBFraming,
    LedFrameError,
    LedFraming,
    LedTextTooLong,
    UnknownFraming,
    XmodemFraming,
    board_safe,
    crc16_xmodem,
    framing,
    register,
    xor,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- A0 90 -----------------------------------------------------------------------------------


def test_spec_example_a1_on_screen_3():
    assert A090Framing().show_text(3, "A1") == h("A0 90 03 A5 00 04 41 00 31 00 D2")


def test_mixed_chinese_and_ascii_computed_independently():
    text = "A012 请到5号窗口"
    data = bytearray()
    for ch in text:
        data += ch.encode("gbk") + b"\x00"
    assert len(data) == 6 * 2 + 5 * 3  # six ASCII (incl. the space), five hanzi
    body = bytes([0x07, 0xA5, len(data) >> 8, len(data) & 0xFF]) + data
    check = 0
    for b in body:
        check ^= b
    expected = b"\xa0\x90" + body + bytes([check])
    assert A090Framing().show_text(7, text) == expected
    # the first hanzi is 请 = C7 EB in GBK, followed by the colour byte
    assert expected[6 + 5 * 2 : 6 + 5 * 2 + 3] == h("C7 EB 00")


def test_colour_byte_follows_every_character():
    frame = A090Framing().show_text(1, "A号", colour=2)
    assert frame[6:-1] == h("41 02 BA C5 02")


def test_show_stored_message():
    assert A090Framing().show_stored(3) == h("A0 90 03 A1 00 00") + bytes([0x03 ^ 0xA1])


def test_length_is_big_endian_over_256_data_bytes():
    frame = A090Framing().show_text(1, "A" * 200)  # 400 data bytes = 0x0190
    assert frame[4:6] == h("01 90")
    assert len(frame) == 2 + 4 + 400 + 1
    assert frame[-1] == xor(frame[2:-1])


@pytest.mark.parametrize(
    ("reply", "ok"),
    [
        (h("A0 90 A5 AA"), True),
        (h("A0 90 03 A5 AA"), True),
        (h("A0 91 03 A5 AA"), False),  # bad prefix
        (h("00 A0 90 03 A5 AA"), False),  # noise before the header
        (h("A0 90 03 A5 AB"), False),  # bad suffix
        (h("A0 90 03 A5"), False),  # truncated
        (h("A0 90 AA"), False),  # too short to hold both ends
        (b"", False),
    ],
)
def test_reply_check(reply, ok):
    assert A090Framing().reply_ok(reply) is ok


def test_unencodable_characters_are_replaced_and_reported(caplog):
    with caplog.at_level(logging.WARNING, logger="hallq.drivers.ledframe"):
        built = A090Framing().frame_text(2, "A😀𠮷\t")
    assert built.replaced == ("😀", "𠮷", "\t")
    # each replaced hanzi-width character is a full-width space A1 A1, the tab an ASCII space
    assert built.data[6:-1] == h("41 00 A1 A1 00 A1 A1 00 20 00")
    assert built.data[-1] == xor(built.data[2:-1])
    assert "cannot show" in caplog.text


def test_board_safe_is_deterministic_and_keeps_gbk():
    assert board_safe("请A·→") == ("请A·→", ())
    assert board_safe("€😀") == board_safe("€😀")


def test_text_over_board_width_is_a_clear_error():
    board = A090Framing(width=16)
    assert board.show_text(1, "A012 请到5号窗口")  # exactly 16 columns
    with pytest.raises(LedTextTooLong, match=r"17 columns.*address 1 is 16 wide"):
        board.show_text(1, "A012 请到15号窗口")


def test_text_over_length_field_is_a_clear_error():
    with pytest.raises(LedTextTooLong, match="65535"):
        A090Framing().show_text(1, "号" * 21846)  # 65538 data bytes
    assert len(A090Framing().show_text(1, "号" * 21845)) == 2 + 4 + 65535 + 1


def test_bad_address_and_colour():
    with pytest.raises(LedFrameError, match="board address"):
        A090Framing().show_text(256, "A")
    with pytest.raises(LedFrameError, match="colour"):
        A090Framing().show_text(1, "A", colour=-1)


def test_blank_and_no_brightness():
    board = A090Framing()
    assert board.blank(3) == board.show_text(3, " ")
    assert board.set_brightness(3, 50) is None


# --- the two lower-confidence framings -------------------------------------------------------


def test_crc16_xmodem_known_answer():
    assert crc16_xmodem(b"123456789") == 0x31C3
    assert crc16_xmodem(b"") == 0


def test_aabb_layout_and_sum():
    text = "请A"
    frame = AABBFraming().show_text(5, text, colour=1)
    gbk = text.encode("gbk")
    tail = h("01 00 99 00 63") + gbk + h("FF")
    assert frame == h("AA 05 BB 51 54") + bytes([sum(tail) % 256]) + tail
    assert frame[5] == sum(frame[6:]) & 0xFF
    assert AABBFraming().reply_ok(b"anything") is None
    assert AABBFraming.reply_terminator is None


def test_fe_crc16_layout_length_seq_and_crc():
    board = XmodemFraming()
    text = "5号"
    first = board.show_text(9, text)
    gbk = text.encode("gbk")
    body = h("09 FE") + bytes([len(gbk) + 12, 0]) + h("86 3C 00 05 00") + gbk + h("00")
    assert first == body + crc16_xmodem(body).to_bytes(2, "big")
    assert first[2] == len(first)
    second = board.show_text(9, text)
    assert second[3] == 1  # SEQ counts frames
    assert XmodemFraming(seq=255).show_text(9, "A")[3] == 255
    assert board.reply_ok(first) is None


def test_fe_crc16_length_byte_limits_the_text():
    XmodemFraming().show_text(1, "A" * 243)
    with pytest.raises(LedTextTooLong, match="255"):
        XmodemFraming().show_text(1, "A" * 244)


# --- registry --------------------------------------------------------------------------------


def test_registry_knows_the_three_framings():
    assert {"a0-90", "aa-bb", "fe-crc16"} <= set(FRAMINGS)
    assert isinstance(framing("a0-90"), A090Framing)
    assert framing("aa-bb", width=20).width == 20


def test_unknown_framing_lists_known_names():
    with pytest.raises(UnknownFraming, match="known framings: a0-90, aa-bb, fe-crc16"):
        framing("huidu")


def test_framing_by_module_path():
    assert isinstance(framing("hallq.drivers.ledframe:AABBFraming"), AABBFraming)
    with pytest.raises(UnknownFraming, match="could not be loaded"):
        framing("hallq.drivers.ledframe:Nope")
    with pytest.raises(UnknownFraming, match="not a LedFraming"):
        framing("hallq.drivers.ledframe:LedFrame")


def test_a_hall_adds_its_own_framing():
    @register
    class Plain(LedFraming):
        name = "test-plain"

        def _build(self, address: int, text: str, colour: int) -> bytes:
            return bytes([address]) + text.encode("gbk")

    try:
        assert framing("test-plain").show_text(1, "号") == h("01 BA C5")
    finally:
        del FRAMINGS["test-plain"]


# --- transport -------------------------------------------------------------------------------


def test_frame_over_pyserial_loop():
    board = A090Framing()
    frame = board.show_text(3, "A012 请到5号窗口")
    port = serial.serial_for_url("loop://", timeout=0.2)
    try:
        assert port.write(frame) == len(frame)
        assert port.read(len(frame)) == frame
        # a board's answer, read the way a transport reads it: up to the terminator
        port.write(h("A0 90 03 A5 AA"))
        reply = port.read_until(board.reply_terminator, board.reply_max_bytes)
        assert board.reply_ok(reply) is True
        assert port.read(1) == b""  # nothing left over
    finally:
        port.close()
