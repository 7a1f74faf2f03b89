"""Every ported upstream score case, run through ``kbench explain``'s code path.

Each :class:`~kbench.validate.upstream_cases.ScoreCase` becomes a one-plugin profile (the plugin at
weight 1 with the case's args, every node scored) and goes through
:func:`kbench.policy.explain.explain_table`, the function behind ``kbench explain``; the plugin's
normalized score per node must equal upstream's expected integers (or be ``null`` on every node
when upstream's PreScore skips the pod).
"""

from __future__ import annotations

from kbench.policy.explain import explain_table
from kbench.policy.framework import Framework
from kbench.policy.profile import profile_from_dict
from kbench.validate.filtering import handle_with, ipa_score_cases
from kbench.validate.record import Record
from kbench.validate.upstream_cases import ScoreCase, score_cases


def run_case(case: ScoreCase) -> list[int | None] | tuple:
    """The plugin's scores per node, in the case's node order, as ``kbench explain`` reports them
    (``("error", message)`` when its PreScore failed)."""
    profile = profile_from_dict(f"validate-{case.plugin}", {
        "plugins": {"score": [[case.plugin, 1]]},
        "pluginConfig": {case.plugin: case.args} if case.args else {},
        "percentageOfNodesToScore": 100,
    })
    nodes = case.make_nodes()
    data = explain_table(Framework(profile, 0, handle=handle_with(case.namespaces)), nodes, case.make_pod()).data
    pre = data["prescore"].get(case.plugin)
    if pre is not None and pre["code"] == "Error":
        return ("error", "; ".join(pre["reasons"]))
    return [data["nodes"][name]["scores"].get(case.plugin) for name in nodes.names]


def case_passes(case: ScoreCase) -> bool:
    """Whether the case's scores match upstream (all null when upstream expects a PreScore skip; the
    error text contained in the message when upstream expects an error)."""
    got = run_case(case)
    if case.expected is None:
        return isinstance(got, list) and all(g is None for g in got)
    if isinstance(case.expected, tuple):
        return isinstance(got, tuple) and case.expected[1] in got[1]
    return got == list(case.expected)


def check_scoring(quick: bool = True) -> list[Record]:
    """One record per plugin: upstream cases that score exactly as upstream, out of all ported."""
    by_plugin: dict[str, list[ScoreCase]] = {}
    for case in score_cases() + ipa_score_cases():
        by_plugin.setdefault(case.plugin, []).append(case)
    out = []
    for plugin, cases in by_plugin.items():
        failed = [c.name for c in cases if not case_passes(c)]
        passed = len(cases) - len(failed)
        files = ", ".join(sorted({c.source.removeprefix("upstream ") for c in cases}))
        out.append(Record(f"scoring/{plugin}", f"{plugin} cases scoring exactly as upstream (via explain)",
                          float(len(cases)), float(passed), kind="exact", source=f"upstream test: {files}",
                          unit="cases", samples=len(cases),
                          note=("failed: " + "; ".join(failed[:3])) if failed else ""))
    return out
