"""Per-zone, per-date statistics that carry the clear fraction along.

Everything here walks a (possibly lazy, Dask-backed) stack a block of dates at a time:
each block is computed, reduced zone by zone, and dropped, so five years of imagery never
sit in memory at once. :func:`zone_stats` gives mean, median, standard deviation and the
number of clear pixels of any band or index per zone and date; :func:`extract_cubes`
keeps the pixels of a few zones (bounding box plus a margin) for the per-pixel analyses
of :mod:`geo.activity`.

A pixel is *clear* when the stack says so (``clear``: valid and SCL not cloud, shadow,
cirrus, saturated or snow), every band asked for is finite, it does not look like
snow (NDSI >= 0.4 with nir > 0.11, the classic snow test, which catches snow the SCL
missed), and for the per-pixel analyses it lies at least ``buffer`` pixels from any
such unclear pixel (the 20 m SCL misses the soft edges of clouds, shadows and snow). Dates on which less than ``min_clear`` of a zone is clear are *flagged* with a
reason (``cloud``, ``snow`` or ``no data``), never dropped.

Examples
--------
>>> from geo.testing.stacks import make_stack, small_aoi
>>> aoi = small_aoi()
>>> df = zone_stats(make_stack(aoi, 3, clouds={1: 1.0}), aoi, variables=["NDVI"])
>>> df.loc[df["zone"] == "apron_test", "flagged"].tolist()
[False, True, False]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from geo import errors, indices
from geo.aoi import AOI
from geo.zones import zone_masks

__all__ = [
    "REFLECTANCE_BANDS",
    "Cube",
    "clear_fraction_flags",
    "time_blocks",
    "extract_cubes",
    "iter_cubes",
    "zone_stats",
    "snow_like",
    "check_stack",
]

log = logging.getLogger(__name__)

REFLECTANCE_BANDS: tuple[str, ...] = ("blue", "green", "red", "nir", "swir16", "swir22")


@dataclass
class Cube:
    """The pixels of one zone over time (bounding box plus margin), as numpy arrays.

    Attributes
    ----------
    zone, kind
        Zone name and kind.
    data
        ``float32 (time, band, y, x)`` reflectance, NaN where not clear.
    clear
        ``bool (time, y, x)``: clear (see module docstring).
    snow
        ``bool (time, y, x)``: snow (SCL 11 or snow-like).
    mask
        ``bool (y, x)``: pixel centre inside the zone.
    x, y
        Pixel-centre coordinates (metres, UTM) of the box.
    bands
        Band names along ``data``'s second axis.
    suspect
        ``bool (time, y, x)`` or ``None``: pixels that are not clear *only* because the
        SCL calls them cloud or cirrus (8, 9, 10), or because they lie within ``buffer``
        of such a pixel or of snow (snow itself, shadows and their edges are never
        suspect). Kept only when asked for (``keep_suspect``): ``data`` then holds their
        values too, so :mod:`geo.activity` can test whether the SCL was wrong (it calls
        bright concrete and arid ground cloud on some dates) and whether the ground
        next to a snow patch is as usual.
    """

    zone: str
    kind: str
    data: np.ndarray
    clear: np.ndarray
    snow: np.ndarray
    mask: np.ndarray
    x: np.ndarray
    y: np.ndarray
    bands: tuple[str, ...]
    suspect: np.ndarray | None = None

    def clear_only(self, values: np.ndarray) -> np.ndarray:
        """``values`` (time, band, y, x) with suspect pixels set to NaN, in place."""
        if self.suspect is not None and self.suspect.any():
            values[np.broadcast_to(self.suspect[:, None], values.shape)] = np.nan
        return values

    @property
    def n_pixels(self) -> int:
        """Number of pixels inside the zone."""
        return int(self.mask.sum())

    def clear_fraction(self) -> np.ndarray:
        """Per date, the fraction of the zone's pixels that are clear."""
        n = max(self.n_pixels, 1)
        return (self.clear & self.mask).sum(axis=(1, 2)) / n

    def snow_fraction(self) -> np.ndarray:
        """Per date, the fraction of the zone's pixels under snow."""
        n = max(self.n_pixels, 1)
        return (self.snow & self.mask).sum(axis=(1, 2)) / n


def check_stack(stack: xr.Dataset, aoi: AOI, bands: Sequence[str] = ()) -> None:
    """Raise :class:`geo.errors.AnalysisError` unless the stack fits the contract."""
    for dim in ("time", "y", "x"):
        if dim not in stack.dims:
            raise errors.AnalysisError(
                f"The stack has no {dim!r} dimension (dims: {dict(stack.sizes)}); pass a "
                "Dataset from geo.load (dims time, y, x)."
            )
    crs = str(stack.attrs.get("crs", f"EPSG:{aoi.epsg}"))
    if crs.upper() != f"EPSG:{aoi.epsg}":
        raise errors.AnalysisError(
            f"The stack is in {crs} but AOI {aoi.name!r} is in EPSG:{aoi.epsg}; load the "
            "stack with geo.load(items, aoi) so both share the AOI's UTM grid."
        )
    missing = [b for b in bands if b not in stack.data_vars]
    if missing:
        raise errors.MissingBand(
            f"The stack lacks band(s) {', '.join(missing)} (has "
            f"{', '.join(map(str, stack.data_vars))}); load them with geo.load(..., bands=...)."
        )


def snow_like(data: dict[str, np.ndarray]) -> np.ndarray:
    """Pixels that look like snow: NDSI >= 0.4 and nir > 0.11 (needs green, swir16, nir).

    Examples
    --------
    >>> import numpy as np
    >>> snow_like({"green": np.array([0.8, 0.2]), "swir16": np.array([0.1, 0.3]),
    ...            "nir": np.array([0.7, 0.3])}).tolist()
    [True, False]
    """
    if not all(b in data for b in ("green", "swir16", "nir")):
        return np.zeros(np.shape(next(iter(data.values()))), dtype=bool)
    g, s, n = data["green"], data["swir16"], data["nir"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ndsi = (g - s) / (g + s)
    return np.asarray((ndsi >= 0.4) & (n > 0.11))


SCL_CLOUD: tuple[int, ...] = (8, 9, 10)
"""SCL classes of cloud (medium, high probability) and thin cirrus."""


def _clear_and_snow(block: dict[str, np.ndarray], bands: Sequence[str], buffer: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    clear, snow, _ = _clear_snow_suspect(block, bands, buffer)
    return clear, snow


def _grow(mask: np.ndarray, buffer: int) -> np.ndarray:
    size: tuple[int, ...] = (2 * buffer + 1,) * mask.ndim
    if mask.ndim == 3:
        size = (1, 2 * buffer + 1, 2 * buffer + 1)
    return ndimage.binary_dilation(mask, structure=np.ones(size, bool))


def _clear_snow_suspect(block: dict[str, np.ndarray], bands: Sequence[str], buffer: int = 0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clear, snow, and *suspect* pixels (see :attr:`Cube.suspect`)."""
    shape = np.shape(block[bands[0]])
    finite = np.ones(shape, dtype=bool)
    for b in bands:
        finite &= np.isfinite(block[b])
    snow = np.asarray(block["snow"], dtype=bool) if "snow" in block else np.zeros(shape, bool)
    if "scl" in block and "snow" not in block:
        snow = np.asarray(block["scl"]) == 11
    snow = snow | (snow_like(block) & finite)
    if "clear" in block:
        clear = np.asarray(block["clear"], dtype=bool)
    elif "scl" in block:
        clear = ~np.isin(np.asarray(block["scl"]), (0, 1, 3, 8, 9, 10, 11))
    else:
        clear = np.ones(shape, dtype=bool)
    clear = clear & finite & ~snow
    cloud = (np.isin(np.asarray(block["scl"]), SCL_CLOUD) & finite & ~snow if "scl" in block
             else np.zeros(shape, bool))
    # shadow, saturated, or unclear for a reason not given: never second-guessed (a
    # shadow's soft edge darkens the ground as an aircraft does)
    other = finite & ~clear & ~cloud & ~snow
    if buffer > 0:
        # the SCL is a 20 m product and misses the soft edges of clouds, shadows and
        # snow: grow what it flags by ``buffer`` pixels (10 m)
        clear &= ~_grow(finite & ~clear, buffer)
        if other.any():
            other = _grow(other, buffer)
    suspect = finite & ~clear & ~snow & ~other
    return clear, snow, suspect


def time_blocks(stack: xr.Dataset, block: int = 16) -> Iterator[slice]:
    """Slices of the time axis of about ``block`` dates, aligned to the Dask chunks.

    Examples
    --------
    >>> import xarray as xr, numpy as np
    >>> ds = xr.Dataset({"a": ("time", np.zeros(5))})
    >>> [s.stop for s in time_blocks(ds, 2)]
    [2, 4, 5]
    """
    n = stack.sizes["time"]
    chunks = stack.chunks.get("time") if stack.chunks else None
    if not chunks:
        chunks = (1,) * n
    edges = np.cumsum((0, *chunks))
    start = 0
    for stop in edges[1:]:
        if stop - start >= block or stop == n:
            yield slice(int(start), int(stop))
            start = int(stop)


def _boxes(masks: xr.DataArray, names: Sequence[str], margin: int
           ) -> dict[str, tuple[slice, slice]]:
    out = {}
    ny, nx = masks.sizes["y"], masks.sizes["x"]
    for name in names:
        m = masks.sel(zone=name).to_numpy()
        if not m.any():
            raise errors.AnalysisError(
                f"Zone {name!r} covers no pixel of the stack; load the stack over the "
                "whole AOI (geo.load(items, aoi)) or drop the zone."
            )
        rows, cols = np.where(m.any(axis=1))[0], np.where(m.any(axis=0))[0]
        out[name] = (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, ny)),
                     slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, nx)))
    return out


def _compute_block(stack: xr.Dataset, names: Sequence[str], sl: slice) -> dict[str, np.ndarray]:
    import dask

    sub = stack[list(names)].isel(time=sl)
    arrays = {k: sub[k].data for k in names}
    (computed,) = dask.compute(arrays)
    return {k: np.asarray(v) for k, v in computed.items()}


def _aux_vars(stack: xr.Dataset) -> list[str]:
    return [v for v in ("clear", "snow", "scl") if v in stack.data_vars]


def _union(boxes: dict[str, tuple[slice, slice]], grow: int, ny: int, nx: int
           ) -> tuple[slice, slice]:
    """The window holding every box, grown by ``grow`` pixels (clipped to the stack)."""
    ys = [b[0] for b in boxes.values()]
    xs = [b[1] for b in boxes.values()]
    return (slice(max(min(s.start for s in ys) - grow, 0), min(max(s.stop for s in ys) + grow, ny)),
            slice(max(min(s.start for s in xs) - grow, 0), min(max(s.stop for s in xs) + grow, nx)))


def iter_cubes(
    stack: xr.Dataset,
    aoi: AOI,
    zones: Sequence[str],
    *,
    bands: Sequence[str] | None = None,
    margin: int = 3,
    buffer: int = 2,
    block: int = 16,
    dates: Sequence[int] | np.ndarray | None = None,
    keep_suspect: bool = False,
) -> Iterator[tuple[np.ndarray, dict[str, Cube]]]:
    """Walk a stack a block of dates at a time, yielding the zones' pixels of each block.

    Only the window holding the zones (plus ``buffer``, so cloud edges just outside are
    still grown into it) is computed, and one block is in memory at a time: memory does
    not depend on the number of dates.

    Parameters
    ----------
    stack, aoi, zones, bands, margin, buffer, block, keep_suspect
        As for :func:`extract_cubes`.
    dates
        Positions along ``time`` to walk (default: all, in order).

    Yields
    ------
    (numpy.ndarray, dict of zone name -> Cube)
        The positions along ``time`` of the block, and each zone's :class:`Cube` for them.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> aoi = small_aoi()
    >>> [idx.tolist() for idx, _ in iter_cubes(make_stack(aoi, 5), aoi, ["apron_test"],
    ...                                        dates=[0, 2, 4], block=2)]
    [[0, 2], [4]]
    """
    bands = tuple(bands or [b for b in REFLECTANCE_BANDS if b in stack.data_vars])
    check_stack(stack, aoi, bands)
    masks = zone_masks(aoi, stack)
    boxes = _boxes(masks, zones, margin)
    kinds = dict(zip(masks["zone"].values.tolist(), masks["kind"].values.tolist()))
    uy, ux = _union(boxes, buffer, stack.sizes["y"], stack.sizes["x"])
    names = [*bands, *_aux_vars(stack)]
    positions = np.arange(stack.sizes["time"]) if dates is None else np.asarray(dates, int)
    sub = stack[names].isel(y=uy, x=ux)
    if dates is not None:
        sub = sub.isel(time=positions)
    x_all, y_all = stack["x"].to_numpy(), stack["y"].to_numpy()
    inside = {name: masks.sel(zone=name).to_numpy()[ys, xs] for name, (ys, xs) in boxes.items()}
    for sl in time_blocks(sub, block):
        vals = _compute_block(sub, names, sl)
        clear_all, snow_all, suspect_all = _clear_snow_suspect(vals, bands, buffer)
        keep = clear_all | suspect_all if keep_suspect else clear_all
        cubes = {}
        for name, (ys, xs) in boxes.items():
            ly = slice(ys.start - uy.start, ys.stop - uy.start)
            lx = slice(xs.start - ux.start, xs.stop - ux.start)
            clear, kept = clear_all[:, ly, lx], keep[:, ly, lx]
            data = np.empty((clear.shape[0], len(bands), *clear.shape[1:]), np.float32)
            for i, b in enumerate(bands):
                data[:, i] = vals[b][:, ly, lx]
                data[:, i][~kept] = np.nan
            cubes[name] = Cube(
                zone=name, kind=str(kinds[name]), data=data,
                clear=clear.copy(), snow=snow_all[:, ly, lx].copy(),
                mask=inside[name], x=x_all[xs], y=y_all[ys],
                bands=bands, suspect=suspect_all[:, ly, lx].copy() if keep_suspect else None,
            )
        del vals, clear_all, snow_all, suspect_all, keep
        log.debug("extracted dates %d-%d of %d", sl.start, sl.stop, len(positions))
        yield positions[sl], cubes


def extract_cubes(
    stack: xr.Dataset,
    aoi: AOI,
    zones: Sequence[str],
    *,
    bands: Sequence[str] | None = None,
    margin: int = 3,
    buffer: int = 2,
    block: int = 16,
    dates: Sequence[int] | np.ndarray | None = None,
    keep_suspect: bool = False,
) -> dict[str, Cube]:
    """Pull the pixels of some zones out of a stack, a block of dates at a time.

    Memory: sum over zones of (box pixels x dates x (4 bytes x bands + 2)); for Bagram's
    activity zones about 1.2 MB per date. To keep memory independent of the number of
    dates, walk the blocks with :func:`iter_cubes` instead.

    Parameters
    ----------
    stack
        Stack from :func:`geo.load` (lazy or not).
    aoi
        The AOI whose zones are meant.
    zones
        Zone names.
    bands
        Reflectance bands to keep (default: those of :data:`REFLECTANCE_BANDS` present).
    margin
        Pixels kept around each zone's bounding box (for neighbourhood filters).
    buffer
        Pixels by which cloud, shadow and snow are grown (the SCL misses their edges).
    block
        Dates computed per step.
    dates
        Positions along ``time`` to keep (default: all).
    keep_suspect
        Also keep the values of pixels the SCL alone calls cloud (see
        :attr:`Cube.suspect`); ``data`` is then not NaN there although ``clear`` is False.

    Returns
    -------
    dict of zone name -> :class:`Cube`

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> aoi = small_aoi()
    >>> cubes = extract_cubes(make_stack(aoi, 2), aoi, ["apron_test"])
    >>> cubes["apron_test"].data.shape[:2]
    (2, 6)
    """
    nt = stack.sizes["time"] if dates is None else len(dates)
    if nt == 0:
        raise errors.AnalysisError("The stack holds no date; search a period with images.")
    out: dict[str, Cube] = {}
    done = 0
    for idx, part in iter_cubes(stack, aoi, zones, bands=bands, margin=margin, buffer=buffer,
                                block=block, dates=dates, keep_suspect=keep_suspect):
        for name, c in part.items():
            if name not in out:  # allocated once, filled block by block: no second copy
                out[name] = Cube(
                    zone=name, kind=c.kind, mask=c.mask, x=c.x, y=c.y, bands=c.bands,
                    data=np.empty((nt, *c.data.shape[1:]), np.float32),
                    clear=np.empty((nt, *c.clear.shape[1:]), bool),
                    snow=np.empty((nt, *c.snow.shape[1:]), bool),
                    suspect=None if c.suspect is None else np.empty(
                        (nt, *c.snow.shape[1:]), bool),
                )
            sl = slice(done, done + len(idx))
            out[name].data[sl], out[name].clear[sl], out[name].snow[sl] = c.data, c.clear, c.snow
            held = out[name].suspect
            if c.suspect is not None and held is not None:
                held[sl] = c.suspect
        done += len(idx)
    return out


def clear_fraction_flags(
    clear_fraction: np.ndarray, snow_fraction: np.ndarray, min_clear: float,
    valid_fraction: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Flag dates whose clear fraction is below ``min_clear``, with the reason.

    Examples
    --------
    >>> import numpy as np
    >>> clear_fraction_flags(np.array([0.9, 0.2, 0.3]), np.array([0, 0, 0.6]), 0.7)
    (array([False,  True,  True]), ['', 'cloud: 20% clear < 70%', 'snow: 30% clear < 70%'])
    """
    flagged = np.asarray(clear_fraction < min_clear)
    reasons = []
    valid = np.ones_like(clear_fraction) if valid_fraction is None else valid_fraction
    for cf, sf, vf, f in zip(clear_fraction, snow_fraction, valid, flagged):
        if not f:
            reasons.append("")
            continue
        cloud = max(vf - cf - sf, 0.0)
        cause = "no data" if vf < 0.5 else ("snow" if sf >= cloud else "cloud")
        reasons.append(f"{cause}: {cf:.0%} clear < {min_clear:.0%}")
    return flagged, reasons


def _variable(block: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name in block:
        return np.asarray(block[name], dtype=float)
    return np.asarray(indices.compute(name, block), dtype=float)


def zone_stats(
    stack: xr.Dataset,
    aoi: AOI,
    *,
    variables: Sequence[str] = ("NDVI", "brightness"),
    zones: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    min_clear: float = 0.7,
    block: int = 16,
) -> pd.DataFrame:
    """Mean, median, std and clear-pixel count of bands or indices per zone and date.

    Parameters
    ----------
    stack
        Stack from :func:`geo.load` (lazy stacks are computed a block of dates at a time).
    aoi
        Its AOI.
    variables
        Band names or index names of :data:`geo.indices.INDICES`.
    zones, kinds
        Restrict to these zone names or kinds (default: every zone).
    min_clear
        Dates with a smaller clear fraction in a zone are flagged for that zone.
    block
        Dates computed per step.

    Returns
    -------
    pandas.DataFrame
        One row per (date, zone, variable): ``date, zone, kind, variable, mean, median,
        std, count, clear_fraction, snow_fraction, flagged, flag_reason, item_id``.
        Statistics use clear pixels only; they are NaN where none is clear.

    Examples
    --------
    >>> from geo.testing.stacks import make_stack, small_aoi
    >>> aoi = small_aoi()
    >>> df = zone_stats(make_stack(aoi, 2), aoi, variables=["NDVI"], kinds=["apron"])
    >>> df[["zone", "variable", "count"]].iloc[0].astype(str).tolist()
    ['apron_test', 'NDVI', '1500']
    """
    masks = zone_masks(aoi, stack)
    sel = [z for z, k in zip(masks["zone"].values, masks["kind"].values)
           if (zones is None or z in zones) and (kinds is None or k in kinds)]
    if not sel:
        raise errors.AnalysisError(
            f"No zone of AOI {aoi.name!r} matches zones={zones} kinds={kinds}; the AOI has "
            f"{', '.join(map(str, masks['zone'].values))}."
        )
    bands = sorted({b for v in variables for b in
                    ((v,) if v in stack.data_vars else indices._lookup(v).bands)})
    refl = [b for b in REFLECTANCE_BANDS if b in stack.data_vars]
    check_stack(stack, aoi, bands)
    names = sorted({*bands, *refl, *_aux_vars(stack)})
    zm = {z: masks.sel(zone=z).to_numpy() for z in sel}
    kinds_of = dict(zip(masks["zone"].values.tolist(), masks["kind"].values.tolist()))
    times = pd.DatetimeIndex(stack["time"].to_numpy())
    ids = (stack["item_id"].to_numpy() if "item_id" in stack.coords
           else np.full(len(times), "", dtype=object))
    rows: list[dict[str, object]] = []
    for sl in time_blocks(stack, block):
        vals = _compute_block(stack, names, sl)
        clear, snow = _clear_and_snow(vals, refl or bands)
        finite = np.isfinite(vals[(refl or bands)[0]])
        arrays = {v: _variable(vals, v) for v in variables}
        for i in range(sl.stop - sl.start):
            t = sl.start + i
            for z in sel:
                m = zm[z]
                n = max(int(m.sum()), 1)
                ok = clear[i] & m
                cf, sf, vf = ok.sum() / n, (snow[i] & m).sum() / n, (finite[i] & m).sum() / n
                for v, arr in arrays.items():
                    px = arr[i][ok]
                    px = px[np.isfinite(px)]
                    rows.append({
                        "date": times[t], "zone": z, "kind": kinds_of[z], "variable": v,
                        "mean": float(px.mean()) if px.size else np.nan,
                        "median": float(np.median(px)) if px.size else np.nan,
                        "std": float(px.std()) if px.size else np.nan,
                        "count": px.size, "clear_fraction": float(cf),
                        "snow_fraction": float(sf), "valid_fraction": float(vf),
                        "item_id": str(ids[t]),
                    })
    df = pd.DataFrame(rows)
    flagged, reasons = clear_fraction_flags(df["clear_fraction"].to_numpy(),
                                            df["snow_fraction"].to_numpy(), min_clear,
                                            df["valid_fraction"].to_numpy())
    df["flagged"], df["flag_reason"] = flagged, reasons
    cols = ["date", "zone", "kind", "variable", "mean", "median", "std", "count",
            "clear_fraction", "snow_fraction", "flagged", "flag_reason", "item_id"]
    df["count"] = df["count"].astype(int)
    return df[cols]
