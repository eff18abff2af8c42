"""The "68" frame codec: exact bytes from PROTOCOLS.md §1, and a parser that survives a noisy bus."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hallq.drivers import frame68 as f68
from hallq.drivers.frame68 import Frame68, Frame68Parser, encode


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def parse_all(data: bytes, parser: Frame68Parser | None = None) -> list[Frame68]:
    p = parser or Frame68Parser()
    return p.feed(data)


frames = st.builds(
    Frame68,
    address=st.integers(0, 255),
    func=st.integers(0, 255),
    data=st.binary(max_size=64),
    lead=st.booleans(),
)


# Exact bytes


def test_spec_example_show_123_on_keypad_5() -> None:
    frame = f68.display_digits(5, "   123")
    assert encode(frame) == h("FF 68 08 08 68 05 02 0A 0A 0A 01 02 03 2B 16")
    assert encode(f68.display_ticket(5, "A123")) == encode(frame)


def test_encode_without_lead() -> None:
    assert encode(Frame68(5, 0x03), lead=False) == h("68 02 02 68 05 03 08 16")


def test_checksum_wraps_modulo_256() -> None:
    frame = Frame68(0xF0, 0x20, bytes([0x30]))
    assert frame.checksum == 0x40
    assert encode(frame)[-2:] == h("40 16")


@pytest.mark.parametrize(
    ("frame", "wire"),
    [
        (f68.beep(7), "FF 68 02 02 68 07 03 0A 16"),
        (f68.evaluator_start(0x85), "FF 68 03 03 68 85 01 0B 91 16"),
        (f68.evaluator_stars(0x85, 5), "FF 68 03 03 68 85 02 05 8C 16"),
        (f68.evaluator_stars(0x85, 0), "FF 68 03 03 68 85 02 00 87 16"),
        (f68.evaluator_ack(0x85, 3), "FF 68 03 03 68 85 01 03 89 16"),
        (f68.display_ticket(1, "B007"), "FF 68 08 08 68 01 02 0A 0A 0A 00 00 07 28 16"),
        (f68.display_ticket(1, "A1234"), "FF 68 08 08 68 01 02 0A 0A 0A 02 03 04 2A 16"),
        (f68.display_ticket(1, "A7"), "FF 68 08 08 68 01 02 0A 0A 0A 0A 0A 07 3C 16"),
        (f68.display_waiting(2, 12), "FF 68 08 08 68 02 02 00 01 02 0A 0A 0A 25 16"),
        (f68.display_waiting(2, 0), "FF 68 08 08 68 02 02 00 00 00 0A 0A 0A 22 16"),
        (f68.display_waiting(2, 5000), "FF 68 08 08 68 02 02 09 09 09 0A 0A 0A 3D 16"),
        (f68.blank_display(2), "FF 68 08 08 68 02 02 0A 0A 0A 0A 0A 0A 40 16"),
    ],
)
def test_builders_exact_bytes(frame: Frame68, wire: str) -> None:
    assert encode(frame) == h(wire)


@pytest.mark.parametrize(
    "call",
    [
        lambda: f68.display_digits(1, "12a"),
        lambda: f68.display_digits(1, "１２"),  # full-width digits are not keypad digits
        lambda: f68.display_waiting(1, -1),
        lambda: f68.evaluator_stars(1, 6),
        lambda: f68.evaluator_ack(1, 256),
        lambda: Frame68(256, 1),
        lambda: Frame68(1, 1, bytes(254)),
        lambda: Frame68Parser(max_data=300),
        lambda: Frame68Parser(max_buffer=16),
    ],
)
def test_bad_arguments_are_refused(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_echo_is_byte_exact_with_or_without_lead() -> None:
    for wire in ("FF 68 03 03 68 05 00 0C 11 16", "68 03 03 68 05 00 0C 11 16"):
        (frame,) = parse_all(h(wire))
        assert f68.echo(frame) == h(wire)


# Parsing


@given(st.lists(frames, max_size=8))
@settings(max_examples=200, deadline=None)
def test_round_trip(sent: list[Frame68]) -> None:
    wire = b"".join(encode(f, lead=f.lead) for f in sent)
    p = Frame68Parser()
    got = p.feed(wire)
    assert got == sent
    assert [f.lead for f in got] == [f.lead for f in sent]
    assert not p.errors and p.noise_bytes == 0 and p.pending == 0


@given(st.lists(frames, min_size=1, max_size=5), st.data())
@settings(max_examples=200, deadline=None)
def test_round_trip_across_arbitrary_split_reads(sent: list[Frame68], data: st.DataObject) -> None:
    wire = b"".join(encode(f, lead=f.lead) for f in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    p = Frame68Parser()
    got: list[Frame68] = []
    for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        got += p.feed(wire[a:b])
    assert got == sent
    assert [f.lead for f in got] == [f.lead for f in sent]


def test_one_byte_at_a_time() -> None:
    wire = encode(f68.display_digits(5, "   123")) + h("68 03 03 68 05 00 0C 11 16")
    p = Frame68Parser()
    got: list[Frame68] = []
    for i in range(len(wire)):
        out = p.feed(wire[i : i + 1])
        assert out == [] or i in (14, len(wire) - 1)  # a frame comes out on its 16
        got += out
    assert got == [f68.display_digits(5, "   123"), Frame68(5, 0, b"\x0c")]
    assert [f.lead for f in got] == [True, False]
    assert p.noise_bytes == 0


def test_garbage_and_corrupt_frames_between_good_ones() -> None:
    good = [
        Frame68(1, 0, bytes([1, 2, 0x0C])),
        Frame68(2, 0, b"\x0d"),
        Frame68(0x81, 0x11, b"\x03"),
    ]
    wire = (
        h("00 13 FF FF 55")  # line noise
        + encode(good[0])
        + h("68 04 05 68 01 00 0C 0D 16")  # the two L differ
        + h("FF 68 03 03 68 01 00 0C 0E 16")  # checksum off by one
        + encode(good[1], lead=False)
        + h("68 03 03 67 01 00 0C 0D 16")  # second 68 missing
        + h("68 03 03 68 01 00 0C 0D 17")  # no 16 at the end
        + h("68 00 00 68")  # L below 2
        + h("AA")
        + encode(good[2])
    )
    p = Frame68Parser()
    assert p.feed(wire) == good
    assert p.errors == {
        "length_mismatch": 1,
        "checksum": 1,
        "no_second_start": 1,
        "no_end": 1,
        "bad_length": 1,
    }
    assert p.good_frames == 3
    assert p.noise_bytes > 0


def test_good_frame_inside_a_corrupt_one_is_found() -> None:
    # A frame cut short by a collision: its 16 never comes, and the next frame starts inside
    # the bytes the parser was holding for it. Skipping one byte and rescanning finds it.
    good = encode(Frame68(3, 0, b"\x0c"))
    wire = h("FF 68 06 06 68 02 00 01") + good + h("00 00 00 00 00 00")
    p = Frame68Parser()
    assert p.feed(wire) == [Frame68(3, 0, b"\x0c")]
    assert p.errors["no_end"] == 1


def test_corrupt_frames_at_every_byte_position_never_lose_the_next_good_one() -> None:
    bad_base = encode(f68.display_digits(5, "   123"))
    good = Frame68(9, 0, bytes([4, 2, 0x0C]))
    for i in range(len(bad_base)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(bad_base)
            bad[i] ^= flip
            p = Frame68Parser()
            got = p.feed(bytes(bad) + encode(good))
            got += p.flush()
            assert got[-1] == good, (i, flip)


def test_false_start_in_noise_is_given_up_on_flush() -> None:
    p = Frame68Parser()
    # Noise that looks like the head of a long frame: the parser waits for 28 more bytes.
    assert p.feed(h("68 20 20 68 01")) == []
    assert p.pending == 5
    good = encode(Frame68(4, 0, b"\x0d"))
    assert p.feed(good) == []  # still inside the 32 bytes the false start claims
    assert p.flush() == [Frame68(4, 0, b"\x0d")]  # the read timed out: rescan
    assert p.errors["truncated"] == 1
    assert p.pending == 0


def test_flush_with_only_a_lead_byte_is_noise_not_a_frame() -> None:
    p = Frame68Parser()
    assert p.feed(h("FF")) == []
    assert p.pending == 1  # kept: the 68 may come in the next read
    assert p.flush() == []
    assert not p.errors and p.noise_bytes == 1


def test_lead_split_from_its_frame_is_not_noise() -> None:
    p = Frame68Parser()
    assert p.feed(h("12 FF")) == []
    (frame,) = p.feed(h("68 02 02 68 05 03 08 16"))
    assert frame.lead
    assert p.noise_bytes == 1


def test_reset_forgets_a_partial_frame() -> None:
    p = Frame68Parser()
    p.feed(h("FF 68 03 03 68 05"))
    p.reset()
    assert p.pending == 0
    assert p.feed(h("00 0C 11 16")) == []


def test_long_frames_beyond_max_data_are_refused_at_the_header() -> None:
    p = Frame68Parser(max_data=8)
    wire = encode(Frame68(1, 2, bytes(20)))
    assert p.feed(wire) == []
    assert p.errors["bad_length"] == 1
    assert p.pending == 0  # nothing held back waiting for it
    assert Frame68Parser(max_data=253).feed(wire) == [Frame68(1, 2, bytes(20))]


def test_buffer_is_capped_under_a_stream_of_noise() -> None:
    p = Frame68Parser(max_buffer=1024)
    noise = bytes(range(256)) * 400 + h("68 40 40 68") * 100 + b"\x68" * 5000
    got = []
    for i in range(0, len(noise), 3000):
        got += p.feed(noise[i : i + 3000])
        assert p.pending < p.max_frame <= p.max_buffer
    assert p.pending < p.max_frame
    # and it still hears a keypad afterwards
    assert p.feed(bytes(100) + encode(Frame68(1, 0, b"\x0c"))) == [Frame68(1, 0, b"\x0c")]


@given(st.binary(max_size=600), st.lists(frames, max_size=3))
@settings(max_examples=200, deadline=None)
def test_random_noise_never_raises_and_stays_bounded(noise: bytes, sent: list[Frame68]) -> None:
    p = Frame68Parser(max_data=64)
    p.feed(noise)
    assert p.pending < p.max_frame
    p.flush()
    assert p.pending == 0
    assert p.feed(b"".join(encode(f) for f in sent)) == sent
