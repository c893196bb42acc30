"""Surface reflectance of the synthetic site, date by date.

The static landscape (materials of every 10 m pixel, as fractions from a 2 m drawing, so
edges are mixed pixels as in real imagery) is built once per scenario. Each date then
gets the things that change: crop phenology per field parcel, vegetation creeping onto
disused taxiways, snow, shadows of buildings and hangars from the day's sun, the planted
objects (:mod:`geo.scenario._activity`), sub-pixel misregistration, haze, clouds and
their shadows, sensor noise, and an imperfect scene classification (SCL).

Reflectances are bottom-of-atmosphere (1.0 = 100 %) in the order of :data:`BANDS`.

Examples
--------
>>> import geo
>>> grid = SceneGrid.for_aoi(geo.aoi.load("bagram"))
>>> grid.width % 6, grid.height % 6
(0, 0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import shapely
from affine import Affine
from rasterio import features
from scipy.ndimage import map_coordinates
from shapely.geometry.base import BaseGeometry

from geo.aoi import AOI
from geo.scenario._cadence import EVENT_DATES, Acquisition
from geo.scenario._noise import block_mean, fractal_noise, smoothstep, subpixel_shift

__all__ = ["BANDS", "SceneGrid", "Scene", "build_scene", "DateRender", "render_date",
           "MARGIN_M", "WITHDRAWAL", "TAKEOVER"]

BANDS = ("blue", "green", "red", "nir", "swir16", "swir22")
"""Reflective bands rendered, in order (Sentinel-2 B02, B03, B04, B08, B11, B12)."""

MARGIN_M = 480.0
"""Margin around the AOI's zones (metres) covered by the scenario's rasters."""

SUPER = 5
"""Static landscape drawn at 10 m / SUPER = 2 m, then averaged."""

WITHDRAWAL = date(2021, 7, 2)
TAKEOVER = date(2021, 8, 15)

# --- spectra (B02 B03 B04 B08 B11 B12), bottom-of-atmosphere reflectance -----------------
SPECTRA: dict[str, tuple[float, ...]] = {
    "soil": (0.120, 0.160, 0.200, 0.250, 0.330, 0.290),       # light loess, Shomali plain
    "gravel": (0.110, 0.145, 0.175, 0.215, 0.290, 0.260),     # alluvial fan, compacted ground
    "field": (0.0,) * 6,                                        # dynamic: see _field_spectra
    "concrete": (0.190, 0.212, 0.228, 0.250, 0.285, 0.258),
    "asphalt": (0.065, 0.075, 0.085, 0.105, 0.135, 0.125),
    "roof_grey": (0.130, 0.140, 0.150, 0.170, 0.200, 0.180),
    "roof_metal": (0.260, 0.280, 0.290, 0.300, 0.290, 0.250),
    "hangar": (0.215, 0.235, 0.245, 0.265, 0.270, 0.240),
    "mudbrick": (0.130, 0.170, 0.215, 0.255, 0.330, 0.290),
    "trees": (0.0,) * 6,                                        # dynamic: deciduous orchards
    "berm": (0.110, 0.150, 0.190, 0.240, 0.320, 0.280),
}
MATERIALS = tuple(SPECTRA)
_M = {name: i for i, name in enumerate(MATERIALS)}
GREEN = np.array([0.030, 0.070, 0.040, 0.420, 0.210, 0.100], np.float32)
DRY_VEG = np.array([0.090, 0.130, 0.170, 0.250, 0.330, 0.250], np.float32)
SOIL_DRY = np.array([0.100, 0.140, 0.180, 0.230, 0.310, 0.270], np.float32)
SOIL_WET = np.array([0.070, 0.100, 0.130, 0.170, 0.240, 0.190], np.float32)
SNOW = np.array([0.800, 0.790, 0.770, 0.700, 0.120, 0.090], np.float32)
CLOUD = np.array([0.620, 0.615, 0.620, 0.640, 0.500, 0.380], np.float32)
CIRRUS = np.array([0.300, 0.290, 0.285, 0.290, 0.200, 0.140], np.float32)
HAZE = np.array([0.050, 0.038, 0.028, 0.014, 0.005, 0.003], np.float32)
SHADOW_KEEP = np.array([0.42, 0.36, 0.32, 0.28, 0.25, 0.25], np.float32)
"""Share of reflectance left in a hard shadow (diffuse skylight, bluer)."""
NOISE_SIGMA = np.array([0.0040, 0.0040, 0.0040, 0.0050, 0.0045, 0.0045], np.float32)

HEADING_DEG = 29.8
"""Default orientation of drawn layouts (Bagram's runways); overridden per AOI."""


@dataclass(frozen=True)
class SceneGrid:
    """The raster window of the scenario on the Sentinel-2 10 m lattice of the AOI's tile.

    Examples
    --------
    >>> g = SceneGrid(500000.0, 3900000.0, 60, 120)
    >>> g.transform(20).a, g.shape(20)
    (20.0, (60, 30))
    """

    x0: float
    y1: float
    width: int
    height: int
    epsg: int = 32642

    @classmethod
    def for_aoi(cls, aoi: AOI, margin: float = MARGIN_M) -> SceneGrid:
        """The window of an AOI's zones plus ``margin`` metres, aligned to 60 m."""
        xmin, ymin, xmax, ymax = aoi.utm_bounds(margin=margin, resolution=60.0)
        return cls(float(xmin), float(ymax), int(round((xmax - xmin) / 10)),
                   int(round((ymax - ymin) / 10)), aoi.epsg)

    def transform(self, res: float = 10.0) -> Affine:
        return Affine(res, 0.0, self.x0, 0.0, -res, self.y1)

    def shape(self, res: float = 10.0) -> tuple[int, int]:
        k = res / 10.0
        return (int(round(self.height / k)), int(round(self.width / k)))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y1 - self.height * 10.0, self.x0 + self.width * 10.0, self.y1)


@dataclass
class Scene:
    """The static landscape of a scenario and everything drawn once per build."""

    grid: SceneGrid
    frac: np.ndarray            # (material, y, x) float32, sums to 1
    texture: np.ndarray         # (y, x) multiplicative texture near 1
    static_refl: np.ndarray     # (band, y, x) reflectance of the static materials
    parcel: np.ndarray          # (y, x) int32 parcel index (0 where no field)
    parcel_kind: np.ndarray     # (parcel,) int crop type
    parcel_shift: np.ndarray    # (parcel,) days of phenology shift
    parcel_amp: np.ndarray      # (parcel,) peak vegetation cover
    parcel_soil: np.ndarray     # (parcel,) brightness of the parcel's bare soil
    zone_names: list[str]
    zone_kinds: list[str]
    zone_masks: np.ndarray      # (zone, y, x) bool, pixel centre in zone
    zone_geoms: list[BaseGeometry]
    taxiway: np.ndarray         # (y, x) taxiway fraction (vegetation creeps in after 2021)
    paved: np.ndarray           # (y, x) runway/taxiway/apron fraction (cleared of snow)
    concrete: np.ndarray        # (y, x) concrete fraction (sometimes called cloud)
    roof_low: np.ndarray        # (y, x) building roof fraction (about 6 m high)
    roof_high: np.ndarray       # (y, x) hangar roof fraction (about 15 m high)
    snow_noise: np.ndarray      # (y, x) in 0..1, where snow lies first
    weed_noise: np.ndarray      # (y, x) in 0..1, where weeds grow first
    heading: float = HEADING_DEG
    seed: int = 0
    lonlat: tuple[float, float] = (69.265, 34.946)
    snow_depth: dict[date, float] = field(default_factory=dict)

    def zone_index(self, name: str) -> int:
        return self.zone_names.index(name)


# --- static scene -----------------------------------------------------------------------


def _layout_heading(aoi: AOI) -> float:
    """Orientation (degrees clockwise from north) of the longest runway, else 0."""
    utm = aoi.zones_utm()
    runways = utm[utm["kind"] == "runway"]
    if runways.empty:
        return 0.0
    geom = runways.geometry.iloc[int(np.argmax(runways.geometry.area.to_numpy()))]
    rect = geom.minimum_rotated_rectangle
    xs, ys = np.asarray(rect.exterior.coords.xy)
    edges = [(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) for i in range(2)]
    dx, dy = max(edges, key=lambda e: math.hypot(*e))
    return math.degrees(math.atan2(dx, dy)) % 180.0


def _rot_boxes(cx: np.ndarray, cy: np.ndarray, length: np.ndarray, width: np.ndarray,
               heading: float | np.ndarray) -> np.ndarray:
    """Polygons (shapely array) of rectangles: ``length`` along ``heading`` (deg from N)."""
    h = np.radians(np.broadcast_to(heading, np.shape(cx)))
    ux, uy = np.sin(h), np.cos(h)          # along
    vx, vy = np.cos(h), -np.sin(h)         # across
    hl, hw = np.asarray(length) / 2, np.asarray(width) / 2
    corners = np.stack([
        np.stack([cx + s * hl * ux + t * hw * vx, cy + s * hl * uy + t * hw * vy], -1)
        for s, t in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1))
    ], axis=-2)
    return shapely.polygons(corners)


def _lattice(geom: BaseGeometry, step_along: float, step_across: float,
             heading: float) -> tuple[np.ndarray, np.ndarray]:
    """Points of a rotated lattice inside a polygon (centres of cells that fit)."""
    c = geom.centroid
    r = math.hypot(*(np.subtract(geom.bounds[2:], geom.bounds[:2]))) / 2 + step_along
    s = np.arange(-r, r, step_along)
    t = np.arange(-r, r, step_across)
    ss, tt = np.meshgrid(s, t)
    h = math.radians(heading)
    x = c.x + ss * math.sin(h) + tt * math.cos(h)
    y = c.y + ss * math.cos(h) - tt * math.sin(h)
    inside = shapely.contains_xy(geom.buffer(-min(step_along, step_across) / 2), x, y)
    return x[inside], y[inside]


def _draw(label: np.ndarray, transform: Affine, geoms: list | np.ndarray, material: str) -> None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return
    mask = features.rasterize(((g, 1) for g in geoms), out_shape=label.shape,
                              transform=transform, fill=0, dtype="uint8")
    label[mask.astype(bool)] = _M[material]


def _background(grid: SceneGrid, aoi: AOI, rng: np.random.Generator) -> np.ndarray:
    """Material label of the ground at 2 m before any zone is drawn."""
    h, w = grid.shape(10.0 / SUPER)
    coarse = fractal_noise((h // SUPER, w // SUPER), rng, beta=3.0)
    noise = np.repeat(np.repeat(coarse, SUPER, 0), SUPER, 1)
    xs = grid.x0 + (np.arange(w) + 0.5) * 10.0 / SUPER
    perim = aoi.zones_utm()
    per = perim.loc[perim["kind"] == "perimeter", "geometry"].iloc[0]
    cx = per.centroid.x
    # fields to the west (irrigated Shomali plain), open gravel fans to the east
    field_bias = np.clip((cx + 600 - xs) / 1500.0, -1.5, 1.5)[None, :]
    label = np.full((h, w), _M["gravel"], np.uint8)
    label[noise * 0.6 + field_bias > 0.1] = _M["field"]
    label[(noise > 0.2) & (label == _M["gravel"])] = _M["soil"]
    inside = features.rasterize([(per, 1)], out_shape=(h, w),
                                transform=grid.transform(10.0 / SUPER), dtype="uint8") > 0
    label[inside] = _M["gravel"]
    return label


def _villages(grid: SceneGrid, aoi: AOI, label: np.ndarray, rng: np.random.Generator,
              heading: float) -> None:
    """Compounds (mud-brick rings around courtyards with trees) among the fields."""
    utm = aoi.zones_utm()
    per = utm.loc[utm["kind"] == "perimeter", "geometry"].iloc[0].buffer(150)
    xmin, ymin, xmax, ymax = grid.bounds
    n = int((xmax - xmin) * (ymax - ymin) / 1.2e6)
    cx = rng.uniform(xmin, xmax, n)
    cy = rng.uniform(ymin, ymax, n)
    t2 = grid.transform(10.0 / SUPER)
    col = ((cx - xmin) / (10.0 / SUPER)).astype(int).clip(0, label.shape[1] - 1)
    row = ((ymax - cy) / (10.0 / SUPER)).astype(int).clip(0, label.shape[0] - 1)
    keep = (label[row, col] == _M["field"]) & ~shapely.contains_xy(per, cx, cy)
    cx, cy = cx[keep], cy[keep]
    outer: list[BaseGeometry] = []
    inner: list[BaseGeometry] = []
    trees: list[BaseGeometry] = []
    for x, y in zip(cx, cy, strict=True):
        k = int(rng.integers(4, 12))
        px = x + rng.normal(0, 70, k)
        py = y + rng.normal(0, 70, k)
        size = rng.uniform(25, 55, k)
        hd = heading + rng.normal(0, 8, k)
        outer.extend(_rot_boxes(px, py, size, size * rng.uniform(0.8, 1.2, k), hd))
        inner.extend(_rot_boxes(px, py, size - 14, size - 14, hd))
        trees.extend(shapely.buffer(shapely.points(px + rng.normal(0, 40, k),
                                                   py + rng.normal(0, 40, k)),
                                    rng.uniform(8, 25, k)))
    _draw(label, t2, trees, "trees")
    _draw(label, t2, outer, "mudbrick")
    _draw(label, t2, inner, "soil")


def _cantonment(geom: BaseGeometry, label: np.ndarray, t2: Affine, rng: np.random.Generator,
                heading: float) -> None:
    x, y = _lattice(geom, 30.0, 22.0, heading)
    keep = rng.random(x.size) < 0.8
    x, y = x[keep] + rng.normal(0, 3, keep.sum()), y[keep] + rng.normal(0, 3, keep.sum())
    length = rng.uniform(10, 26, x.size)
    width = rng.uniform(6, 13, x.size)
    boxes = _rot_boxes(x, y, length, width, heading + rng.choice([0, 90], x.size))
    metal = rng.random(x.size) < 0.3
    # roads every few blocks
    rx, ry = _lattice(geom, 240.0, 240.0, heading)
    roads = list(_rot_boxes(rx, ry, np.full(rx.size, 240.0), np.full(rx.size, 7.0), heading))
    roads += list(_rot_boxes(rx, ry, np.full(rx.size, 240.0), np.full(rx.size, 7.0),
                             heading + 90))
    _draw(label, t2, [b.intersection(geom) for b in roads], "asphalt")
    _draw(label, t2, list(boxes[~metal]), "roof_grey")
    _draw(label, t2, list(boxes[metal]), "roof_metal")


def _revetments(geom: BaseGeometry, label: np.ndarray, t2: Affine, heading: float) -> None:
    x, y = _lattice(geom, 38.0, 38.0, heading)
    n = x.size
    pads = _rot_boxes(x, y, np.full(n, 26.0), np.full(n, 26.0), heading)
    h = math.radians(heading)
    walls: list[BaseGeometry] = []
    for dx, dy, ln, wd in ((-16, 0, 32.0, 4.0), (16, 0, 32.0, 4.0), (0, 16, 4.0, 32.0)):
        ox = dx * math.cos(h) + dy * math.sin(h)
        oy = -dx * math.sin(h) + dy * math.cos(h)
        walls.extend(_rot_boxes(x + ox, y + oy, np.full(n, wd), np.full(n, ln), heading + 90))
    _draw(label, t2, list(pads), "concrete")
    _draw(label, t2, walls, "berm")


def _perimeter_road(geom: BaseGeometry, label: np.ndarray, t2: Affine) -> None:
    ring = geom.exterior.buffer(4.0)
    _draw(label, t2, [ring], "asphalt")


ZONE_MATERIAL = {
    "runway": "concrete", "taxiway": "asphalt", "apron": "concrete", "parking": "asphalt",
    "yard": "gravel", "hangar": "hangar",
}


def _fractions(label: np.ndarray) -> np.ndarray:
    out = np.empty((len(MATERIALS), label.shape[0] // SUPER, label.shape[1] // SUPER),
                   np.float32)
    for i in range(len(MATERIALS)):
        out[i] = block_mean((label == i).astype(np.float32), SUPER)
    return out


def _zone_fraction(geoms: list[BaseGeometry], grid: SceneGrid) -> np.ndarray:
    if not geoms:
        return np.zeros(grid.shape(), np.float32)
    fine = features.rasterize(((g, 1) for g in geoms), out_shape=grid.shape(10.0 / SUPER),
                              transform=grid.transform(10.0 / SUPER), dtype="uint8")
    return block_mean(fine.astype(np.float32), SUPER)


def _parcels(grid: SceneGrid, rng: np.random.Generator,
             heading: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Field parcels: strips between irrigation ditches, cut into plots of varied length.

    Returns the parcel index of every 10 m pixel (1..n), the share of each pixel taken by
    ditches and paths between parcels, and the number of parcels.
    """
    h, w = grid.shape()
    xs = grid.x0 + (np.arange(w) + 0.5) * 10
    ys = grid.y1 - (np.arange(h) + 0.5) * 10
    gx, gy = np.meshgrid(xs - xs.mean(), ys - ys.mean())
    a = math.radians(heading + 65)
    u = gx * math.sin(a) + gy * math.cos(a)          # along the strips
    v = gx * math.cos(a) - gy * math.sin(a)          # across the strips
    span = float(np.abs(np.concatenate([u.ravel(), v.ravel()])).max()) + 200
    widths = rng.uniform(35, 110, int(2 * span / 35) + 2)
    edges = -span + np.cumsum(widths)
    row = np.searchsorted(edges, v)
    n_rows = edges.size + 1
    plot_len = rng.uniform(90, 320, n_rows)
    offset = rng.uniform(0, 320, n_rows)
    pos = (u + offset[row]) / plot_len[row]
    plot = np.floor(pos).astype(np.int64)
    n = 4096
    parcel = ((row * 7919 + plot * 104729) % (n - 1) + 1).astype(np.int32)
    # paths and ditches: within ~4 m of a strip edge or plot cut
    dv = np.minimum(np.abs(v - np.take(edges, np.clip(row, 0, edges.size - 1))),
                    np.abs(v - np.take(edges, np.clip(row - 1, 0, edges.size - 1))))
    du = np.minimum(pos - plot, 1 - (pos - plot)) * plot_len[row]
    border = np.clip((6.0 - np.minimum(dv, du)) / 10.0, 0, 0.6).astype(np.float32)
    return parcel, border, n


def build_scene(aoi: AOI, seed: int = 0) -> Scene:
    """Draw the static landscape of an AOI (once per scenario build).

    Examples
    --------
    >>> import geo
    >>> scene = build_scene(geo.aoi.load("bagram"))
    >>> bool(abs(scene.frac.sum(0) - 1).max() < 1e-5)
    True
    """
    rng = np.random.default_rng([seed, 1])
    grid = SceneGrid.for_aoi(aoi)
    heading = _layout_heading(aoi) or HEADING_DEG
    t2 = grid.transform(10.0 / SUPER)
    label = _background(grid, aoi, rng)
    _villages(grid, aoi, label, rng, heading)
    utm = aoi.zones_utm()
    by_kind = {k: list(g.geometry) for k, g in utm.groupby("kind")}
    for geom in by_kind.get("control", []):
        row = utm[utm.geometry == geom].iloc[0]
        text = f"{row['name']} {row.get('description', '')}".lower()
        if any(w in text for w in ("farm", "field", "crop", "irrigat")):
            _draw(label, t2, [geom], "field")
        else:
            _draw(label, t2, [geom], "gravel")
    for geom in by_kind.get("perimeter", []):
        _perimeter_road(geom, label, t2)
    for geom in by_kind.get("built", []):
        _draw(label, t2, [geom], "gravel")
        _cantonment(geom, label, t2, rng, heading)
    for kind in ("yard", "parking", "taxiway", "apron", "runway", "hangar"):
        _draw(label, t2, by_kind.get(kind, []), ZONE_MATERIAL[kind])
    for geom in by_kind.get("revetment", []):
        _draw(label, t2, [geom], "gravel")
        _revetments(geom, label, t2, heading)
    # the west runway of Bagram is asphalt; any second runway is drawn darker
    runways = utm[utm["kind"] == "runway"].sort_values("name")
    if len(runways) > 1:
        narrow = runways.geometry.area.to_numpy().argmin()
        _draw(label, t2, [runways.geometry.iloc[narrow]], "asphalt")
    frac = _fractions(label)
    del label
    h, w = grid.shape()
    texture = (1.0 + 0.06 * fractal_noise((h, w), rng, beta=2.6)
               + 0.025 * fractal_noise((h, w), rng, beta=1.0)).astype(np.float32)
    spectra = np.array([SPECTRA[m] for m in MATERIALS], np.float32)      # (M, B)
    parcel, border, n_parcels = _parcels(grid, rng, heading)
    field_frac = frac[_M["field"]].copy()
    frac[_M["field"]] = field_frac * (1 - border)
    frac[_M["soil"]] += field_frac * border
    static = np.tensordot(spectra.T, frac, axes=1) * texture              # (B, y, x)
    kinds = rng.choice(5, n_parcels, p=[0.42, 0.25, 0.15, 0.12, 0.06])
    import xarray as xr

    from geo.zones import zone_masks

    xs = grid.x0 + (np.arange(w) + 0.5) * 10
    ys = grid.y1 - (np.arange(h) + 0.5) * 10
    masks = zone_masks(aoi, xr.Dataset(coords={"x": xs, "y": ys}))
    ref = aoi.properties.get("reference_point")
    centre = aoi.perimeter.centroid
    lonlat = (float(ref[0]), float(ref[1])) if ref else (float(centre.x), float(centre.y))
    return Scene(
        grid=grid, frac=frac, texture=texture, static_refl=static.astype(np.float32),
        parcel=parcel, parcel_kind=kinds.astype(np.int8),
        parcel_shift=rng.normal(0, 9, n_parcels).astype(np.float32),
        parcel_amp=rng.uniform(0.55, 0.92, n_parcels).astype(np.float32),
        parcel_soil=rng.uniform(0.78, 1.18, n_parcels).astype(np.float32),
        zone_names=[str(n) for n in utm["name"]], zone_kinds=[str(k) for k in utm["kind"]],
        zone_masks=masks.to_numpy(), zone_geoms=list(utm.geometry),
        taxiway=_zone_fraction(by_kind.get("taxiway", []), grid),
        paved=_zone_fraction(by_kind.get("runway", []) + by_kind.get("taxiway", [])
                             + by_kind.get("apron", []), grid),
        concrete=frac[_M["concrete"]].copy(),
        roof_low=frac[_M["roof_grey"]] + frac[_M["roof_metal"]],
        roof_high=frac[_M["hangar"]].copy(),
        snow_noise=_unit(fractal_noise((h, w), rng, beta=2.6)),
        weed_noise=_unit(fractal_noise((h, w), rng, beta=1.6)),
        heading=heading, lonlat=lonlat, seed=seed,
        snow_depth=snow_history(seed),
    )


def _unit(x: np.ndarray) -> np.ndarray:
    """Rank-normalise to uniform 0..1."""
    ranks = np.argsort(np.argsort(x.ravel()))
    return (ranks / max(ranks.size - 1, 1)).reshape(x.shape).astype(np.float32)


# --- seasonal drivers -------------------------------------------------------------------

_SNOW_RATE = {11: 0.02, 12: 0.09, 1: 0.11, 2: 0.10, 3: 0.04}
_MELT_CM = {11: 2.0, 12: 0.8, 1: 0.6, 2: 1.2, 3: 3.0, 4: 6.0}


def snow_history(seed: int, start: date = date(2015, 7, 1),
                 end: date = date(2030, 12, 31)) -> dict[date, float]:
    """Snow depth (cm) on the ground at the site, day by day (snowfall and melt)."""
    rng = np.random.default_rng([seed, 11])
    depth = 0.0
    out: dict[date, float] = {}
    for n in range((end - start).days + 1):
        day = date.fromordinal(start.toordinal() + n)
        depth = max(0.0, depth - _MELT_CM.get(day.month, 10.0) * (0.5 + rng.random()))
        if rng.random() < _SNOW_RATE.get(day.month, 0.0):
            depth += rng.uniform(3, 20)
        out[day] = depth
    return out


def _bell(doy: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = (doy - centre + 182.5) % 365 - 182.5
    return np.exp(-0.5 * (d / width) ** 2)


def _field_spectra(scene: Scene, day: date, rng: np.random.Generator) -> np.ndarray:
    """Reflectance of each parcel's field on ``day``: (parcel, band)."""
    doy = day.timetuple().tm_yday + scene.parcel_shift
    year_amp = np.random.default_rng([scene.seed, day.year, 5]).uniform(
        0.8, 1.1, scene.parcel_kind.size).astype(np.float32)
    k = scene.parcel_kind
    winter = 0.05 + 0.95 * _bell(doy, 125, 28)
    summer = _bell(doy, 215, 30)
    orchard = 0.15 + 0.45 * smoothstep((doy - 95) / 40) * smoothstep((300 - doy) / 30)
    v = np.select([k == 0, k == 1, k == 2, k == 3], [winter, summer,
                  np.maximum(winter, summer), orchard], 0.02) * scene.parcel_amp * year_amp
    v = np.clip(v, 0, 0.95).astype(np.float32)
    m = float(0.5 + 0.5 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 100) / 365))
    soil = SOIL_WET * m + SOIL_DRY * (1 - m)
    harvested = (k == 0) & (_bell(doy, 190, 18) > 0.3)
    stub = np.where(harvested[:, None], DRY_VEG[None, :], soil[None, :])
    stub = stub * scene.parcel_soil[:, None]
    return (v[:, None] * GREEN[None, :] + (1 - v[:, None]) * stub).astype(np.float32)


def _tree_spectrum(day: date) -> np.ndarray:
    doy = day.timetuple().tm_yday
    v = 0.15 + 0.6 * float(smoothstep(np.array((doy - 100) / 35))
                           * smoothstep(np.array((310 - doy) / 30)))
    return (v * GREEN + (1 - v) * SOIL_DRY).astype(np.float32)


# --- per-date rendering -----------------------------------------------------------------


@dataclass
class DateRender:
    """Everything rendered for one date: reflectance, SCL and the truth layers."""

    refl: np.ndarray          # (band, y, x) float32 at 10 m (swir bands still at 10 m)
    scl: np.ndarray           # (y/2, x/2) uint8 at 20 m
    cloud: np.ndarray         # (y, x) cloud opacity 0..1 (truth)
    shadow: np.ndarray        # (y, x) cloud-shadow strength 0..1 (truth)
    snow: np.ndarray          # (y, x) snow cover fraction 0..1 (truth)
    tile_cloud_cover: float   # scene-wide cloud cover, percent (eo:cloud_cover)
    stats: dict[str, float]   # SCL class percentages for the s2:* properties


def _sun_vector(elev: float, az: float, height: float) -> tuple[float, float]:
    """Offset (pixels east, pixels south) of a shadow cast by something ``height`` m high."""
    length = height / math.tan(math.radians(max(elev, 5.0))) / 10.0
    a = math.radians(az)
    return (-length * math.sin(a), length * math.cos(a))


def _structure_shadow(scene: Scene, elev: float, az: float) -> np.ndarray:
    out = np.zeros(scene.grid.shape(), np.float32)
    for roofs, height in ((scene.roof_low, 6.0), (scene.roof_high, 15.0)):
        dx, dy = _sun_vector(elev, az, height)
        cast = np.maximum(roofs, subpixel_shift(roofs, dx / 2, dy / 2))  # along the wall
        cast = np.maximum(cast, subpixel_shift(roofs, dx, dy))
        out += np.clip(cast - roofs, 0, 1)
    return np.clip(out, 0, 1)


def _snow_cover(scene: Scene, day: date, rng: np.random.Generator,
                in_use_until: date = WITHDRAWAL) -> np.ndarray:
    depth = scene.snow_depth.get(day, 0.0)
    if depth <= 0.3:
        return np.zeros(scene.grid.shape(), np.float32)
    cover = min(1.0, depth / 9.0) * 1.1
    snow = smoothstep((cover - scene.snow_noise) / 0.12).astype(np.float32)
    if day < in_use_until:  # runways, taxiways and aprons were ploughed while in use
        snow *= 1.0 - 0.9 * scene.paved
    return snow


def _weeds(scene: Scene, day: date, in_use_until: date = WITHDRAWAL) -> np.ndarray:
    """Vegetation cover on disused taxiways: creeping in from late 2021 (Bagram's story)."""
    years = (day - (TAKEOVER + (in_use_until - WITHDRAWAL))).days / 365.25
    if years <= 0:
        return np.zeros(scene.grid.shape(), np.float32)
    doy = day.timetuple().tm_yday
    season = 0.35 + 0.65 * float(_bell(np.array(doy), 130, 40))
    reach = min(0.7, 0.16 * years)       # share of the taxiway reached by weeds
    cover = smoothstep((reach - scene.weed_noise) / 0.15) * min(0.45, 0.1 + 0.08 * years)
    return (scene.taxiway * cover * season).astype(np.float32)


@dataclass
class _Clouds:
    opacity: np.ndarray
    cirrus: np.ndarray
    shadow: np.ndarray
    tile_cover: float


_EVENT_DAYS = frozenset(EVENT_DATES.values())
_CLEAR_P = {1: 0.40, 2: 0.38, 3: 0.40, 4: 0.48, 5: 0.62, 6: 0.85, 7: 0.85, 8: 0.88,
            9: 0.88, 10: 0.78, 11: 0.66, 12: 0.50}


def _clouds(scene: Scene, day: date, elev: float, az: float,
            rng: np.random.Generator) -> _Clouds:
    h, w = scene.grid.shape()
    cell = 60.0
    pad = int(8000 / cell)
    ch, cw = int(h * 10 / cell) + 2 * pad, int(w * 10 / cell) + 2 * pad
    clear = rng.random() < _CLEAR_P[day.month]
    cover = 0.0 if clear else float(np.clip(rng.beta(1.1, 1.4) * 1.15, 0.03, 1.0))
    cirrus_on = rng.random() < (0.08 if clear else 0.25)
    if day in _EVENT_DAYS:  # the reported events were seen on clear images
        cover, cirrus_on = 0.0, False
    field = fractal_noise((ch, cw), rng, beta=3.2)
    ys = (np.arange(h) + 0.5) * 10 / cell + pad - 0.5
    xs = (np.arange(w) + 0.5) * 10 / cell + pad - 0.5
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    inner = field[pad:-pad, pad:-pad]
    if cover <= 0:
        opacity = np.zeros((h, w), np.float32)
        coarse = np.zeros_like(field)
    else:
        thr = float(np.quantile(inner, 1 - cover)) if cover < 1 else float(inner.min()) - 1
        soft = 0.55 * float(inner.std())
        coarse = np.clip((field - thr) / soft, 0, 1) ** 0.8
        opacity = map_coordinates(coarse, [gy, gx], order=1, prefilter=False).astype(np.float32)
    height = rng.uniform(1200, 4000)
    dx, dy = _sun_vector(elev, az, height)        # pixels at 10 m
    sy, sx = gy - dy * 10 / cell, gx - dx * 10 / cell
    shadow = (map_coordinates(coarse, [sy, sx], order=1, prefilter=False, mode="nearest")
              if cover > 0 else np.zeros((h, w))).astype(np.float32)
    cirrus = np.zeros((h, w), np.float32)
    if cirrus_on:
        streak = fractal_noise((ch, cw), rng, beta=3.6)
        c = np.clip(0.12 + 0.1 * streak, 0, 0.3)
        cirrus = map_coordinates(c, [gy, gx], order=1, prefilter=False).astype(np.float32)
    window = float((opacity > 0.1).mean()) * 100
    tile = float(np.clip(window + rng.normal(0, 12), 0, 100)) if window or rng.random() < 0.5 \
        else float(np.clip(rng.exponential(4.0), 0, 100))
    return _Clouds(opacity, cirrus, np.clip(shadow, 0, 1) ** 0.7, round(tile, 6))


def render_date(scene: Scene, acq: Acquisition, elev: float, az: float,
                objects: list | None = None, *, in_use_until: date = WITHDRAWAL) -> DateRender:
    """Render one date: surface, objects, snow, shadows, haze, clouds, noise and SCL.

    ``objects`` are :class:`geo.scenario._activity.Placed` instances (drawn at 1 m).
    ``in_use_until`` is the story's drop: paved surfaces are ploughed before it, and
    weeds creep onto the taxiways from six weeks after it.
    """
    day = acq.day
    rng = np.random.default_rng([scene.seed, acq.index + 10_000, 3])
    refl = scene.static_refl.copy()
    table = _field_spectra(scene, day, rng)                               # (parcel, B)
    field_w = scene.frac[_M["field"]] * scene.texture
    trees = scene.frac[_M["trees"]]
    tree_spec = _tree_spectrum(day)
    for b in range(refl.shape[0]):
        refl[b] += field_w * table[:, b][scene.parcel]
        refl[b] += trees * tree_spec[b]
    weeds = _weeds(scene, day, in_use_until)
    season_green = GREEN * 0.6 + DRY_VEG * 0.4
    refl = refl * (1 - weeds) + weeds[None] * season_green[:, None, None]
    snow = _snow_cover(scene, day, rng, in_use_until)
    refl = refl * (1 - snow) + snow[None] * SNOW[:, None, None]
    if objects:
        from geo.scenario import _activity

        _activity.overlay(refl, scene, objects, elev, az)
    shade = _structure_shadow(scene, elev, az)
    refl *= 1 - shade[None] * (1 - SHADOW_KEEP[:, None, None])
    # BRDF-like brightness change with the sun and a little per-date calibration drift
    refl *= np.float32(1 + 0.04 * (elev - 50) / 25 + rng.normal(0, 0.01))
    jx, jy = np.clip(rng.normal(0, 0.22, 2), -0.5, 0.5)
    refl = subpixel_shift(refl, float(jx), float(jy))
    aod = float(np.clip(rng.lognormal(-1.6, 0.6) * (1.6 if day.month in (5, 6, 7, 8) else 1),
                        0, 1))
    haze = (aod * (0.7 + 0.3 * np.tanh(_smooth_field(refl.shape[1:], rng, 6)))
            ).astype(np.float32)
    refl = refl * (1 - 0.12 * haze[None]) + haze[None] * HAZE[:, None, None]
    cl = _clouds(scene, day, elev, az, rng)
    refl *= 1 - 0.62 * cl.shadow[None] * (1 - cl.opacity[None])
    bright = (0.85 + 0.3 * cl.opacity)[None]
    refl = refl * (1 - cl.opacity[None]) + cl.opacity[None] * CLOUD[:, None, None] * bright
    refl = refl * (1 - cl.cirrus[None]) + cl.cirrus[None] * CIRRUS[:, None, None]
    refl += rng.standard_normal(refl.shape, dtype=np.float32) * NOISE_SIGMA[:, None, None]
    refl = np.clip(refl, 0.0001, 1.5).astype(np.float32)
    scl, stats = _scl(scene, refl, cl, snow, rng)
    return DateRender(refl=refl, scl=scl, cloud=np.maximum(cl.opacity, cl.cirrus),
                      shadow=cl.shadow * (1 - cl.opacity), snow=snow,
                      tile_cloud_cover=cl.tile_cover, stats=stats)


def _smooth_field(shape: tuple[int, int], rng: np.random.Generator, k: int) -> np.ndarray:
    """Smooth noise: fractal noise at 1/k resolution, bilinearly enlarged."""
    h, w = shape
    small = fractal_noise((h // k + 2, w // k + 2), rng, beta=3.0)
    gy = (np.arange(h) + 0.5) / k
    gx = (np.arange(w) + 0.5) / k
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    return map_coordinates(small, [yy, xx], order=1, prefilter=False).astype(np.float32)


def _scl(scene: Scene, refl: np.ndarray, cl: _Clouds, snow: np.ndarray,
         rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """A plausible, imperfect Sen2Cor scene classification at 20 m."""
    r20 = block_mean(refl, 2)
    blue, red, nir, swir = r20[0], r20[2], r20[3], r20[4]
    ndvi = (nir - red) / (nir + red + 1e-6)
    op = block_mean(cl.opacity, 2)
    ci = block_mean(cl.cirrus, 2)
    sh = block_mean(cl.shadow * (1 - cl.opacity), 2)
    sn = block_mean(snow, 2)
    scl = np.full(op.shape, 5, np.uint8)
    scl[ndvi > 0.38] = 4
    scl[(nir < 0.07) & (blue < 0.06)] = 2
    unclassified = (ndvi > 0.25) & (ndvi <= 0.38) & (rng.random(op.shape) < 0.3)
    scl[unclassified] = 7
    ndsi = (r20[1] - swir) / (r20[1] + swir + 1e-6)
    scl[(ndsi > 0.42) & (sn > 0.35)] = 11
    # cloud shadows: found where strong, often missed at their soft edges
    scl[(sh > 0.45 + 0.2 * rng.random()) & (op < 0.3)] = 3
    scl[ci > 0.12] = 10
    # clouds: thin edges below the detector's threshold are missed
    thr = rng.uniform(0.35, 0.55)
    scl[op > thr] = 8
    scl[op > 0.8] = 9
    # bright concrete (and sometimes fresh snow) called cloud on some dates
    if rng.random() < 0.3:
        conc = block_mean(scene.concrete, 2)
        blob = _smooth_field(op.shape, rng, 3)
        false_cloud = (conc > 0.5) & (blue > 0.22) & (blob > 0.6) & (op < 0.1)
        scl[false_cloud] = np.where(rng.random(op.shape) < 0.7, 8, 9)[false_cloud]
    n = scl.size
    stats = {str(c): float((scl == c).sum() * 100.0 / n) for c in range(12)}
    return scl, stats
