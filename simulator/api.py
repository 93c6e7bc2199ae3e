"""The provider API over a Market: request validation, poll snapshots, booking tokens, Resy-shaped payloads.

``ProviderApi(market)`` answers the provider's requests from a Market (which knows nothing of this
module); simulator/server.py turns its (status, headers, payload) triples into HTTP, tests and benches
call it in-process. The wire shape is docs/provider-api.md.

Snapshots: a search (day, party, time filter, venue filters) is simulated once per virtual instant; pages
2.. of a poll reuse the snapshot taken for page 1 when the clock has not moved or, with a running clock
(speed > 0), when they come within SNAPSHOT_REUSE_WALL_S wall seconds. Each page-1 request (and each
/4/find) is a new poll with a new poll number; booking tokens are derived from (slot key, poll number),
so they differ between polls of the same slot and are identical across runs with the same requests.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeGuard

import numpy as np

from simulator.model import (
    OPEN,
    SERVICES,
    SLOT_LENGTH_MIN,
    TABLE_TYPES,
    Market,
    _Table,
    hms,
    local_date,
    mix64,
    parse_hhmm,
    party_class,
)

MAX_PER_PAGE = 75
DEFAULT_PER_PAGE = 20
SNAPSHOT_REUSE_WALL_S = 10.0
MAX_SNAPSHOTS = 512
TIME_FILTER_HALF_WIDTH_MIN = 60
DEFAULT_RADIUS_M = 35420.0
_TOKEN_MUL = 0xA24BAED4963EE407

Response = tuple[int, dict[str, str], bytes]


class BadRequest(ValueError):
    """A request body or parameter is invalid; the message names what was wrong."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def bad_request(msg: str) -> Response:
    return 400, {}, _dumps({"status": 400, "message": msg}).encode()


@dataclass
class _Snapshot:
    ts: float
    wall: float
    poll_no: int
    table: _Table | None
    hits: list[tuple[int, np.ndarray]]  # (venue index, open row indices), in hit order


def _int_field(obj: dict[str, Any], name: str, default: int | None, lo: int, hi: int | None = None,
               where: str = "", text: bool = False) -> int:
    """An integer field; with text=True also its decimal text (query strings and forms carry text)."""
    v = obj.get(name, default)
    if text and isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v)
    if v is None or isinstance(v, bool) or not isinstance(v, int):
        raise BadRequest(f"{where}{name} must be an integer, got {v!r}")
    if v < lo or (hi is not None and v > hi):
        raise BadRequest(f"{where}{name} must be between {lo} and {hi}, got {v}" if hi is not None
                         else f"{where}{name} must be >= {lo}, got {v}")
    return v


def _parse_day(v: Any, where: str = "slot_filter.day") -> date:
    if not isinstance(v, str) or len(v) != 10:
        raise BadRequest(f"{where} must be a date YYYY-MM-DD, got {v!r}")
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise BadRequest(f"{where} must be a date YYYY-MM-DD, got {v!r}") from None


class ProviderApi:
    """The provider API over one Market: poll numbering, the page snapshot cache and payload rendering.

    ``cache_snapshots=False`` re-simulates every page (the baseline bench/sim_search.py measures against).
    """

    def __init__(self, market: Market, cache_snapshots: bool = True) -> None:
        self.m = market
        self.cache_snapshots = cache_snapshots
        self.poll_no = 0
        self._snaps: dict[tuple[Any, ...], _Snapshot] = {}
        # rendered JSON pieces per slot row, per (date, party class); dates that can no longer be asked for
        # are dropped as the days pass
        self._frags: dict[tuple[date, int], dict[int, tuple[str, str]]] = {}
        vs = market.venues
        self._vid = np.array([v.venue_id for v in vs], dtype=np.int64)
        self._lat_deg = np.array([v.lat for v in vs])
        self._lon_deg = np.array([v.lon for v in vs])
        self._lat = np.radians(self._lat_deg)
        self._lon = np.radians(self._lon_deg)
        self._names = [f"{v.name} {v.neighborhood} {v.cuisine}".lower() for v in vs]
        # Hits are written as JSON text directly (json.dumps of several hundred nested hits per poll
        # cost more than the whole simulation); static parts are encoded once here.
        self._prefix = [_dumps({"id": {"resy": v.venue_id}, "name": v.name, "neighborhood": v.neighborhood,
                                "location": {"code": "ny", "time_zone": v.tz, "geo": {"lat": v.lat, "lon": v.lon}},
                                "price_range_id": v.price_range, "cuisine": [v.cuisine]})[:-1]
                        + ',"availability":{"slots":' for v in vs]
        self._suffix = [',"notify_options":' + _dumps(
            [{"service_type_id": SERVICES[s][0], "name": SERVICES[s][1],
              "time_range": {"start": hms(SERVICES[s][2]), "end": hms(SERVICES[s][3])}} for s in v.services])
            + "}}" for v in vs]
        self._payment = [_dumps({"is_paid": False, "cancellation_fee": 25.0 if v.price_range == 4 else None,
                                 "deposit_fee": None}) for v in vs]
        self._find_prefix = [_dumps({"venue": {"id": {"resy": v.venue_id}, "name": v.name}})[:-1] + ',"slots":'
                             for v in vs]

    # ---- request parsing -----------------------------------------------------------------------------
    def _venue_mask(self, body: dict[str, Any]) -> tuple[np.ndarray | None, tuple[Any, ...]]:
        mask: np.ndarray | None = None
        key: list[Any] = []
        vf = body.get("venue_filter")
        if vf is not None:
            ids = vf.get("ids") if isinstance(vf, dict) else None
            if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
                raise BadRequest("venue_filter.ids must be a list of integer venue ids")
            mask = np.isin(self._vid, np.asarray(ids, dtype=np.int64))
            key.append(("ids", tuple(sorted(set(ids)))))
        geo = body.get("geo")
        if geo is not None and vf is None:
            gm, gkey = self._geo_mask(geo)
            mask = gm if mask is None else mask & gm
            key.append(gkey)
        q = body.get("query", "")
        if q is None:
            q = ""
        if not isinstance(q, str):
            raise BadRequest(f"query must be a string, got {q!r}")
        q = q.strip().lower()
        if q:
            qm = np.array([q in n for n in self._names], dtype=bool)
            mask = qm if mask is None else mask & qm
            key.append(("q", q))
        return mask, tuple(key)

    def _geo_mask(self, geo: Any) -> tuple[np.ndarray, tuple[Any, ...]]:
        """Venues inside `geo`: {"bounding_box": [lat1, lon1, lat2, lon2]} (two corners) or
        {"latitude", "longitude", "radius" (metres, default 35420)}."""
        if not isinstance(geo, dict):
            raise BadRequest("geo must be an object {latitude, longitude[, radius]} or {bounding_box}")
        if "bounding_box" in geo:
            box = geo["bounding_box"]
            if not isinstance(box, list) or len(box) != 4 or not all(_is_number(x) for x in box):
                raise BadRequest(f"geo.bounding_box must be [lat1, lon1, lat2, lon2] (numbers), got {box!r}")
            la1, lo1, la2, lo2 = (float(x) for x in box)
            inside = (self._lat_deg >= min(la1, la2)) & (self._lat_deg <= max(la1, la2)) \
                & (self._lon_deg >= min(lo1, lo2)) & (self._lon_deg <= max(lo1, lo2))
            return inside, ("box", la1, lo1, la2, lo2)
        lat, lon = _number(geo, "latitude", None, "geo."), _number(geo, "longitude", None, "geo.")
        radius = _number(geo, "radius", DEFAULT_RADIUS_M, "geo.")
        return self._near(lat, lon, radius), ("geo", round(lat, 6), round(lon, 6), round(radius, 1))

    def _near(self, lat: float, lon: float, radius: float) -> np.ndarray:
        la, lo = math.radians(lat), math.radians(lon)
        h = np.sin((self._lat - la) / 2) ** 2 + math.cos(la) * np.cos(self._lat) * np.sin((self._lon - lo) / 2) ** 2
        return 2 * 6371000.0 * np.arcsin(np.sqrt(h)) <= radius

    # ---- POST /3/venuesearch/search ------------------------------------------------------------------
    def search(self, body: Any) -> Response:
        try:
            return self._search(body)
        except BadRequest as e:
            return bad_request(str(e))

    def _search(self, body: Any) -> Response:
        if not isinstance(body, dict):
            raise BadRequest("request body must be a JSON object")
        sf = body.get("slot_filter")
        if sf is not None and not isinstance(sf, dict):
            raise BadRequest("slot_filter must be an object {day, party_size[, time_filter]}")
        # without a slot filter a search finds venues only: every match, no slots
        day = None if sf is None else _parse_day(sf.get("day"))
        party = None if sf is None else _int_field(sf, "party_size", None, 1, 20, "slot_filter.")
        tf = None if sf is None else sf.get("time_filter")
        if tf is not None:
            try:
                tf_min = parse_hhmm(tf)
            except ValueError:
                raise BadRequest(f"slot_filter.time_filter must be HH:MM, got {tf!r}") from None
        page = _int_field(body, "page", 1, 1, 100000)
        per_page = min(_int_field(body, "per_page", DEFAULT_PER_PAGE, 1), MAX_PER_PAGE)
        avail = body.get("availability", False)
        if not isinstance(avail, bool):
            raise BadRequest(f"availability must be true or false, got {avail!r}")
        avail = avail and sf is not None
        mask, vkey = self._venue_mask(body)
        lo = None if tf is None else tf_min - TIME_FILTER_HALF_WIDTH_MIN
        hi = None if tf is None else tf_min + TIME_FILTER_HALF_WIDTH_MIN
        pc = None if party is None else party_class(party)
        key = (day, pc, lo, hi, avail, vkey)
        m = self.m
        with m.lock:
            t = m.clock.now_ts()
            snap = self._snaps.get(key) if self.cache_snapshots else None
            same_instant = snap is not None and snap.ts == t
            recent = snap is not None and m.speed > 0 and time.monotonic() - snap.wall <= SNAPSHOT_REUSE_WALL_S
            if snap is None or page == 1 or not (same_instant or recent):
                self.poll_no += 1
                if snap is not None and same_instant:   # page 1 again at the same instant: new poll, same state
                    snap = _Snapshot(snap.ts, snap.wall, self.poll_no, snap.table, snap.hits)
                else:
                    snap = self._snapshot(day, pc, lo, hi, avail, mask, t, self.poll_no)
                if self.cache_snapshots:
                    self._snaps.pop(key, None)
                    self._snaps[key] = snap
                    if len(self._snaps) > MAX_SNAPSHOTS:
                        self._snaps.pop(next(iter(self._snaps)))
            n = len(snap.hits)
            chunk = snap.hits[(page - 1) * per_page: page * per_page]
            hits = self._render_hits(snap, chunk)
        query = _dumps({"day": None if day is None else day.isoformat(), "party_size": party, "time_filter": tf})
        payload = (f'{{"search":{{"hits":[{hits}],"nbHits":{n},"nbPages":{math.ceil(n / per_page)},'
                   f'"page":{page},"hitsPerPage":{per_page}}},"query":{query}}}')
        return 200, {}, payload.encode()

    def _bookable_day(self, day: date, t: float) -> bool:
        # Outside [today - 1, today + 31] nothing can be open (max booking window 30 days): no table needed.
        today = local_date(t)
        return today - timedelta(days=1) <= day <= today + timedelta(days=31)

    def _snapshot(self, day: date | None, pc: int | None, lo: int | None, hi: int | None, avail: bool,
                  mask: np.ndarray | None, t: float, poll_no: int) -> _Snapshot:
        m = self.m
        groups: list[tuple[int, int, np.ndarray]] = []
        tb = None
        counts = np.zeros(len(m.venues), dtype=np.int64)
        if day is not None and pc is not None and self._bookable_day(day, t):
            tb = m.table(day, pc)
            a, b = m.window_slice(tb, lo, hi)
            idx = np.arange(a, b)
            m.advance_rows(tb, idx, t)
            rows = idx[tb.state[a:b] == OPEN]
            vs = tb.tpl.venue[rows]
            if mask is not None:
                keep = mask[vs]
                rows, vs = rows[keep], vs[keep]
            order = np.argsort(vs, kind="stable")
            rows, vs = rows[order], vs[order]
            if rows.size:
                uniq, starts, cnt = np.unique(vs, return_index=True, return_counts=True)
                counts[uniq] = cnt
                for u, s, c in zip(uniq.tolist(), starts.tolist(), cnt.tolist(), strict=True):
                    groups.append((-c, int(self._vid[u]), rows[s:s + c]))
        hits_idx = [(m.venue_index[g[1]], g[2]) for g in sorted(groups, key=lambda g: (g[0], g[1]))]
        if not avail:
            cand = np.arange(len(m.venues)) if mask is None else np.nonzero(mask)[0]
            empty = np.zeros(0, dtype=np.int64)
            rest = sorted((int(self._vid[i]), int(i)) for i in cand if counts[i] == 0)
            hits_idx.extend((i, empty) for _, i in rest)
        return _Snapshot(t, time.monotonic(), poll_no, tb, hits_idx)

    # ---- rendering -------------------------------------------------------------------------------------
    def _fragments(self, tb: _Table, rows: list[int]) -> list[tuple[str, str]]:
        """Per-row JSON text of a slot around its token suffix, built once per table row and kept."""
        cache = self._frags.get((tb.day, tb.pclass))
        if cache is None:
            oldest = local_date(self.m.clock.now_ts()) - timedelta(days=1)
            for key in [k for k in self._frags if k[0] < oldest]:
                del self._frags[key]
            cache = self._frags[(tb.day, tb.pclass)] = {}
        out = []
        for r in rows:
            frag = cache.get(r)
            if frag is None:
                frag = cache[r] = self._fragment(tb, r)
            out.append(frag)
        return out

    def _fragment(self, tb: _Table, r: int) -> tuple[str, str]:
        day = tb.day.isoformat()
        mnt = int(tb.tpl.minute[r])
        vi = int(tb.tpl.venue[r])
        vid = int(self._vid[vi])
        cfg = int(tb.cfg_id[r])
        pc = tb.pclass
        start = _HMS[mnt]
        end_m = mnt + SLOT_LENGTH_MIN
        end = f"{day} {_HMS[end_m]}" if end_m < 1440 else f"{(tb.day + timedelta(days=1)).isoformat()} {_HMS[end_m - 1440]}"
        ttype = TABLE_TYPES[int(tb.tpl.ttype[r])]
        svc = 1 if mnt < SERVICES["dinner"][2] else 2
        pre = (f'{{"date":{{"start":"{day} {start}","end":"{end}"}},"config":{{"id":{cfg},"type":"{ttype}",'
               f'"token":"rgs://resy/{vid}/{cfg}/{svc}/{day}/{day}/{start}/{pc}/{ttype}#')
        post = (f'"}},"size":{{"min":{pc - 1 if pc > 2 else 1},"max":{pc}}},"quantity":1,'
                f'"payment":{self._payment[vi]}}}')
        return pre, post

    def _render_hits(self, snap: _Snapshot, chunk: list[tuple[int, np.ndarray]]) -> str:
        """The hits of one page as JSON text."""
        lists = self._slot_lists(snap.table, [rows for _, rows in chunk], snap.poll_no)
        return ",".join(self._prefix[vi] + text + self._suffix[vi] for (vi, _), text in zip(chunk, lists, strict=True))

    def _slot_lists(self, tb: _Table | None, groups: list[np.ndarray], poll_no: int) -> list[str]:
        """Each group of slot rows as a JSON list; booking tokens derive from (slot key, poll number).
        All groups' tokens are hashed in one vectorized call."""
        if tb is None or not groups:
            return ["[]"] * len(groups)
        rows = np.concatenate(groups)
        salt = np.uint64((poll_no * _TOKEN_MUL) & 0xFFFFFFFFFFFFFFFF)
        suffix = (mix64(tb.key[rows] ^ salt) & np.uint64(0xFFFF)).tolist()
        texts = [f"{pre}{suf:04x}{post}" for (pre, post), suf in zip(self._fragments(tb, rows.tolist()), suffix,
                                                                    strict=True)]
        out, i = [], 0
        for g in groups:
            out.append("[" + ",".join(texts[i:i + g.size]) + "]")
            i += g.size
        return out

    # ---- GET or POST /4/find -----------------------------------------------------------------------------
    def find(self, fields: dict[str, Any]) -> Response:
        """/4/find from its fields (query string, JSON body or form, as strings or numbers): one venue's
        slots with venue_id, else every venue near lat/long with an open slot."""
        try:
            return self._find(fields)
        except BadRequest as e:
            return bad_request(str(e))

    def _find(self, fields: dict[str, Any]) -> Response:
        day = _parse_day(fields.get("day"), "day")
        party = _int_field(fields, "party_size", None, 1, 20, text=True)
        m = self.m
        by_venue = fields.get("venue_id") is not None
        if by_venue:
            vi = m.venue_index.get(_int_field(fields, "venue_id", None, 0, text=True))
            candidates = [] if vi is None else [vi]
        else:  # lat/long alone: the venues around that point (none around the 0, 0 some clients send)
            near = self._near(_number(fields, "lat", None), _number(fields, "long", None), DEFAULT_RADIUS_M)
            candidates = np.nonzero(near)[0].tolist()
        pc = party_class(party)
        found: list[tuple[int, int, int, np.ndarray]] = []   # (-open slots, venue id, venue index, rows)
        with m.lock:
            t = m.clock.now_ts()
            self.poll_no += 1
            tb = m.table(day, pc) if pc is not None and self._bookable_day(day, t) else None
            for vi in candidates:
                rows = np.zeros(0, dtype=np.int64)
                if tb is not None:
                    idx = np.nonzero(tb.tpl.venue == vi)[0]
                    m.advance_rows(tb, idx, t)
                    rows = idx[tb.state[idx] == OPEN]
                if rows.size or by_venue:
                    found.append((-rows.size, int(self._vid[vi]), vi, rows))
            found.sort(key=lambda f: (f[0], f[1]))
            lists = self._slot_lists(tb, [f[3] for f in found], self.poll_no)
        venues = ",".join(self._find_prefix[f[2]] + text + "}" for f, text in zip(found, lists, strict=True))
        query = _dumps({"day": day.isoformat(), "party_size": party, "time_filter": None})
        return 200, {}, f'{{"results":{{"venues":[{venues}]}},"query":{query}}}'.encode()


def _is_number(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _number(obj: dict[str, Any], name: str, default: float | None, where: str = "") -> float:
    """A numeric field sent as a JSON number or a numeric string (query strings, forms)."""
    v = obj.get(name, default)
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            pass
    if not _is_number(v):
        raise BadRequest(f"{where}{name} must be a number, got {v!r}")
    return float(v)


_HMS = [hms(m) for m in range(1440)]
