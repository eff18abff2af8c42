"""DLE EOT status: requests, reply parsing, and what the kiosk may do with the result."""

from __future__ import annotations

import pytest

from hallq.drivers.printer_status import (
    PrinterStatus,
    can_print,
    parse_status,
    status_byte,
    status_request,
)

CLEAR = b"\x12"  # every DLE EOT reply with nothing to report: fixed bits 1 and 4 only


def test_requests_are_dle_eot_n() -> None:
    assert [status_request(n) for n in (1, 2, 3, 4)] == [
        b"\x10\x04\x01",
        b"\x10\x04\x02",
        b"\x10\x04\x03",
        b"\x10\x04\x04",
    ]
    with pytest.raises(ValueError):
        status_request(5)


def test_all_clear() -> None:
    status = parse_status(CLEAR, CLEAR, CLEAR, CLEAR)
    assert status == PrinterStatus(online=True, paper="ok", cover_open=False, error=None)
    assert can_print(status) == (True, "打印机正常")
    assert status.summary_en == "Printer ready"


@pytest.mark.parametrize("reply", [b"\x1e", b"\x16", b"\x1a"])  # bits 2+3, or one sensor bit
def test_paper_near_end_still_prints(reply: bytes) -> None:
    status = parse_status(CLEAR, CLEAR, CLEAR, reply)
    assert status.paper == "near_end"
    ok, reason = can_print(status)
    assert ok and reason == "打印机纸将用尽"
    assert "nearly used up" in status.summary_en


@pytest.mark.parametrize("reply", [b"\x72", b"\x7e", b"\x32", b"\x52"])
def test_paper_out_stops_printing(reply: bytes) -> None:
    status = parse_status(b"\x1a", b"\x32", CLEAR, reply)
    assert status.paper == "out" and status.online is False
    assert can_print(status) == (False, "打印机缺纸，请更换纸卷")


def test_paper_end_stop_in_offline_cause_means_out_even_without_sensor_reply() -> None:
    status = parse_status(b"\x1a", b"\x32", b"", b"")
    assert status.paper == "out"


def test_cover_open() -> None:
    status = parse_status(b"\x1a", b"\x16", CLEAR, CLEAR)
    assert status.cover_open is True and status.online is False and status.paper == "ok"
    assert can_print(status) == (False, "打印机盖未关好")
    assert status.summary_en == "The printer cover is open"


def test_cover_open_and_paper_out_lists_both() -> None:
    status = parse_status(b"\x1a", b"\x36", CLEAR, b"\x7e")
    assert status.summary_zh == "打印机缺纸，请更换纸卷；打印机盖未关好"


def test_offline_without_a_known_cause() -> None:
    status = parse_status(b"\x1a", b"", b"", b"")
    assert status.online is False
    ok, reason = can_print(status)
    assert not ok and reason == "打印机离线，请检查打印机"


@pytest.mark.parametrize(
    ("error_cause", "code", "words"),
    [
        (b"\x1a", "cutter", "切刀"),
        (b"\x32", "unrecoverable", "重启"),
        (b"\x52", "auto_recoverable", "自动恢复"),
        (b"\x16", "mechanical", "机械"),
    ],
)
def test_error_causes(error_cause: bytes, code: str, words: str) -> None:
    status = parse_status(b"\x1a", b"\x52", error_cause, CLEAR)
    assert status.error == code
    ok, reason = can_print(status)
    assert not ok and words in reason


def test_error_flag_without_error_cause_reply() -> None:
    status = parse_status(b"\x1a", b"\x52", b"", CLEAR)
    assert status.error == "error"
    assert can_print(status)[0] is False


@pytest.mark.parametrize("empty", [b"", None])
def test_no_reply_is_unknown_never_out(empty: bytes | None) -> None:
    status = parse_status(empty, empty, empty, empty)
    assert status == PrinterStatus(online=None, paper="unknown", cover_open=None, error=None)
    ok, reason = can_print(status)
    assert ok and "缺纸" not in reason and reason == "打印机未回复状态"


def test_paper_sensor_timeout_alone_is_unknown() -> None:
    status = parse_status(CLEAR, CLEAR, CLEAR, b"")
    assert status.paper == "unknown" and status.online is True
    assert can_print(status) == (True, "打印机正常")


@pytest.mark.parametrize("byte", [0x00, 0xFF, 0x60, 0x72 | 0x80, 0x72 | 0x01, 0x70, 0x62, 0x7C])
def test_malformed_bytes_are_unknown(byte: int) -> None:
    assert status_byte(bytes([byte])) is None
    status = parse_status(bytes([byte]), bytes([byte]), bytes([byte]), bytes([byte]))
    assert status.paper == "unknown" and status.online is None and status.cover_open is None
    assert status.error is None


def test_no_malformed_sensor_byte_ever_reads_as_out() -> None:
    for value in range(256):
        paper = parse_status(paper_sensor=bytes([value])).paper
        well_formed = value & 0x93 == 0x12
        if not well_formed:
            assert paper == "unknown", hex(value)
        else:
            assert paper == ("out" if value & 0x60 else "near_end" if value & 0x0C else "ok")


def test_the_last_byte_of_a_longer_reply_counts() -> None:
    assert parse_status(paper_sensor=b"\x72\x12").paper == "ok"


def test_not_connected() -> None:
    status = PrinterStatus.not_connected()
    assert can_print(status) == (False, "打印机未连接")
    assert status.summary_en == "The printer is not connected"
    assert status.paper == "unknown"
