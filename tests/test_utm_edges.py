"""AOIs at a UTM zone boundary: the grid chosen, the warning, and a load with no holes.

The site straddles the boundary of UTM zones 28 and 29 (longitude -12 deg) in Western
Sahara, three quarters of it in zone 28. Two Sentinel-2 tiles of one pass are served over
loopback, each in its own CRS (EPSG:32628 and 32629) and each holding its side of the site
plus half a kilometre of overlap, as neighbouring tiles do. Every pixel of the perimeter
must come back with data: the zone-29 tile's pixels are reprojected onto the AOI's grid.

Pixel values tell where they came from: red is 0.2 in the zone-28 tile and 0.3 in the
zone-29 tile; nir encodes the latitude of the pixel centre, so a misplaced reprojection
shows as a wrong number.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Polygon, box, mapping

import geo
from geo import errors
from geo.aoi import AOI, from_geojson
from geo.grid import s2_tile
from geo.scenario._cog import write_cog
from geo.scenario.serve import FileServer
from geo.zones import zone_masks

BOUNDARY_LON = -12.0
SITE = (-12.06, 26.70, -11.98, 26.73)
"""(west, south, east, north): 75 % of the perimeter in zone 28, 25 % in zone 29."""
OVERLAP_M = 500.0
"""How far each tile's data reach past the zone boundary."""
RED_DN = {28: 2000, 29: 3000}
LAT0 = 26.6
NIR_PER_DEG = 50_000.0
"""nir DN = 1000 + (latitude - LAT0) * NIR_PER_DEG: about 4.5 DN per 10 m pixel."""
WHEN = {28: "2021-03-05T11:32:21.024000Z", 29: "2021-03-05T11:32:24.518000Z"}


def _feature(name: str, kind: str, bounds: tuple[float, float, float, float]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": mapping(box(*bounds)),
            "properties": {"name": name, "kind": kind, "source": "test zone"}}


def _site_geojson(bounds: tuple[float, float, float, float] = SITE) -> dict[str, Any]:
    w, s, e, n = bounds
    apron = (w + 0.25 * (e - w), s + 0.3 * (n - s), w + 0.9 * (e - w), s + 0.6 * (n - s))
    return {"type": "FeatureCollection", "name": "edge",
            "features": [_feature("perimeter", "perimeter", bounds),
                         _feature("apron_across", "apron", apron)]}


def _build(bounds: tuple[float, float, float, float] = SITE) -> AOI:
    return from_geojson(_site_geojson(bounds), name="edge")


# --- the AOI: grid, tiles, warning ----------------------------------------------------


def test_crossing_perimeter_warns_with_zones_shares_and_grid():
    with pytest.warns(errors.GeoWarning, match=r"UTM zones 28 and 29") as record:
        aoi = _build()
    message = str(record[0].message)
    assert "75.0 % in zone 28" in message and "25.0 % in zone 29" in message
    assert f"EPSG:{aoi.epsg}" in message and aoi.tiles[0] in message
    assert "reprojected" in message and "nearest neighbour" in message
    assert "zone 29 tiles" in message  # the other zone is the one reprojected


def test_grid_is_the_zone_of_the_tile_covering_most():
    with pytest.warns(errors.GeoWarning):
        aoi = _build()
    assert aoi.utm_zones == pytest.approx({28: 0.75, 29: 0.25}, abs=1e-3)
    shares = list(aoi.tile_shares.values())
    assert shares == sorted(shares, reverse=True)
    assert list(aoi.tile_shares) == aoi.tiles
    assert {s2_tile(t).epsg for t in aoi.tiles} == {32628, 32629}
    assert aoi.epsg == s2_tile(aoi.tiles[0]).epsg == 32628
    assert aoi.tile_shares[aoi.tiles[0]] == pytest.approx(1.0)


def test_tie_between_full_tiles_goes_to_the_zone_holding_more():
    """At 24.5 N the tiles of both zones reach across -12 deg far enough to hold the site."""
    with pytest.warns(errors.GeoWarning, match="UTM zones 28 and 29"):
        aoi = _build((-12.01, 24.50, -11.98, 24.53))  # one third in 28, two thirds in 29
    full = [t for t, share in aoi.tile_shares.items() if share == pytest.approx(1.0)]
    assert {s2_tile(t).epsg for t in full} == {32628, 32629}
    assert aoi.utm_zones[29] > aoi.utm_zones[28]
    assert aoi.epsg == 32629


def test_site_inside_one_zone_gives_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", errors.GeoWarning)
        aoi = _build((-11.95, 26.70, -11.91, 26.73))  # 5 km east of the boundary
    assert aoi.utm_zones == {29: 1.0}
    assert aoi.epsg == 32629


# --- a load across the boundary -------------------------------------------------------


@dataclass
class Served:
    aoi: AOI
    catalog: Path
    extents: dict[int, tuple[float, float, float, float]]  # COG bounds in their own CRS


def _tile_extent(aoi: AOI, epsg: int) -> tuple[float, float, float, float]:
    """The part of the site this zone's tile holds, plus overlap, on the 60 m lattice."""
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    w, s, e, n = aoi.bounds
    ring = box(w, s, e, n).segmentize(0.001).exterior.coords
    xs, ys = to_utm.transform(*np.asarray(ring).T)
    lats = np.linspace(s - 0.01, n + 0.01, 50)
    bx, _ = to_utm.transform(np.full_like(lats, BOUNDARY_LON), lats)
    if epsg % 100 == 28:
        x0, x1 = xs.min() - 600, bx.max() + OVERLAP_M
    else:
        x0, x1 = bx.min() - OVERLAP_M, xs.max() + 600
    y0, y1 = ys.min() - 600, ys.max() + 600
    return (np.floor(x0 / 60) * 60, np.floor(y0 / 60) * 60,
            np.ceil(x1 / 60) * 60, np.ceil(y1 / 60) * 60)


def _write_tile(folder: Path, epsg: int, extent: tuple[float, float, float, float]) -> None:
    x0, y0, x1, y1 = extent
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    folder.mkdir(parents=True)
    for res, bands in ((10, ("red", "nir")), (20, ("scl",))):
        nx, ny = int((x1 - x0) / res), int((y1 - y0) / res)
        transform = Affine(res, 0, x0, 0, -res, y1)
        cx = x0 + res * (np.arange(nx) + 0.5)
        cy = y1 - res * (np.arange(ny) + 0.5)
        gx, gy = np.meshgrid(cx, cy)
        _, lat = to_ll.transform(gx, gy)
        values = {
            "red": np.full((ny, nx), RED_DN[epsg % 100], dtype="uint16"),
            "nir": np.round(1000 + (lat - LAT0) * NIR_PER_DEG).astype("uint16"),
            "scl": np.full((ny, nx), 5, dtype="uint8"),  # bare ground: clear
        }
        for band in bands:
            write_cog(folder / f"{band}.tif", values[band][None], transform, epsg)


def _footprint(epsg: int, extent: tuple[float, float, float, float]) -> Polygon:
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    ring = np.asarray(box(*extent).segmentize(200).exterior.coords)
    return Polygon(zip(*to_ll.transform(ring[:, 0], ring[:, 1]), strict=True))


def _item(tile: str, epsg: int, extent: tuple[float, float, float, float], base: str
          ) -> dict[str, Any]:
    """An Earth Search v1 sentinel-2-l2a item (the keys geo reads, spelt as it spells them)."""
    zone, band, square = tile[:2], tile[2], tile[3:]
    geom = _footprint(epsg, extent)
    x0, y0, x1, y1 = extent

    def asset(name: str, res: int) -> dict[str, Any]:
        return {
            "href": f"{base}{tile}/{name}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"] if name == "scl" else ["data", "reflectance"],
            "proj:shape": [int((y1 - y0) / res), int((x1 - x0) / res)],
            "proj:transform": [res, 0, x0, 0, -res, y1],
            "raster:bands": [{"nodata": 0, "data_type": "uint8" if name == "scl" else "uint16",
                              "spatial_resolution": res,
                              **({} if name == "scl" else {"scale": 0.0001, "offset": 0})}],
        }

    return {
        "type": "Feature", "stac_version": "1.0.0", "stac_extensions": [],
        "id": f"S2B_{tile}_20210305_0_L2A", "collection": "sentinel-2-l2a",
        "bbox": list(geom.bounds), "geometry": mapping(geom),
        "properties": {
            "datetime": WHEN[epsg % 100], "platform": "sentinel-2b",
            "constellation": "sentinel-2", "instruments": ["msi"], "eo:cloud_cover": 0.5,
            "proj:epsg": epsg, "mgrs:utm_zone": int(zone), "mgrs:latitude_band": band,
            "mgrs:grid_square": square, "grid:code": f"MGRS-{tile}",
            "s2:processing_baseline": "02.14",
            "s2:product_uri": f"S2B_MSIL2A_20210305T113219_N0214_R080_T{tile}_20210305T135033.SAFE",
            "earthsearch:boa_offset_applied": False,
            "view:sun_elevation": 52.0, "view:sun_azimuth": 140.0,
        },
        "assets": {"red": asset("red", 10), "nir": asset("nir", 10), "scl": asset("scl", 20)},
        "links": [],
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with pytest.warns(errors.GeoWarning):
        aoi = _build()
    root = tmp_path_factory.mktemp("utm_edge")
    tiles: dict[int, str] = {}
    for name in aoi.tiles:  # the most-covering tile of each zone
        tiles.setdefault(s2_tile(name).epsg, name)
    extents = {epsg: _tile_extent(aoi, epsg) for epsg in tiles}
    for epsg, tile in tiles.items():
        _write_tile(root / "cogs" / tile, epsg, extents[epsg])
    with FileServer(root / "cogs") as files:
        catalog = root / "catalog"
        catalog.mkdir()
        lines = [json.dumps(_item(tile, epsg, extents[epsg], files.url))
                 for epsg, tile in tiles.items()]
        (catalog / "items.ndjson").write_text("\n".join(lines) + "\n")
        yield Served(aoi, catalog, {e % 100: x for e, x in extents.items()})


@pytest.fixture(scope="module")
def loaded(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Any:
    items = geo.search(served.aoi, "2021-03-01", "2021-03-10", source=served.catalog,
                       progress=False)
    ds = geo.load(items, served.aoi, bands=["red", "nir", "scl"], progress=False,
                  store=tmp_path_factory.mktemp("utm_edge_store"), workers=2)
    return items, ds.compute()


def test_both_tiles_of_the_pass_are_kept(loaded):
    items, ds = loaded
    assert sorted(i.properties["proj:epsg"] for i in items) == [32628, 32629]
    assert ds.sizes["time"] == 1
    assert ds.attrs["crs"] == "EPSG:32628"


def test_no_nan_inside_the_perimeter(loaded, served):
    _, ds = loaded
    inside = zone_masks(served.aoi, ds).sel(zone="perimeter").values
    red = ds["red"].isel(time=0).values
    assert inside.sum() > 200_000  # about 26 km^2 of 10 m pixels
    assert not np.isnan(red[inside]).any(), f"{np.isnan(red[inside]).sum()} NaN pixels"
    assert not np.isnan(ds["nir"].isel(time=0).values[inside]).any()
    assert ds["clear"].isel(time=0).values[inside].all()


def test_pixels_beyond_the_grid_zone_tile_come_from_the_other_zone(loaded, served):
    _, ds = loaded
    inside = zone_masks(served.aoi, ds).sel(zone="perimeter").values
    red = ds["red"].isel(time=0).values
    x = np.broadcast_to(ds["x"].values[None, :], red.shape)
    east_of_28 = inside & (x > served.extents[28][2] + 20)
    assert east_of_28.sum() > 10_000
    assert np.allclose(red[east_of_28], RED_DN[29] / 10_000)
    west = inside & (x < served.extents[28][2] - 20)
    assert np.allclose(red[west], RED_DN[28] / 10_000)  # the grid's own tile comes first


def test_reprojected_pixels_sit_where_their_latitude_says(loaded, served):
    _, ds = loaded
    inside = zone_masks(served.aoi, ds).sel(zone="perimeter").values
    gx, gy = np.meshgrid(ds["x"].values, ds["y"].values)
    _, lat = Transformer.from_crs(ds.attrs["crs"], 4326, always_xy=True).transform(gx, gy)
    expected = np.round(1000 + (lat - LAT0) * NIR_PER_DEG)
    dn = np.round(ds["nir"].isel(time=0).values * 10_000)
    # nearest neighbour across CRSs: less than one 10 m pixel (4.5 DN) from the truth
    assert np.abs(dn - expected)[inside].max() <= 4
