"""Supply classes for the 24/7 match (issue 13, item 3): a lot's certificates grouped by the hours of their energy.

Certificates whose whole 1,000 kWh came from one hour are interchangeable for an hourly load: a run of them is one
class, with the mix ((hour, 1000),). A certificate whose energy spans hours is a class of its own, with its mix
(the overlay never splits a certificate). A big wind farm's month is a few hundred classes, one an hour; a small
distributed-PV project's, whose certificates each span many hours, one class a certificate.
"""
from __future__ import annotations

from collections.abc import Iterator

from certx.hours.curve import KWH, Curve

Mix = tuple[tuple[int, int], ...]          # (hour, kWh) in hour order, summing to 1,000


def classes(curve: Curve, first: int, last: int) -> Iterator[tuple[int, int, Mix]]:
    """(first, last, mix) of the certificates [first, last], one run of the curve's (see `Curve.energy`), in
    serial order: each run of certificates from one hour, and each certificate that spans hours."""
    a, b = curve.energy(first, last)
    k0, k, end = a // KWH, a // KWH, b // KWH

    def single(k: int) -> tuple[int, int, Mix]:
        serial = first + k - k0
        return serial, serial, tuple(curve.hours(serial, serial))

    for hour, since, to in curve.segments(a, b):
        whole_from, whole_to = max(k, -(-since // KWH)), to // KWH     # the certificates all inside the hour
        while k < min(whole_from, end):
            yield single(k)
            k += 1
        if whole_from < whole_to:
            yield first + whole_from - k0, first + whole_to - 1 - k0, ((hour, KWH),)
            k = whole_to
    while k < end:
        yield single(k)
        k += 1
