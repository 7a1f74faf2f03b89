"""What one scheduling cycle produced (:class:`ScheduleResult`), with its lazily built per-node arrays.

The framework (:mod:`kbench.policy.framework`) keeps what the Filter plugins returned, as they
returned it, in a :class:`FilterLog`, and the candidates' scores per Score plugin; the ``(n,)``
arrays that explain and the scheduler read (:attr:`ScheduleResult.filter_reasons`,
:attr:`ScheduleResult.scores`) are built from them on first access only, so a cycle whose pod is
placed never pays for per-node reason strings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from kbench.policy.api import Code, CodedReasons, CycleState, FilterResult, Status

ALL_PASS = FilterResult(None, "")
"""The record of a filter whose ``passes_all`` held: every row it was shown passes (ok None)."""

_UNRESOLVABLE = int(Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
_OK = Status.success()


class FilterLog:
    """What the filters said in one cycle, kept as returned; per-node arrays are built on demand.

    Records are ``(plugin, rows, FilterResult, ok)`` in call order (each row fails at most once),
    ``(plugin, rows, FilterResult, None)`` for a filter that was not called because its
    ``passes_all`` held (every row passes), or ``(plugin, None, Status, None)`` for a PreFilter
    rejection of every node. Only rows whose
    rotated position ``(row - start) % n`` is below ``processed`` count (the evaluated ones).
    """

    __slots__ = ("n", "names", "records", "start", "processed", "_coded")

    def __init__(self, n: int, names: list[str]):
        self.n, self.names, self.records = n, names, []
        self.start, self.processed = 0, n
        self._coded: list | None = None

    def _coded_entries(self) -> list:
        """``list(self._entries(coded=True))``, built once (the log is complete when it is read)."""
        if self._coded is None:
            self._coded = list(self._entries(coded=True))
        return self._coded

    def _kept(self, rows: np.ndarray) -> np.ndarray | None:
        """Mask of ``rows`` that were evaluated (None: all)."""
        if self.processed >= self.n:
            return None
        return (rows - self.start) % self.n < self.processed

    def _entries(self, coded: bool = False):
        """``(plugin, rows, ok, reasons of failing rows (str or array), code(s) of failing rows)``.

        With ``coded``, the reasons of a plugin that gave :class:`CodedReasons` come as a
        ``CodedReasons`` of the failing rows instead of an array.
        """
        for name, rows, res, ok in self.records:
            if rows is None:
                yield name, np.arange(self.n), np.zeros(self.n, dtype=bool), res.message(), int(res.code)
                continue
            if ok is None:  # a filter whose passes_all held: every row passes
                kept = self._kept(rows)
                if kept is not None:
                    rows = rows[kept]
                yield name, rows, np.ones(rows.size, dtype=bool), "", res.code
                continue
            bad = ~ok
            given = res.coded()
            if given is not None:
                why = given.codes[bad] if coded else given.materialize()[bad]
            else:
                why = res.reasons if isinstance(res.reasons, str) else np.asarray(res.reasons, dtype=object)[bad]
            code = res.code if np.isscalar(res.code) else np.asarray(res.code)[bad]
            kept = self._kept(rows)
            if kept is not None:
                kb = kept[bad]
                why = why if isinstance(why, str) else why[kb]
                code = code if np.isscalar(code) else code[kb]
                rows, ok = rows[kept], ok[kept]
            if given is not None and coded:
                why = CodedReasons(why, given.texts)
            yield name, rows, ok, why, code

    def statuses(self) -> dict[str, np.ndarray]:
        """Filter plugin → ``(n,) object`` of ``(code, reason)`` per node (``(Code.SUCCESS, "")``
        for a pass), or None where the plugin did not look at the node."""
        out = {name: np.empty(self.n, dtype=object) for name in self.names}
        ok_status = (int(Code.SUCCESS), "")
        for name, rows, ok, why, code in self._entries():
            arr = out.setdefault(name, np.empty(self.n, dtype=object))
            for r in rows[ok].tolist():
                arr[r] = ok_status
            bad = rows[~ok].tolist()
            whys = [why] * len(bad) if isinstance(why, str) else [str(w) for w in np.asarray(why).tolist()]
            codes = [int(code)] * len(bad) if np.isscalar(code) else np.asarray(code).tolist()
            for r, w, c in zip(bad, whys, codes, strict=True):
                arr[r] = (int(c), w)
        return out

    def rejectors(self) -> set[str]:
        """Plugins that rejected at least one evaluated node (or every node at PreFilter)."""
        return {name for name, r, ok, _, _ in self._coded_entries() if r.size > int(np.count_nonzero(ok))}

    def rows_seen(self) -> int:
        """Evaluated rows shown to the Filter plugins in all (each plugin's rows counted)."""
        total = 0
        for _, rows, _, _ in self.records:
            if rows is None:
                continue
            kept = self._kept(rows)
            total += rows.size if kept is None else int(np.count_nonzero(kept))
        return total

    def reasons(self) -> dict[str, np.ndarray]:
        """Filter plugin → ``(n,) object`` ("Success", the reason, or None), as documented."""
        out = {name: np.empty(self.n, dtype=object) for name in self.names}
        for name, rows, ok, why, _ in self._entries():
            arr = out.setdefault(name, np.empty(self.n, dtype=object))
            arr[rows[ok]] = "Success"
            arr[rows[~ok]] = why
        return out

    def failures(self) -> tuple[list[int], list[int], list[str], list[str]]:
        """Evaluated rows that failed (ascending) with their code, failing plugin and reason."""
        rows, codes, plugins, whys = [], [], [], []
        for name, r, ok, why, code in self._entries():
            failed = r[~ok]
            if not failed.size:
                continue
            rows.append(failed)
            codes.append(np.broadcast_to(np.asarray(code, dtype=np.int64), failed.shape))
            plugins.append(np.full(failed.size, name, dtype=object))
            whys.append(np.broadcast_to(np.asarray(why, dtype=object), failed.shape))
        if not rows:
            return [], [], [], []
        r = np.concatenate(rows)
        order = np.argsort(r, kind="stable")
        return (r[order].tolist(), np.concatenate(codes)[order].tolist(),
                np.concatenate(plugins)[order].tolist(), [str(w) for w in np.concatenate(whys)[order].tolist()])


    def failure_counts(self) -> tuple[dict[str, int], int, bool]:
        """``(reason → failed evaluated rows, failed rows, every failure UNSCHEDULABLE_AND_UNRESOLVABLE)``,
        as :meth:`failures` would give them, without building per-row lists."""
        counts: dict[str, int] = {}
        total, unresolvable = 0, True
        for _, r, ok, why, code in self._coded_entries():
            nfail = r.size - int(np.count_nonzero(ok))
            if not nfail:
                continue
            total += nfail
            if isinstance(why, str):
                counts[why] = counts.get(why, 0) + nfail
            else:
                if isinstance(why, CodedReasons):
                    tally = np.bincount(why.codes, minlength=len(why.texts)).tolist()
                    pairs = ((why.texts[c], n) for c, n in enumerate(tally) if n)
                else:
                    pairs = Counter(np.asarray(why, dtype=object).tolist()).items()
                for w, c in pairs:
                    counts[str(w)] = counts.get(str(w), 0) + c
            if unresolvable:
                if isinstance(code, (int, np.integer)):
                    unresolvable = bool(code == _UNRESOLVABLE)
                else:
                    unresolvable = bool(np.all(np.asarray(code) == _UNRESOLVABLE))
        return counts, total, unresolvable and total > 0

    def distinct_reasons(self) -> dict[str, list]:
        """Filter plugin → its distinct rejection reasons over the evaluated rows, in row order
        (the non-None, non-"Success" values of :meth:`reasons`, first occurrences in row order)."""
        parts: dict[str, list[tuple[np.ndarray, object]]] = {name: [] for name in self.names}
        for name, r, ok, why, _ in self._coded_entries():
            failed = r[~ok]
            if failed.size:
                parts.setdefault(name, []).append((failed, why))
        out: dict[str, list] = {}
        for name, got in parts.items():
            if not got:
                continue
            if len(got) == 1 and isinstance(got[0][1], str):
                values = [got[0][1]]
            elif len(got) == 1 and isinstance(got[0][1], CodedReasons) and _ascending_ring(got[0][0]):
                # rows already in ascending order: first occurrences of the codes as they come
                codes, texts = got[0][1].codes, got[0][1].texts
                present = np.flatnonzero(np.bincount(codes, minlength=len(texts))).tolist()
                if len(present) > 8:
                    uniq, first = np.unique(codes, return_index=True)
                    present = uniq[np.argsort(first)].tolist()
                elif len(present) > 1:  # few codes: find each one's first position
                    present.sort(key=lambda c: int((codes == c).argmax()))
                values = list(dict.fromkeys(texts[c] for c in present))
            elif all(isinstance(w, CodedReasons) for _, w in got) and len({id(w.texts) for _, w in got}) == 1:
                rows = np.concatenate([f for f, _ in got])
                codes = np.concatenate([w.codes for _, w in got])[np.argsort(rows, kind="stable")]
                uniq, first = np.unique(codes, return_index=True)
                texts = got[0][1].texts
                values = list(dict.fromkeys(texts[c] for c in uniq[np.argsort(first)].tolist()))
            else:
                rows = np.concatenate([f for f, _ in got])
                whys = np.concatenate([np.broadcast_to(_as_objects(w), f.shape) for f, w in got])
                values = list(dict.fromkeys(whys[np.argsort(rows, kind="stable")].tolist()))
            values = [v for v in values if v is not None and not (isinstance(v, str) and v == "Success")]
            if values:
                out[name] = values
        return out


def _ascending_ring(rows: np.ndarray) -> bool:
    """True when ``rows``, an ordered subsequence of a rotation of ``0..n-1`` (how the framework
    shows rows to the filters), is ascending: it is unless it wraps, and then its last row is
    below its first."""
    return rows.size < 2 or int(rows[0]) < int(rows[-1])


def _as_objects(why) -> np.ndarray:
    return why.materialize() if isinstance(why, CodedReasons) else np.asarray(why, dtype=object)


class FilterReasons(Mapping):
    """Filter plugin → ``(n,) object`` array of per-node verdicts, built on first access."""

    def __init__(self, log: FilterLog):
        self._log = log
        self._data: dict[str, np.ndarray] | None = None

    def _get(self) -> dict[str, np.ndarray]:
        if self._data is None:
            self._data = self._log.reasons()
        return self._data

    def distinct(self) -> dict[str, list]:
        """Filter plugin → distinct rejection reasons in row order (:meth:`FilterLog.distinct_reasons`)."""
        return self._log.distinct_reasons()

    def __getitem__(self, name: str) -> np.ndarray:
        return self._get()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def __repr__(self) -> str:
        return f"FilterReasons({self._get()!r})"


class ScoreArrays(Mapping):
    """Score plugin → ``(n,) int64`` normalized scores (0 on nodes not scored) or None (skipped);
    each array is built from the candidates' scores on first access."""

    def __init__(self, n: int, names: list[str]):
        self._n = n
        self._raw: dict[str, tuple[np.ndarray, np.ndarray] | None] = dict.fromkeys(names)
        self._full: dict[str, np.ndarray] = {}

    def record(self, name: str, cand: np.ndarray, raw: np.ndarray) -> None:
        """Keep the scores ``raw`` of plugin ``name`` on rows ``cand``."""
        self._raw[name] = (cand, raw)

    def __getitem__(self, name: str) -> np.ndarray | None:
        got = self._raw[name]
        if got is None:
            return None
        full = self._full.get(name)
        if full is None:
            full = self._full[name] = np.zeros(self._n, dtype=np.int64)
            full[got[0]] = got[1]
        return full

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return f"ScoreArrays({dict(self.items())!r})"


@dataclass
class ScheduleResult:
    """The outcome of one cycle. Arrays are aligned with the node table's rows.

    Attributes:
        node: Chosen node name, or None.
        node_idx: Chosen row, or None.
        feasible: ``(n,) bool`` nodes that passed every filter.
        evaluated: ``(n,) bool`` nodes the filters looked at (all with ``evaluate_all``).
        filter_reasons: Filter plugin → ``(n,) object``: "Success", the rejection reason, or None
            when the plugin did not look at the node (an earlier filter rejected it, it skipped, or
            the node was not evaluated). A read-only mapping, built on first access.
        scores: Score plugin → ``(n,) int64`` normalized scores before weighting (0 on nodes not
            scored), or None when the plugin skipped the pod at PreScore. A read-only mapping whose
            arrays are built on first access.
        total: ``(n,) int64`` weighted totals (0 on nodes not scored).
        scored: ``(n,) bool`` nodes that were scored.
        weights: Score plugin → weight.
        gpus: GPU indices on the chosen node.
        status: SUCCESS, or why the pod was not placed (UNSCHEDULABLE..., ERROR, or WAIT from Permit).
        nominated_node: Node a PostFilter plugin nominated (preemption), or None.
        state: The cycle state (e.g. PostFilter's victims; ``state.work``: the cycle's work).
        pre_filter: PreFilter plugin → its status when not SUCCESS (SKIP, or the rejection).
        pre_score: PreScore plugin → its status when not SUCCESS (SKIP, or the error).
        log: The filters' record (per-node statuses, rejecting plugins), when filters ran.
    """

    node: str | None
    node_idx: int | None
    feasible: np.ndarray
    evaluated: np.ndarray
    filter_reasons: Mapping[str, np.ndarray]
    scores: Mapping[str, np.ndarray | None]
    total: np.ndarray
    scored: np.ndarray
    weights: dict[str, int]
    gpus: tuple[int, ...] = ()
    status: Status = field(default_factory=Status.success)
    nominated_node: str | None = None
    state: CycleState = field(default_factory=CycleState)
    pre_filter: dict[str, Status] = field(default_factory=dict)
    pre_score: dict[str, Status] = field(default_factory=dict)
    log: FilterLog | None = None

    def rejectors(self) -> set[str]:
        """Plugins that rejected the pod somewhere this cycle (PreFilter or Filter): the plugins
        whose registered events may make it schedulable (upstream ``UnschedulablePlugins``)."""
        return set() if self.log is None else self.log.rejectors()


class LazyResult(ScheduleResult):
    """A :class:`ScheduleResult` whose ``(n,)`` arrays (``feasible``, ``evaluated``, ``total``,
    ``scored``) are built on first read from the cycle's window (``span``: start, processed),
    feasible rows (``alive``) and scored candidates (``cand``, ``totals``): the scheduler reads none
    of them after a successful cycle. An array may also be read and written in place (the
    framework's other branches: a PreFilterResult's rows, a nominated node); then it is kept as
    written and the fields it would be built from are not set."""

    def __init__(self, n: int, filter_reasons, scores, weights: dict, state: CycleState, log: FilterLog):
        # not the dataclass __init__: the four arrays are properties here
        self.node = self.node_idx = self.nominated_node = None
        self.filter_reasons, self.scores, self.weights = filter_reasons, scores, weights
        self.gpus, self.status, self.state, self.log = (), _OK, state, log
        self.pre_filter, self.pre_score = {}, {}
        self.n, self.span, self.alive, self.cand, self.totals = n, (0, 0), None, None, None
        self._arrays: dict[str, np.ndarray] = {}

    def _array(self, name: str) -> np.ndarray:
        got = self._arrays.get(name)
        if got is None:
            n = self.n
            got = np.zeros(n, dtype=np.int64 if name == "total" else bool)
            if name == "evaluated":
                start, processed = self.span
                got[start:start + processed] = True
                got[:max(start + processed - n, 0)] = True
            elif name == "feasible" and self.alive is not None:
                got[self.alive] = True
            elif name == "total" and self.cand is not None:
                got[self.cand] = self.totals
            elif name == "scored" and self.cand is not None:
                got[self.cand] = True
            self._arrays[name] = got
        return got

    feasible = property(lambda self: self._array("feasible"), lambda self, v: self._arrays.__setitem__("feasible", v))
    evaluated = property(lambda self: self._array("evaluated"),
                         lambda self, v: self._arrays.__setitem__("evaluated", v))
    total = property(lambda self: self._array("total"), lambda self, v: self._arrays.__setitem__("total", v))
    scored = property(lambda self: self._array("scored"), lambda self, v: self._arrays.__setitem__("scored", v))
