"""The dispatcher's pace per target: Slack allows one message a second with short bursts, so a
pass's first few messages go at once and a flood is spread one a second (a clock passed in)."""

from monitor.delivery.dispatcher import BURST, Pacer


def test_a_burst_goes_at_once_then_one_a_second() -> None:
    pacer = Pacer()
    waits = [pacer.wait("slack:a", 100.0) for _ in range(BURST + 3)]
    assert waits == [0.0] * BURST + [1.0, 2.0, 3.0]


def test_targets_are_paced_apart() -> None:
    pacer = Pacer(burst=1)
    assert pacer.wait("slack:a", 0.0) == 0.0
    assert pacer.wait("slack:b", 0.0) == 0.0
    assert pacer.wait("slack:a", 0.0) == 1.0


def test_quiet_time_refills_the_burst_but_never_beyond_it() -> None:
    pacer = Pacer()
    for _ in range(BURST):
        pacer.wait("slack:a", 0.0)
    assert pacer.wait("slack:a", 0.5) == 0.5  # half a send refilled: the next waits the other half
    assert [pacer.wait("slack:a", 1000.0) for _ in range(BURST + 1)] == [0.0] * BURST + [1.0]
