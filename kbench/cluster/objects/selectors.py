"""Label selectors as the API server parses them (``metav1.LabelSelectorAsSelector``).

A :class:`LabelSelector` is what a pod (anti-)affinity term, a topology spread constraint, a
Service or a ReplicaSet selects pods with:

* ``None`` (no selector) matches **nothing**; ``{}`` (an empty selector) matches **everything**;
* ``matchLabels`` ``k: v`` is the requirement ``k In (v)``; ``matchExpressions`` have the operators
  In, NotIn, Exists and DoesNotExist; every requirement must hold (AND).

Parsing keeps going on a bad value and records upstream's validation message in
:attr:`LabelSelector.error` (a value of an In/NotIn requirement must be a valid label value), so the
plugin that reads the selector can report it as upstream does (InterPodAffinity's PreFilter).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_MAX_LABEL_VALUE = 63
LABEL_VALUE_MESSAGE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                       "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                       "'my_value',  or '12345', regex used for validation is "
                       "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
"""apimachinery ``validation.IsValidLabelValue``'s message (the two spaces before "or" are upstream's)."""
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


@dataclass(frozen=True, slots=True)
class Requirement:
    """One selector requirement (``key operator values``)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        """Upstream ``labels.Requirement.Matches``."""
        op = self.operator
        if op == "In":
            return self.key in labels and labels[self.key] in self.values
        if op == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if op == "Exists":
            return self.key in labels
        if op == "DoesNotExist":
            return self.key not in labels
        return False


def label_value_error(value: str) -> str | None:
    """Upstream's message when ``value`` is not a valid label value, else None."""
    if len(value) > _MAX_LABEL_VALUE:
        return f"must be no more than {_MAX_LABEL_VALUE} characters"
    return None if _LABEL_VALUE.match(value) else LABEL_VALUE_MESSAGE


class LabelSelector:
    """A parsed LabelSelector (see the module docstring).

    Attributes:
        nothing: The selector was absent (matches nothing).
        labels: ``matchLabels`` (after any ``merge``).
        exprs: ``matchExpressions`` as :class:`Requirement` objects.
        error: Upstream's validation message for the first bad value, or None.
    """

    def __init__(self, spec: dict | None, merge: dict | None = None, extra: tuple[Requirement, ...] = ()):
        self.nothing = spec is None
        spec = spec or {}
        self.labels: dict[str, str] = {str(k): str(v) for k, v in (spec.get("matchLabels") or {}).items()}
        exprs = []
        self.error: str | None = None
        for e in spec.get("matchExpressions") or ():
            req = Requirement(str(e["key"]), str(e["operator"]), tuple(str(v) for v in e.get("values") or ()))
            exprs.append(req)
        self.exprs: tuple[Requirement, ...] = (*exprs, *extra)
        if merge and not self.nothing:
            self.labels.update(merge)
        for k, v in self.labels.items():
            self._check(k, (v,))
        for req in self.exprs:
            if req.operator in ("In", "NotIn"):
                self._check(req.key, req.values)

    def _check(self, key: str, values: tuple[str, ...]) -> None:
        if self.error is not None:
            return
        for i, v in enumerate(values):
            msg = label_value_error(v)
            if msg is not None:
                self.error = f'values[{i}][{key}]: Invalid value: "{v}": {msg}'
                return

    @classmethod
    def everything(cls) -> LabelSelector:
        """``{}``: matches every set of labels."""
        return cls({})

    @classmethod
    def of_labels(cls, labels: dict[str, str]) -> LabelSelector:
        """A selector of ``matchLabels`` only (a Service's or ReplicationController's map)."""
        return cls({"matchLabels": dict(labels)})

    @functools.cached_property
    def key(self) -> tuple:
        """A hashable identity of the requirements (computed once)."""
        return (self.nothing, tuple(sorted(self.labels.items())),
                tuple((r.key, r.operator, r.values) for r in self.exprs))

    @property
    def empty(self) -> bool:
        """No requirements at all (upstream ``Selector.Empty``; False for nothing)."""
        return not self.nothing and not self.labels and not self.exprs

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy every requirement (False for nothing, True for ``{}``)."""
        if self.nothing:
            return False
        for k, v in self.labels.items():
            if labels.get(k) != v:
                return False
        return all(r.matches(labels) for r in self.exprs)

    def and_(self, other: LabelSelector) -> LabelSelector:
        """Both selectors' requirements (nothing if either is nothing)."""
        if self.nothing or other.nothing:
            return LabelSelector(None)
        merged = LabelSelector({"matchLabels": dict(self.labels)}, extra=(*self.exprs, *other.exprs))
        for k, v in other.labels.items():
            if k in merged.labels and merged.labels[k] != v:
                merged.exprs = (*merged.exprs, Requirement(k, "In", (v,)))
            else:
                merged.labels[k] = v
        merged.__dict__.pop("key", None)
        return merged

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelSelector) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        if self.nothing:
            return "LabelSelector(nothing)"
        return f"LabelSelector(labels={self.labels!r}, exprs={list(self.exprs)!r})"
