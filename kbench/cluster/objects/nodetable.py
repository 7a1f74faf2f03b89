"""The node table: every node's resources as a struct of numpy arrays (DESIGN.md decision 3).

Rows are nodes in insertion order (callers sort by name where order matters); columns of the
resource matrices are resources (``resources`` / ``res_index``). Policies score all candidate nodes
in one call by indexing these arrays with the candidate row numbers.

Units as in :mod:`kbench.cluster.objects.core`.

Longer than the ~400-line guide on purpose: it is one data structure whose columns must change
together (resources, GPUs, labels, images, the pod change log), and splitting it would spread one
invariant over several files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kbench.cluster.objects.core import Node, Pod, Taint

_BASE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")
_QUANTITIES = ("allocatable", "requested", "nonzero_requested")
_PODS_LOG = 4096
"""How many of the latest pod changes :meth:`NodeTable.pods_changed_since` can list (at least)."""
_FIT_ROWS = 16
"""Above this many changes since a :meth:`NodeTable.gpu_fit_count` column was refreshed, one numpy
pass over every row is cheaper than refreshing the changed rows one by one."""


class NodeTable:
    """Nodes and what is bound to them, as arrays.

    Attributes:
        names: Node names by row. ``index`` maps a name to its row; ``n`` is the row count.
        resources: Resource names by column (cpu, memory, ephemeral-storage, pods, then any other
            resource seen); ``res_index`` maps a name to its column.
        allocatable: ``(n, R) float64`` allocatable per resource (0 where the node lacks it).
        requested: ``(n, R) float64`` sums of bound pods' requests (E6); the ``pods`` column holds
            the bound pod count.
        nonzero_requested: ``(n, R) float64`` sums of bound pods' non-zero requests (E4).
        allocatable_int, requested_int, nonzero_requested_int: The same three rounded to the
            nearest integer (``np.rint``, ties to even) as ``(n, R) int64``, kept in step: the
            resource plugins compare these integers, as upstream does with int64 quantities.
        free_int: ``(n, R) int64`` room left, ``allocatable_int - requested_int``, except that the
            ``pods`` column is allocatable pods minus ``pod_count``.
        pod_count: ``(n,) int64`` bound pods per node; ``pod_total`` their sum.
        labels, taints: Per-node label dicts and taint lists.
        unschedulable: ``(n,) bool``.
        gpu_count: ``(n,) int64`` GPUs per node.
        gpu_model: GPU model per node (None for none); ``gpu_model_codes`` ``(n,) int64`` indexes
            ``gpu_model_names`` (-1 for None).
        gpu_free_milli: ``(n, G) int64`` free thousandths per GPU; G is the most GPUs on any node,
            and -1 pads GPUs a node does not have (a free whole GPU is 1000).
        gpu_free_total: ``(n,) int64`` free thousandths summed over each node's GPUs, kept in step.
        pods: Bound pods per node; ``pod_gpus`` the GPU indices each holds (aligned with ``pods``).
        affinity_pods: ``(n,) int64`` bound pods with any pod (anti-)affinity term per node, and
            ``affinity_total`` their sum (upstream ``HavePodsWithAffinityList``).
        req_anti_pods: ``(n,) int64`` bound pods with a required anti-affinity term per node, and
            ``req_anti_total`` their sum (upstream ``HavePodsWithRequiredAntiAffinityList``).
        used_ports: ``(protocol, port) -> {row: {ip: count}}`` host ports bound pods use (NodePorts).
        pods_version: Bumped by every :meth:`add_pod` / :meth:`remove_pod`; ``row_pods_version``
            ``(n,) int64`` holds, per row, the ``pods_version`` of its last change, and
            :meth:`pods_changed_since` / :meth:`pod_changes_since` list recent changes, so a
            cache of per-node pod counts can follow only what changed.
        taints_version: Bumped by :meth:`add_node`, :meth:`set_taints` and :meth:`set_unschedulable`;
            caches derived from ``taints`` (or ``unschedulable``) key on it.
        labels_version: Bumped by :meth:`add_node` and :meth:`set_labels`; caches derived from
            ``labels`` key on it.

    Change ``taints``, ``unschedulable`` and ``labels`` only through the ``set_*`` methods, and
    bound pods (hence ``requested``) only through :meth:`add_pod` / :meth:`remove_pod`, so that
    these versions and the ``*_int`` arrays stay true.
    """

    allocatable: np.ndarray
    requested: np.ndarray
    nonzero_requested: np.ndarray
    allocatable_int: np.ndarray
    requested_int: np.ndarray
    nonzero_requested_int: np.ndarray
    free_int: np.ndarray
    pod_count: np.ndarray
    row_pods_version: np.ndarray
    unschedulable: np.ndarray
    gpu_count: np.ndarray
    gpu_model_codes: np.ndarray
    gpu_free_milli: np.ndarray
    gpu_free_total: np.ndarray
    affinity_pods: np.ndarray
    req_anti_pods: np.ndarray

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}
        self.resources: list[str] = list(_BASE_RESOURCES)
        self.res_index: dict[str, int] = {r: i for i, r in enumerate(self.resources)}
        r = len(self.resources)
        self.labels: list[dict[str, str]] = []
        self.taints: list[list[Taint]] = []
        self.gpu_model: list[str | None] = []
        self.gpu_model_names: list[str] = []
        self.pods: list[list[Pod]] = []
        self.pod_gpus: list[list[tuple[int, ...]]] = []
        # Row buffers with spare capacity (doubling); the public arrays are views of their first n rows.
        self._cap = 0
        self._buf: dict[str, np.ndarray] = {
            "allocatable": np.zeros((0, r)), "requested": np.zeros((0, r)), "nonzero_requested": np.zeros((0, r)),
            **{key + "_int": np.zeros((0, r), dtype=np.int64) for key in (*_QUANTITIES, "free")},
            "pod_count": np.zeros(0, dtype=np.int64), "row_pods_version": np.zeros(0, dtype=np.int64),
            "unschedulable": np.zeros(0, dtype=bool),
            "gpu_count": np.zeros(0, dtype=np.int64), "gpu_model_codes": np.zeros(0, dtype=np.int64),
            "gpu_free_milli": np.zeros((0, 0), dtype=np.int64), "gpu_free_total": np.zeros(0, dtype=np.int64),
            "affinity_pods": np.zeros(0, dtype=np.int64), "req_anti_pods": np.zeros(0, dtype=np.int64)}
        self._views()
        self._images: dict[str, dict[int, int]] = {}
        self._cache: dict[tuple, object] = {}
        self._fit: dict[int, tuple[np.ndarray, int]] = {}  # u -> (GPUs with >= u milli free per row, version)
        self.pods_version = 0
        self._pods_log: list[tuple[int, Pod, int]] = []  # latest (row, pod, ±1) changes, oldest first
        self._rows_log: list[int] = []  # the rows of _pods_log (a slice of it answers pods_changed_since)
        self.taints_version = 0
        self.labels_version = 0
        self.affinity_total = 0
        self.req_anti_total = 0
        self.pod_total = 0
        self.used_ports: dict[tuple[str, int], dict[int, dict[str, int]]] = {}

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self.names)

    def __len__(self) -> int:
        return len(self.names)

    # ----- building -------------------------------------------------------------------------

    @classmethod
    def from_nodes(cls, nodes, pods=()) -> NodeTable:
        """Build a table from nodes (rows in the given order) and bind pods with ``node_name``.

        Args:
            nodes: :class:`~kbench.cluster.objects.core.Node` objects.
            pods: Pods; those whose ``node_name`` is set are bound there (with their
                ``gpu_indices`` when given); others are ignored.

        Raises:
            KeyError: A pod names a node not in ``nodes``.
        """
        table = cls()
        for node in nodes:
            table.add_node(node)
        for pod in pods:
            if pod.node_name is None:
                continue
            if pod.node_name not in table.index:
                raise KeyError(f"pod {pod.key} is bound to unknown node {pod.node_name!r}")
            table.add_pod(pod, table.index[pod.node_name], tuple(pod.gpu_indices))
        return table

    def _views(self) -> None:
        n = len(self.names)
        for key, buf in self._buf.items():
            setattr(self, key, buf[:n])

    def _grow(self, rows: int, gpus: int) -> None:
        """Make room for ``rows`` rows and ``gpus`` GPU columns (capacity doubles)."""
        width = self._buf["gpu_free_milli"].shape[1]
        cap = max(rows, 2 * self._cap, 16) if rows > self._cap else self._cap
        if cap == self._cap and gpus <= width:
            return
        width = max(width, gpus)
        for key, buf in self._buf.items():
            if key == "gpu_free_milli":
                new = np.full((cap, width), -1, dtype=buf.dtype)
                new[: buf.shape[0], : buf.shape[1]] = buf
            else:
                new = np.zeros((cap, *buf.shape[1:]), dtype=buf.dtype)
                new[: buf.shape[0]] = buf
            self._buf[key] = new
        self._cap = cap

    def ensure_resource(self, name: str) -> int:
        """The column of resource ``name``, adding a zero column if it is new."""
        col = self.res_index.get(name)
        if col is None:
            col = len(self.resources)
            self.resources.append(name)
            self.res_index[name] = col
            for key in (*_QUANTITIES, *(q + "_int" for q in (*_QUANTITIES, "free"))):
                buf = self._buf[key]
                self._buf[key] = np.hstack([buf, np.zeros((buf.shape[0], 1), dtype=buf.dtype)])
            self._views()
        return col

    def add_node(self, node: Node) -> int:
        """Append ``node`` as a new row and return its row number.

        Raises:
            ValueError: A node of that name is already in the table.
        """
        if node.name in self.index:
            raise ValueError(f"duplicate node name {node.name!r}")
        for res in node.allocatable:
            self.ensure_resource(res)
        idx = self.n
        g = int(node.gpu_count)
        self._grow(idx + 1, g)
        buf = self._buf
        for res, value in node.allocatable.items():
            buf["allocatable"][idx, self.res_index[res]] = value
        buf["allocatable_int"][idx] = np.rint(buf["allocatable"][idx])
        buf["free_int"][idx] = buf["allocatable_int"][idx]
        buf["unschedulable"][idx] = bool(node.unschedulable)
        buf["gpu_count"][idx] = g
        code = -1
        if node.gpu_model is not None:
            if node.gpu_model not in self.gpu_model_names:
                self.gpu_model_names.append(node.gpu_model)
            code = self.gpu_model_names.index(node.gpu_model)
        buf["gpu_model_codes"][idx] = code
        buf["gpu_free_milli"][idx, :g] = 1000
        buf["gpu_free_total"][idx] = 1000 * g
        self.names.append(node.name)
        self.index[node.name] = idx
        self.labels.append(dict(node.labels))
        self.taints.append(list(node.taints))
        self.gpu_model.append(node.gpu_model)
        self.pods.append([])
        self.pod_gpus.append([])
        for image, size in node.images.items():
            self._images.setdefault(image, {})[idx] = int(size)
        self._views()
        self._cache.clear()
        self.taints_version += 1
        self.labels_version += 1
        return idx

    # ----- node changes ---------------------------------------------------------------------

    def set_taints(self, idx: int, taints) -> None:
        """Replace the taints of row ``idx`` (bumps ``taints_version`` when they differ)."""
        taints = list(taints)
        if taints != self.taints[idx]:
            self.taints[idx] = taints
            self.taints_version += 1

    def set_unschedulable(self, idx: int, flag: bool) -> None:
        """Cordon (True) or uncordon row ``idx`` (bumps ``taints_version`` when it changes)."""
        flag = bool(flag)
        if flag != bool(self.unschedulable[idx]):
            self.unschedulable[idx] = flag
            self.taints_version += 1

    def set_labels(self, idx: int, labels: dict[str, str]) -> None:
        """Replace the labels of row ``idx`` (bumps ``labels_version`` and drops label columns)."""
        labels = dict(labels)
        if labels != self.labels[idx]:
            self.labels[idx] = labels
            self.labels_version += 1
            for key in [k for k in self._cache if k[0] == "label"]:
                del self._cache[key]

    # ----- binding --------------------------------------------------------------------------

    def pick_gpus(self, pod: Pod, idx: int) -> tuple[int, ...]:
        """Default GPU choice on node ``idx`` ("best", FGD.md §2.1), or () if it does not fit.

        A sharing pod takes the GPU with the least free share that still fits (lowest index on
        ties); a whole-GPU pod takes the lowest-indexed fully free GPUs.
        """
        if pod.gpu_count <= 0:
            return ()
        free = self.gpu_free_milli[idx, : int(self.gpu_count[idx])]
        if pod.gpu_milli < 1000 and pod.gpu_count == 1:
            fits = np.flatnonzero(free >= pod.gpu_milli)
            if fits.size == 0:
                return ()
            return (int(fits[np.argmin(free[fits])]),)
        whole = np.flatnonzero(free >= pod.gpu_milli)
        if whole.size < pod.gpu_count:
            return ()
        return tuple(int(j) for j in whole[: pod.gpu_count])

    def add_pod(self, pod: Pod, idx: int, gpus: tuple[int, ...] = ()) -> None:
        """Bind ``pod`` to row ``idx``: add its requests and take ``gpu_milli`` from each GPU in ``gpus``.

        A GPU pod given no ``gpus`` gets :meth:`pick_gpus`' choice. No fit check is made here (the
        Filter plugins do that), except that a GPU share cannot go below zero.

        Raises:
            ValueError: ``gpus`` has the wrong length, names a GPU the node lacks, or overdraws one.
        """
        if pod.gpu_count > 0 and not gpus:
            gpus = self.pick_gpus(pod, idx)
            if not gpus:
                raise ValueError(f"pod {pod.key} does not fit the GPUs of node {self.names[idx]!r}")
        gpus = tuple(int(g) for g in gpus)
        if gpus:
            milli = pod.gpu_milli
            if len(gpus) != pod.gpu_count or len(set(gpus)) != len(gpus):
                raise ValueError(f"pod {pod.key} needs {pod.gpu_count} distinct GPUs, got {gpus}")
            row, count = self.gpu_free_milli[idx], int(self.gpu_count[idx])
            free = row.tolist()
            for g in gpus:
                if not 0 <= g < count or free[g] < milli:
                    raise ValueError(f"pod {pod.key} cannot take {milli} milli of GPU {g} "
                                     f"on node {self.names[idx]!r}")
                free[g] -= milli
            row[:] = free
            self.gpu_free_total[idx] -= len(gpus) * milli
        self._apply(pod, idx, 1)
        self.pods[idx].append(pod)
        self.pod_gpus[idx].append(gpus)

    def remove_pod(self, pod: Pod, idx: int, gpus: tuple[int, ...] = ()) -> None:
        """Unbind ``pod`` (the same object given to :meth:`add_pod`) from row ``idx``.

        ``gpus`` defaults to the GPUs recorded when the pod was added.

        Raises:
            ValueError: The pod is not bound to that node.
        """
        bound = self.pods[idx]
        pos = next((k for k, p in enumerate(bound) if p is pod), None)
        if pos is None:
            raise ValueError(f"pod {pod.key} is not bound to node {self.names[idx]!r}")
        held = self.pod_gpus[idx][pos]
        gpus = tuple(gpus) or held
        if gpus:
            row, milli = self.gpu_free_milli[idx], pod.gpu_milli
            free = row.tolist()
            for g in gpus:
                free[g] += milli
            row[:] = free
            self.gpu_free_total[idx] += len(gpus) * milli
        self._apply(pod, idx, -1)
        del bound[pos]
        del self.pod_gpus[idx][pos]

    def _apply(self, pod: Pod, idx: int, sign: int) -> None:
        """Add (``sign`` 1) or subtract (-1) ``pod``'s requests to row ``idx`` and log the change."""
        reqs, nonzero = pod.requests(), pod.nonzero_requests()
        index = self.res_index
        if not (reqs.keys() <= index.keys() and nonzero.keys() <= index.keys()):
            for res in (*reqs, *nonzero):
                self.ensure_resource(res)
        pods_col = index["pods"]
        fsign = float(sign)
        # float64 arithmetic in Python floats: the same IEEE sums; round(): ties to even, as np.rint
        row = self.requested[idx]
        vals = row.tolist()
        for res, value in reqs.items():
            vals[index[res]] += fsign * value
        vals[pods_col] += fsign
        row[:] = vals
        req_int = [round(v) for v in vals]
        self.requested_int[idx] = req_int
        row = self.nonzero_requested[idx]
        vals = row.tolist()
        for res, value in nonzero.items():
            vals[index[res]] += fsign * value
        vals[pods_col] += fsign
        row[:] = vals
        self.nonzero_requested_int[idx] = [round(v) for v in vals]
        count = int(self.pod_count[idx]) + sign
        self.pod_count[idx] = count
        self.pod_total += sign
        alloc = self.allocatable_int[idx].tolist()
        free = [a - r for a, r in zip(alloc, req_int, strict=True)]
        free[pods_col] = alloc[pods_col] - count
        self.free_int[idx] = free
        aff = pod.pod_affinity
        if aff is not None and aff.any:
            self.affinity_pods[idx] += sign
            self.affinity_total += sign
            if aff.required_anti:
                self.req_anti_pods[idx] += sign
                self.req_anti_total += sign
        if pod.host_ports:
            self._use_ports(pod, idx, sign)
        version = self.pods_version = self.pods_version + 1
        self.row_pods_version[idx] = version
        log = self._pods_log
        log.append((idx, pod, sign))
        self._rows_log.append(idx)
        if len(log) > 2 * _PODS_LOG:
            del log[:-_PODS_LOG]
            del self._rows_log[:-_PODS_LOG]

    def _use_ports(self, pod: Pod, idx: int, sign: int) -> None:
        for hp in pod.host_ports:
            rows = self.used_ports.setdefault((hp.protocol, hp.port), {})
            ips = rows.setdefault(idx, {})
            left = ips.get(hp.ip, 0) + sign
            if left > 0:
                ips[hp.ip] = left
            else:
                ips.pop(hp.ip, None)
                if not ips:
                    del rows[idx]
                    if not rows:
                        del self.used_ports[(hp.protocol, hp.port)]

    def pod_changes_since(self, version: int) -> list[tuple[int, Pod, int]] | None:
        """``(row, pod, +1 added / -1 removed)`` for every :meth:`add_pod` / :meth:`remove_pod`
        since ``pods_version`` was ``version``, oldest first, or None when that is too long ago to
        tell (compare ``row_pods_version`` instead)."""
        k = self.pods_version - version
        if k <= 0:
            return []
        return self._pods_log[-k:] if k <= len(self._pods_log) else None

    def pods_changed_since(self, version: int) -> list[int] | None:
        """Rows whose bound pods changed since ``pods_version`` was ``version`` (with repeats), or
        None when that is too long ago to tell (compare ``row_pods_version`` instead)."""
        k = self.pods_version - version
        if k <= 0:
            return []
        return self._rows_log[-k:] if k <= len(self._rows_log) else None

    # ----- columns --------------------------------------------------------------------------

    def gpu_fit_count(self, u: int) -> np.ndarray:
        """``(n,) int64`` GPUs of each node with at least ``u`` thousandths free (read-only).

        Cached per ``u`` and refreshed only for the rows whose pods changed since (a filter asks
        for it every cycle; a sum over every node's GPUs costs more than the few changed rows).
        """
        entry = self._fit.get(u)
        g = self.gpu_free_milli
        if entry is not None and entry[0].size == self.n:
            if entry[1] == self.pods_version:
                return entry[0]
            rows = self.pods_changed_since(entry[1])
            if rows is not None and len(rows) <= _FIT_ROWS:
                counts = entry[0]
                for i in set(rows):
                    counts[i] = sum(1 for x in g[i].tolist() if x >= u)
                self._fit[u] = (counts, self.pods_version)
                return counts
        counts = np.count_nonzero(g >= u, axis=1).astype(np.int64) if g.shape[1] else np.zeros(self.n, dtype=np.int64)
        self._fit[u] = (counts, self.pods_version)
        return counts


    def gpu_column(self, key, build) -> np.ndarray:
        """``(n,)`` column ``build()`` derived from the nodes' GPU model or count, cached under
        ``("gpu", key)`` until a node is added (those attributes change only then; read-only)."""
        ck = ("gpu", key)
        col = self._cache.get(ck)
        if col is None:
            col = self._cache[ck] = build()
        return col  # type: ignore[return-value]

    def allocatable_of(self, resource: str) -> np.ndarray:
        """``(n,)`` allocatable of ``resource`` (zeros if no node has it)."""
        col = self.res_index.get(resource)
        return self.allocatable[:, col] if col is not None else np.zeros(self.n)

    def requested_of(self, resource: str) -> np.ndarray:
        """``(n,)`` requested sum of ``resource`` over bound pods (zeros if unseen)."""
        col = self.res_index.get(resource)
        return self.requested[:, col] if col is not None else np.zeros(self.n)

    def nonzero_requested_of(self, resource: str) -> np.ndarray:
        """``(n,)`` non-zero requested sum (E4) of ``resource`` (zeros if unseen)."""
        col = self.res_index.get(resource)
        return self.nonzero_requested[:, col] if col is not None else np.zeros(self.n)

    def label_column(self, key: str) -> np.ndarray:
        """``(n,)`` object array of each node's value for label ``key`` (None where absent). Cached."""
        ck = ("label", key)
        col = self._cache.get(ck)
        if col is None:
            col = np.array([lab.get(key) for lab in self.labels], dtype=object)
            self._cache[ck] = col
        return col  # type: ignore[return-value]

    def image_size(self, image: str) -> np.ndarray:
        """``(n,) int64`` size in bytes of ``image`` on each node (0 where absent). Cached."""
        ck = ("image", image)
        col = self._cache.get(ck)
        if col is None:
            col = np.zeros(self.n, dtype=np.int64)
            for idx, size in self._images.get(image, {}).items():
                col[idx] = size
            self._cache[ck] = col
        return col  # type: ignore[return-value]

    def image_num_nodes(self, image: str) -> int:
        """Number of nodes that have ``image``."""
        return len(self._images.get(image, ()))

    def node_images(self, idx: int) -> dict[str, int]:
        """Image name → size in bytes on node ``idx``."""
        return {img: nodes[idx] for img, nodes in self._images.items() if idx in nodes}

    def copy(self) -> NodeTable:
        """An independent copy (arrays and per-node lists copied; pod objects shared)."""
        new = NodeTable.__new__(NodeTable)
        new.__dict__.update(self.__dict__)
        for name in ("names", "resources", "gpu_model", "gpu_model_names"):
            setattr(new, name, list(getattr(self, name)))
        new.index, new.res_index = dict(self.index), dict(self.res_index)
        new._buf = {key: getattr(self, key).copy() for key in self._buf}
        new._cap = self.n
        new._views()
        new.labels = [dict(x) for x in self.labels]
        new.taints = [list(x) for x in self.taints]
        new.pods = [list(x) for x in self.pods]
        new.pod_gpus = [list(x) for x in self.pod_gpus]
        new._pods_log = list(self._pods_log)
        new._rows_log = list(self._rows_log)
        new._images = {k: dict(v) for k, v in self._images.items()}
        new.used_ports = {k: {r: dict(ips) for r, ips in rows.items()} for k, rows in self.used_ports.items()}
        new._cache = {}
        new._fit = {}
        return new

    def __repr__(self) -> str:
        return f"NodeTable(n={self.n}, resources={self.resources})"
