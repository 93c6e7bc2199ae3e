"""manifest.json: every file of the bundle with its size and sha256, plus the generation time
(the one place besides the md footer where the clock appears)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from analytics.digest.model import Digest
from analytics.digest.render_md import stamp


def render(dg: Digest, files: dict[str, bytes], generated_at: datetime) -> bytes:
    doc = {
        "tool": "tablepulse digest",
        "week": dg.week_label,
        "first_day": dg.d0.isoformat(),
        "last_day": dg.d1.isoformat(),
        "generated_at": stamp(generated_at),
        "headlines": [h.text for h in dg.headlines if h.passed],
        "files": [{"path": name, "bytes": len(files[name]), "sha256": hashlib.sha256(files[name]).hexdigest()}
                  for name in sorted(files) if name != "manifest.json"],
    }
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
