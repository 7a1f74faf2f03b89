"""The workload-spec ops of issue 18 (a part of the compiler of :mod:`kbench.workload.compile`).

``createNamespace``, ``createService``, ``createDaemonSet``, ``createStatefulSet``, ``per_namespace``
copies of ``createDeployment`` and ``createService``, ``scaleDeployment`` and ``rollout`` (an
:class:`~kbench.config.workload.UpdateSpec`), and the ``delete*`` ops (a
:class:`~kbench.config.workload.DeleteSpec`). :class:`AppOps` uses the compiler's state (``after``,
``since``, ``names``, the output lists) and helpers (``_name``, ``_template``).
"""

from __future__ import annotations

from kbench.config.loader import from_dict
from kbench.config.workload import (
    DaemonSetSpec,
    DeleteSpec,
    NamespaceSpec,
    ServiceSpec,
    StatefulSetSpec,
    UpdateSpec,
)
from kbench.errors import ConfigError


class AppOps:
    """The ops on apps objects (see the module docstring)."""

    def _per_namespace(self, op: dict, where: str, cls, out: list) -> None:
        """``per_namespace: k``: one spec for k copies in every namespace of the last createNamespace."""
        k = int(op.pop("per_namespace"))
        if not self.last_namespaces:
            raise ConfigError("per_namespace needs a createNamespace before it", where=where)
        name = self._name(op.pop("name", None), f"{cls.__name__[:-4].lower()}-{len(out)}", where)
        if k <= 0:
            return
        if "template" in op:
            template, vary = self._template(op.pop("template") or {}, f"{where}.template")
            if vary:
                raise ConfigError("per_namespace objects take constant template fields", where=f"{where}.template")
            op["template"] = template
        out.append(from_dict(cls, {**op, "name": name, "copies": k, "namespaces": list(self.last_namespaces),
                                   "after": self.after}, where))
        self.since.append(name)

    def _createNamespace(self, op: dict, where: str, base) -> None:  # noqa: N802
        spec = from_dict(NamespaceSpec, {"numbered": "count" in op, **op, "after": self.after}, where)
        self._name(spec.name, spec.name, where)
        self.namespaces.append(spec)
        self.last_namespaces = spec.names()
        self.since.append(spec.name)

    def _createService(self, op: dict, where: str, base) -> None:  # noqa: N802
        if "per_namespace" in op:
            self._per_namespace(op, where, ServiceSpec, self.services)
            return
        name = self._name(op.pop("name", None), f"service-{len(self.services)}", where)
        self.services.append(from_dict(ServiceSpec, {**op, "name": name, "after": self.after}, where))
        self.since.append(name)

    def _simple(self, op: dict, where: str, cls, out: list, prefix: str) -> None:
        count = int(op.pop("count", 1))
        name = self._name(op.pop("name", None), f"{prefix}-{len(out)}", where)
        if count <= 0:
            return
        if count != 1:
            raise ConfigError("count must be 0 or 1 here", where=f"{where}.count")
        if "template" in op:
            template, vary = self._template(op.pop("template") or {}, f"{where}.template")
            if vary:
                raise ConfigError("template fields must be constants here", where=f"{where}.template")
            op["template"] = template
        out.append(from_dict(cls, {**op, "name": name, "after": self.after}, where))
        self.since.append(name)

    def _createDaemonSet(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._simple(op, where, DaemonSetSpec, self.daemonsets, "daemonset")

    def _createStatefulSet(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._simple(op, where, StatefulSetSpec, self.statefulsets, "statefulset")

    def _update_op(self, op: dict, where: str, rollout: bool) -> None:
        name = self._name(op.pop("name", None), f"update-{len(self.updates)}", where)
        if rollout:
            op.setdefault("rollout", not op.get("template"))
        elif "rollout" in op:
            op["rollout"] = bool(op["rollout"])
        self.updates.append(from_dict(UpdateSpec, {**op, "name": name, "after": self.after}, where))
        self.since.append(name)

    def _scaleDeployment(self, op: dict, where: str, base) -> None:  # noqa: N802
        op.setdefault("kind", "deployment")
        self._update_op(op, where, False)

    def _rollout(self, op: dict, where: str, base) -> None:
        op.setdefault("kind", "deployment")
        self._update_op(op, where, True)

    def _delete_op(self, op: dict, where: str, kind: str) -> None:
        name = self._name(op.pop("name", None), f"delete-{len(self.deletes)}", where)
        self.deletes.append(from_dict(DeleteSpec, {**op, "kind": kind, "name": name, "after": self.after}, where))
        self.since.append(name)

    def _deleteDeployment(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "deployment")

    def _deleteDaemonSet(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "daemonset")

    def _deleteStatefulSet(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "statefulset")

    def _deleteService(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "service")

    def _deleteJob(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "job")

    def _deleteNamespace(self, op: dict, where: str, base) -> None:  # noqa: N802
        self._delete_op(op, where, "namespace")
