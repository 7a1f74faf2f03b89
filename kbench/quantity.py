"""Kubernetes quantities and durations, parsed as users write them.

Quantities follow ``k8s.io/apimachinery/pkg/api/resource`` suffixes: decimal ``m k M G T P E`` and
binary ``Ki Mi Gi Ti Pi Ei``, plus exponent forms such as ``1e3``. Durations follow Go's
``time.ParseDuration`` units (``ns us µs ms s m h``), including compound forms like ``1m30s``; a bare
number is seconds.
"""

from __future__ import annotations

import re

from kbench.errors import ConfigError

_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "P": 1e15, "E": 1e18}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_QTY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_DUR_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_quantity(value: object, *, where: str = "quantity") -> float:
    """Parse a Kubernetes quantity into a plain number (cores, bytes, counts).

    Args:
        value: ``"100m"``, ``"1.5Gi"``, ``"3800m"``, ``110``, ``"1e3"``.
        where: Field path used in the error message.

    Returns:
        The value in base units (``"100m"`` -> 0.1, ``"1Ki"`` -> 1024.0).

    Raises:
        ConfigError: If the text is not a valid quantity.
    """
    if isinstance(value, bool):
        raise ConfigError(f"expected a quantity such as 100m or 1.5Gi, got {value!r}", where=where)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"expected a quantity such as 100m or 1.5Gi, got {value!r}", where=where)
    match = _QTY.match(value.strip())
    if not match:
        raise ConfigError(f"malformed quantity {value!r}: expected a number with an optional "
                          "suffix (m, k, M, G, Ki, Mi, Gi, ...)", where=where)
    number, suffix = float(match.group(1)), match.group(2) or ""
    factor = _BINARY.get(suffix) or _DECIMAL[suffix]
    if factor < 1:  # divide, so that "3800m" is exactly 3.8
        return number / round(1 / factor)
    return number * factor


def parse_duration(value: object, *, where: str = "duration") -> float:
    """Parse a duration into seconds.

    Args:
        value: ``"250ms"``, ``"5m"``, ``"1m30s"``, ``"1.5h"``, or a number of seconds.
        where: Field path used in the error message.

    Returns:
        Seconds as a float.

    Raises:
        ConfigError: If the text is not a valid duration.
    """
    if isinstance(value, bool):
        raise ConfigError(f"expected a duration such as 250ms or 5m, got {value!r}", where=where)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"expected a duration such as 250ms or 5m, got {value!r}", where=where)
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DUR_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DUR_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ConfigError(f"malformed duration {value!r}: expected e.g. 250ms, 10s, 5m, 1m30s",
                          where=where)
    return total
