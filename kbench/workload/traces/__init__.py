"""Trace importers: public cluster traces and Kubernetes logs as normalized pod and node tables.

``load_trace(path)`` reads any supported file into a :class:`Trace` (docs/TRACE_CONTRACT.md);
``detect_format`` tells the format from the file's header or content; ``FORMATS`` lists the
format names. One module per format: :mod:`.openb`, :mod:`.dlrm`, :mod:`.alibaba2018`,
:mod:`.google2019`, :mod:`.audit`, :mod:`.manifests`, :mod:`.native` (also ``write_native``);
:mod:`.topods` turns the tables into pod and node specs.
"""

from kbench.workload.traces.common import NODE_COLUMNS, POD_COLUMNS, REQUEST_COLUMNS, Trace
from kbench.workload.traces.loader import DESCRIPTIONS, FORMATS, detect_format, load_trace
from kbench.workload.traces.native import write_native
from kbench.workload.traces.topods import nodes_from_trace, pods_from_trace

__all__ = [
    "DESCRIPTIONS", "FORMATS", "NODE_COLUMNS", "POD_COLUMNS", "REQUEST_COLUMNS", "Trace", "detect_format",
    "load_trace", "nodes_from_trace", "pods_from_trace", "write_native",
]
