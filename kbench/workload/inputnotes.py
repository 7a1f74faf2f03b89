"""What a cluster dump or a manifest file asked for that a run leaves out, said once per kind of
thing and file, naming the objects (the run's ``ignored`` list and its ``warning:`` lines)."""

from __future__ import annotations

from pathlib import Path


class Notes:
    """Notes gathered while reading ``kbench run --cluster`` / ``--apply`` inputs.

    ``add(source, what, ref)`` with the same ``source`` and ``what`` gathers ``ref`` into one line:
    ``app.yaml: volumes are not modelled (Deployment default/web, StatefulSet default/db)``.
    """

    LIMIT = 3
    """Objects named per line; the rest are counted."""

    def __init__(self) -> None:
        self._refs: dict[tuple[str, str], list[str]] = {}

    def add(self, source: str | Path, what: str, ref: str = "") -> None:
        """Note ``what`` about file ``source`` (named by its file name), for object ``ref``."""
        refs = self._refs.setdefault((Path(str(source)).name, what), [])
        if ref and ref not in refs:
            refs.append(ref)

    def lines(self) -> list[str]:
        """One line per note, in the order they were first made."""
        out = []
        for (source, what), refs in self._refs.items():
            text = f"{source}: {what}"
            if refs:
                shown = ", ".join(refs[: self.LIMIT])
                more = len(refs) - self.LIMIT
                text += f" ({shown}{f' and {more} more' if more > 0 else ''})"
            out.append(text)
        return out
