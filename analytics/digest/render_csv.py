"""tables/KEY.csv: one table's raw values, after a '#' header block (week, definition,
thresholds, freshness, trusted-poll share, sample, source). Read back with pandas comment='#'."""

from __future__ import annotations

import io

from analytics.digest.model import Digest, Table


def render(dg: Digest, t: Table) -> bytes:
    buf = io.StringIO()
    lines = [f"Tablepulse weekly digest: {t.title} ({t.key})", *dg.csv_header,
             f"Definition: {t.definition}", f"Sample: {t.n_label}", f"Source: {t.source}"]
    for line in lines:
        buf.write("# " + line.replace("\n", " ") + "\n")
    t.raw.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue().encode("utf-8")
