"""Byte- and line-level mutations of seed files, as hypothesis strategies."""

from __future__ import annotations

from hypothesis import strategies as st

_INTERESTING = [b"", b"\x00", b"-1", b"1e309", b"nan", b"NaN", b"inf", b"99999999999999999999", b":", b",", b"\n",
                b"{", b"}", b"[", b"]", b"\"", b"'", b"!!python/object:os.system", b"&a", b"*a", b"\xff\xfe",
                b"0x10", b"1Gi", b"5m", b"true", b"null", b"~", b"- ", b"#", b"\t", b"\r\n"]


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 6) -> bytes:
    """``seed`` with up to ``max_ops`` random edits: delete, insert, replace, duplicate or drop a line."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "dupline", "dropline", "truncate"]))
        pos = draw(st.integers(0, max(len(data), 1) - 1)) if data else 0
        if op == "delete" and data:
            n = draw(st.integers(1, 16))
            del data[pos:pos + n]
        elif op in ("insert", "replace"):
            blob = draw(st.one_of(st.sampled_from(_INTERESTING), st.binary(max_size=12)))
            if op == "replace":
                del data[pos:pos + len(blob)]
            data[pos:pos] = blob
        elif op in ("dupline", "dropline"):
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            if op == "dupline":
                lines.insert(i, lines[i])
            else:
                lines.pop(i)
            data = bytearray(b"\n".join(lines))
        elif op == "truncate":
            data = data[:pos]
    return bytes(data)
