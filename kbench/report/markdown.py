"""Summaries as GitHub-flavoured Markdown tables (``-o markdown``), for a CI job to post on a pull request.

:func:`md_table` is the building block (``kbench validate -o markdown`` uses it too); the others turn
a run summary, a comparison or sync summaries into a short Markdown document.
"""

from __future__ import annotations

from typing import Any


def md_cell(value: Any) -> str:
    """One table cell: numbers to 4 significant digits, None as ``-``, ``|``, ``<``, ``>`` and newlines
    escaped so a name cannot break the table or inject HTML."""
    if value is None:
        text = "-"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = "-" if value != value else f"{value:.4g}"
    else:
        text = str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.splitlines()) or " "


def md_table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table.

    Args:
        headers: Column titles.
        rows: One list of cell values per row (same length as ``headers``).

    Returns:
        The table, ending with a newline.

    Example:
        >>> print(md_table(["SLO", "value"], [["pod startup p99", 2.5]]), end="")
        | SLO | value |
        | --- | --- |
        | pod startup p99 | 2.5 |
    """
    lines = ["| " + " | ".join(md_cell(h) for h in headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, expected {len(headers)}")
        lines.append("| " + " | ".join(md_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def interval_name(result: dict[str, Any]) -> str:
    """How a comparison's intervals were computed (``bootstrap 95 % CI, n=10`` or ``min–max, n=3``);
    comparisons written before that was recorded say ``95% CI``."""
    return str(result.get("interval") or "95% CI")


def _g(obj: Any, *keys: str) -> Any:
    for k in keys:
        obj = obj.get(k) if isinstance(obj, dict) else None
    return obj


def _triple(d: Any) -> str:
    return " / ".join(md_cell(_g(d, k)) for k in ("p50", "p90", "p99"))


def headline_rows(s: dict[str, Any]) -> list[list]:
    """The headline figures of a run summary as (metric, value) rows."""
    pods = s.get("pods") or {}
    if _g(s, "sim", "mode") == "placement-only":  # no plane: no startup, no API (kbench.experiment.placement)
        return [
            ["pods created / scheduled / never placed",
             f"{pods.get('created')} / {pods.get('scheduled')} / {pods.get('pending')}"],
            ["scheduler throughput (pods/s of its cycles)", _g(s, "scheduling", "throughput_pods_per_s")],
            ["mode", "placement-only (scheduler framework alone)"],
            ["virtual s (cycles) / wall s", f"{md_cell(_g(s, 'sim', 'virtual_s'))} / {md_cell(_g(s, 'sim', 'wall_s'))}"],
            *gpu_rows(s),
        ]
    return [
        ["pods created / scheduled", f"{pods.get('created')} / {pods.get('scheduled')}"],
        ["running / succeeded / failed / pending", " / ".join(str(pods.get(k)) for k in
                                                                ("running", "succeeded", "failed", "pending"))],
        ["pod startup p50 / p90 / p99 (s, SLO, excl. pulls)", _triple(s.get("pod_startup_s"))],
        ["pod e2e startup p50 / p90 / p99 (s)", _triple(s.get("pod_e2e_startup_s"))],
        ["scheduler throughput (pods/s)", _g(s, "scheduling", "throughput_pods_per_s")],
        ["API requests / 429s", f"{_g(s, 'api', 'requests')} / {_g(s, 'api', 'rejected_429')}"],
        ["virtual s / wall s", f"{md_cell(_g(s, 'sim', 'virtual_s'))} / {md_cell(_g(s, 'sim', 'wall_s'))}"],
        *gpu_rows(s),
    ]


def gpu_rows(s: dict[str, Any]) -> list[list]:
    """The GPU headline of a run with GPUs (the FGD paper's view, FGD.md §1.3), else nothing: allocated,
    fragmented and unallocated GPU capacity at the end, and at 100 % arrived when recorded."""
    gpu = s.get("gpu") or {}
    alloc = gpu.get("allocated_pct")
    if alloc is None:
        return []
    rows = [["GPUs (count)", gpu.get("gpus")],
            ["GPU allocated / fragmented / unallocated (% of capacity, at the end)",
             f"{md_cell(alloc)} / {md_cell(gpu.get('frag_amount_pct'))} / {md_cell(round(100.0 - alloc, 4))}"]]
    at = gpu.get("unallocated_pct_at_arrived") or {}
    hundred = next((v for k, v in at.items() if str(k) == "100"), None)
    if hundred is not None:
        rows.append(["GPU unallocated at 100 % arrived (% of capacity, FGD's headline)", hundred])
    return rows


def slo_rows(s: dict[str, Any]) -> list[list]:
    """The SLO verdicts of a run summary as (SLO, threshold, value, verdict, source) rows."""
    out = []
    for row in s.get("slo") or []:
        verdict = "-" if row.get("pass") is None else ("pass" if row["pass"] else "**FAIL**")
        out.append([row.get("name"), row.get("threshold"), row.get("value"), verdict, row.get("source", "")])
    return out


def run_markdown(s: dict[str, Any]) -> str:
    """A run summary: heading, headline table, SLO table."""
    failed = [r.get("name") for r in s.get("slo") or [] if r.get("pass") is False]
    verdict = "all SLOs pass" if not failed else f"SLO FAIL: {', '.join(md_cell(n) for n in failed)}"
    out = [f"### kbench run: {md_cell(s.get('scenario'))} · policy {md_cell(s.get('policy'))} · "
           f"seed {md_cell(s.get('seed'))} · {verdict}\n",
           md_table(["metric", "value"], headline_rows(s))]
    slos = slo_rows(s)
    if slos:
        out += ["", md_table(["SLO", "threshold", "value", "verdict", "source"], slos)]
    if s.get("faults"):
        from kbench.faults.measure import FAULT_HEADERS, describe, fault_rows

        out += ["", "**Faults**\n", md_table(FAULT_HEADERS, fault_rows(s)), ""]
        out += [f"- {md_cell(describe(row))}" for row in s["faults"]]
        out.append("")
    return "\n".join(out)


def comparison_markdown(result: dict[str, Any]) -> str:
    """A comparison: one table per metric (median [CI], diff vs baseline [CI], Holm p, verdict)."""
    base = result.get("baseline")
    out = [f"### kbench compare: {md_cell(result.get('scenario'))} · baseline {md_cell(base)} · "
           f"{len(result.get('seeds') or [])} seeds · {md_cell(result.get('test'))} test, Holm, "
           f"alpha {md_cell(result.get('alpha'))}\n"]
    for m, per in (result.get("metrics") or {}).items():
        rows = []
        for p in (result.get("ranking") or {}).get(m) or list(per):
            v = per[p]
            pr = (result.get("paired") or {}).get(m, {}).get(p)
            ci = f"{md_cell(v.get('median'))} [{md_cell(v.get('ci_low'))}, {md_cell(v.get('ci_high'))}]"
            if pr is None:
                rows.append([p, ci, "(baseline)", "", ""])
            else:
                rows.append([p, ci, f"{md_cell(pr.get('diff_median'))} [{md_cell(pr.get('ci_low'))}, "
                                    f"{md_cell(pr.get('ci_high'))}]", pr.get("p_value"),
                             "**significant**" if pr.get("significant") else "not significant"])
        direction = (result.get("directions") or {}).get(m, "lower")
        out += [f"**{md_cell(m)}** ({direction} is better)\n",
                md_table(["policy", f"median [{interval_name(result)}]", f"diff vs baseline [{interval_name(result)}]",
                          "p (Holm)", "verdict"], rows)]
    if result.get("warning"):
        out.append(f"> warning: {md_cell(result['warning'])}\n")
    return "\n".join(out)


def sync_markdown(results: list[dict[str, Any]]) -> str:
    """Sync summaries (one column per run: strategy and swept values)."""
    from kbench.experiment.synctable import ROWS, column_name, row_value

    body = [[label] + [md_cell(row_value(r, path, *scale)) for r in results] for label, path, *scale in ROWS]
    return "### kbench sync: List vs List-Watch\n\n" + md_table(["metric"] + [column_name(r) for r in results], body)
