"""STAC items and the collection of the synthetic archive, in Earth Search v1's form.

Property names, asset keys, titles, ``raster:bands`` and ids follow the real Earth Search
``sentinel-2-l2a`` items (see ``shared/fixtures/real/stac/earth-search``); the
``pc_style`` flavour follows Planetary Computer's (asset keys ``B02``..``B12``, ``SCL``,
raw DNs, no scale/offset, ``S2A_MSIL2A_..._R005_T42SWD_...`` ids). Every item carries
``geo:synthetic: true``. Timestamps (``created``, ``updated``, generation times) derive
from the sensing time, never from the clock, so builds are reproducible.

Examples
--------
>>> from datetime import date
>>> from geo.scenario._cadence import schedule
>>> acq = schedule("2022-07-24", "2022-07-24")[0]
>>> item_id(acq, "42SWD")
'S2A_42SWD_20220724_0_L2A'
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from pyproj import Transformer
from shapely.geometry import box

from geo.scenario._assets import EO_BANDS, TYPES, asset_specs
from geo.scenario._cadence import C1_ID, L2A_ID, Acquisition, earth_sun_factor

__all__ = ["ASSETS", "PC_KEYS", "item_id", "make_item", "make_collection", "COLLECTION_ID",
           "C1_ID", "L2A_ID", "COG_DIRS", "COLLECTION_FILES", "S1_ID", "S1_FILES",
           "make_s1_item", "make_s1_collection"]

COLLECTION_ID = L2A_ID
"""The older collection's id (the only collection of the Planetary Computer form)."""

COG_DIRS = {L2A_ID: "cogs", C1_ID: "cogs-c1"}
"""Folder of each collection's item folders in a scenario (different buckets in reality)."""

COLLECTION_FILES = {L2A_ID: "collection.json", C1_ID: "collection-c1.json"}
"""The collection document of each collection in a scenario folder."""

ASSETS: dict[str, dict[str, Any]] = {
    # key: file, title, gsd, eo band (name, common, centre, fwhm) or None
    "blue": {"file": "B02", "title": "Blue - 10m", "gsd": 10,
             "band": ("B02", "blue", 0.49, 0.098)},
    "green": {"file": "B03", "title": "Green - 10m", "gsd": 10,
              "band": ("B03", "green", 0.56, 0.045)},
    "red": {"file": "B04", "title": "Red - 10m", "gsd": 10,
            "band": ("B04", "red", 0.665, 0.038)},
    "nir": {"file": "B08", "title": "NIR 1 - 10m", "gsd": 10,
            "band": ("B08", "nir", 0.842, 0.145)},
    "swir16": {"file": "B11", "title": "SWIR 1.6\u03bcm - 20m", "gsd": 20,
               "band": ("B11", "swir16", 1.61, 0.143)},
    "swir22": {"file": "B12", "title": "SWIR 2.2\u03bcm - 20m", "gsd": 20,
               "band": ("B12", "swir22", 2.19, 0.242)},
    "scl": {"file": "SCL", "title": "Scene classification map (SCL)", "gsd": 20, "band": None},
    "visual": {"file": "TCI", "title": "True color image", "gsd": 10, "band": None},
}
"""The assets written per item (Earth Search keys) and their files under ``cogs/<id>/``."""

PC_KEYS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11",
           "swir22": "B12", "scl": "SCL", "visual": "visual"}
"""Planetary Computer asset keys for the same files."""

_PC_TITLES = {"B02": "Band 2 - Blue - 10m", "B03": "Band 3 - Green - 10m",
              "B04": "Band 4 - Red - 10m", "B08": "Band 8 - NIR - 10m",
              "B11": "Band 11 - SWIR (1.6) - 20m", "B12": "Band 12 - SWIR (2.2) - 20m",
              "SCL": "Scene classfication map (SCL)", "visual": "True color image"}

C1_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
]
"""Collection 1's extensions, less storage v1.0.0: pystac migrates that to v2 by parsing a
bucket from each href and warns on the scenario's loopback hrefs (the storage:*
properties stay)."""
ES_EXTENSIONS = [
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sentinel-2/v1.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
]
PC_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
]
LICENSE = "https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice"
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"


def _stamp(t: Any, *, micro: bool = False) -> str:
    """UTC timestamp as Earth Search writes it (milliseconds, or 6 digits for datetime)."""
    frac = f"{t.microsecond // 1000:03d}" + ("000" if micro else "")
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def _gen_time(acq: Acquisition) -> Any:
    return acq.time + timedelta(hours=1, minutes=37, seconds=acq.index % 50 + 11 * acq.sequence)


def _orbit_number(acq: Acquisition) -> int:
    """Absolute orbit number (made up but monotonic, like ``A024344``)."""
    return 27000 + acq.index * 143 // 10 + {"a": 0, "b": 11000, "c": 30000}[acq.platform[-1]]


def item_id(acq: Acquisition, tile: str, *, pc_style: bool = False,
            collection: str = L2A_ID) -> str:
    """The item id Earth Search (or Planetary Computer) would give this acquisition.

    ``sentinel-2-c1-l2a`` ids carry the sensing start time and no sequence number, e.g.
    ``S2B_T42SWD_20220724T060629_L2A``.
    """
    if collection == C1_ID and not pc_style:
        return f"{acq.short_platform}_T{tile}_{acq.time:%Y%m%dT%H%M%S}_L2A"
    if pc_style:
        gen = _gen_time(acq)
        return (f"{acq.short_platform}_MSIL2A_{acq.time:%Y%m%dT%H%M%S}_R{acq.relative_orbit:03d}"
                f"_T{tile}_{gen:%Y%m%dT%H%M%S}")
    return f"{acq.short_platform}_{tile}_{acq.day:%Y%m%d}_{acq.sequence}_L2A"


def footprint(bounds: tuple[float, float, float, float], epsg: int) -> tuple[dict, list[float]]:
    """GeoJSON polygon (lon/lat) and bbox of UTM bounds."""
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    poly = box(*bounds)
    xs, ys = poly.exterior.coords.xy
    lon, lat = to_ll.transform(list(xs), list(ys))
    ring = [[round(a, 8), round(b, 8)] for a, b in zip(lon, lat, strict=True)]
    geom = {"type": "Polygon", "coordinates": [ring]}
    bbox = [round(min(lon), 6), round(min(lat), 6), round(max(lon), 6), round(max(lat), 6)]
    return geom, bbox


def _raster_band(key: str, acq: Acquisition, pc_style: bool) -> list[dict[str, Any]] | None:
    if pc_style:
        return None
    gsd = ASSETS[key]["gsd"]
    if key == "visual":
        return [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 10}] * 3
    if key == "scl":
        return [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}]
    # Earth Search advertises -0.1 on every baseline >= 04.00 item, applied or not
    offset = -0.1 if acq.baseline >= "04.00" else 0
    return [{"nodata": 0, "data_type": "uint16", "spatial_resolution": gsd,
             "scale": 0.0001, "offset": offset}]


def c1_baseline(acq: Acquisition) -> str:
    """Collection 1's processing baseline: 05.00 (the reprocessing) or the newer one."""
    return max(acq.baseline, "05.00")


def _es_href(spec: dict[str, Any], acq: Acquisition, iid: str, tile: str,
             collection: str) -> str:
    file = spec["file"]
    if file.startswith("s3:"):
        zone, band, square = int(tile[:2]), tile[2], tile[3:]
        d = acq.day
        return (f"s3://sentinel-s2-l2a/tiles/{zone}/{band}/{square}/{d.year}/{d.month}/"
                f"{d.day}/{acq.sequence}/{file[3:]}")
    return f"./{COG_DIRS[collection]}/{iid}/{file}"


def _es_asset(spec: dict[str, Any], acq: Acquisition, iid: str, tile: str, grid: Any,
              collection: str, files: dict[str, tuple[int, str]]) -> dict[str, Any]:
    """One Earth Search asset, its fields in the real items' order."""
    out: dict[str, Any] = {"href": _es_href(spec, acq, iid, tile, collection),
                           "type": TYPES[spec["kind"]]}
    if spec["title"]:
        out["title"] = spec["title"]
    eo = [{"name": b, "common_name": EO_BANDS[b][0], "center_wavelength": EO_BANDS[b][1],
           "full_width_half_max": EO_BANDS[b][2]} for b in spec["eo"]]
    if eo and len(eo) == 1:
        out["eo:bands"] = eo
    res = spec["gsd"] or 20
    if spec["raster"] and len(eo) == 3:  # visual: bands listed before the grid
        out["eo:bands"] = eo
        out["raster:bands"] = _es_raster(spec, acq, collection)
    if spec["gsd"]:
        out["gsd"] = spec["gsd"]
    if spec["kind"] in ("cog", "jp2"):
        h, w = grid.shape(res)
        out["proj:shape"] = [h, w]
        out["proj:transform"] = [float(res), 0.0, grid.x0, 0.0, -float(res), grid.y1]
    if eo and len(eo) == 3 and not spec["raster"]:  # preview: bands after the grid
        out["eo:bands"] = eo
    if spec["raster"] and "raster:bands" not in out:
        out["raster:bands"] = _es_raster(spec, acq, collection)
    if spec["file"] in files:
        size, sha = files[spec["file"]]
        out["file:checksum"] = "1220" + sha  # multihash: sha2-256, 32 bytes
        out["file:size"] = size
    out["roles"] = list(spec["roles"])
    return out


def _es_raster(spec: dict[str, Any], acq: Acquisition, collection: str) -> list[dict[str, Any]]:
    n, band = spec["raster"]
    res = spec["gsd"] or 20
    entry = {k: v for k, v in band.items() if k not in ("scale", "offset", "unit")}
    entry["spatial_resolution"] = res
    for k in ("unit", "scale", "offset"):
        if k in band:
            entry[k] = band[k]
    if band.get("scale") == 0.0001 and collection == L2A_ID and acq.baseline < "04.00":
        entry["offset"] = 0  # the older collection: no offset before baseline 04.00
    return [dict(entry) for _ in range(n)]


def _asset(key: str, acq: Acquisition, iid: str, grid: Any, pc_style: bool) -> dict[str, Any]:
    spec = ASSETS[key]
    res = spec["gsd"]
    h, w = grid.shape(res)
    out: dict[str, Any] = {"href": f"./cogs/{iid}/{spec['file']}.tif", "type": _COG,
                           "title": _PC_TITLES[PC_KEYS[key]] if pc_style else spec["title"]}
    if spec["band"]:
        name, common, centre, fwhm = spec["band"]
        out["eo:bands"] = [{"name": name, "common_name": common, "center_wavelength": centre,
                            "full_width_half_max": fwhm}]
    elif key == "visual":
        out["eo:bands"] = [
            {"name": n, "common_name": c, "center_wavelength": wl, "full_width_half_max": f}
            for n, c, wl, f in (ASSETS[k]["band"] for k in ("red", "green", "blue"))
        ]
    out["gsd"] = res
    out["proj:shape"] = [h, w]
    out["proj:transform"] = [float(res), 0.0, grid.x0, 0.0, -float(res), grid.y1]
    if pc_style:
        xmin, ymin, xmax, ymax = grid.bounds
        out["proj:bbox"] = [xmin, ymin, xmax, ymax]
    bands = _raster_band(key, acq, pc_style)
    if bands:
        out["raster:bands"] = bands
    if key == "visual":
        out["roles"] = ["visual"] if not pc_style else ["data"]
    elif key == "scl":
        out["roles"] = ["data"]
    else:
        out["roles"] = ["data", "reflectance"] if not pc_style else ["data"]
    return out


def make_item(acq: Acquisition, *, tile: str, grid: Any, sun: tuple[float, float],
              cloud_cover: float, scl_stats: dict[str, float], pc_style: bool = False,
              site: str = "bagram", collection: str = L2A_ID,
              files: dict[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """One STAC item (a dict) for an acquisition, with relative asset hrefs.

    Parameters
    ----------
    acq
        The acquisition.
    tile
        MGRS tile name, e.g. ``"42SWD"``.
    grid
        The raster window (:class:`geo.scenario._radiometry.SceneGrid`).
    sun
        (elevation, azimuth) in degrees.
    cloud_cover
        Scene-wide cloud cover in percent.
    scl_stats
        Percentage of the window per SCL class (keys ``"0"``..``"11"``).
    pc_style
        Write Planetary Computer's keys and ids instead of Earth Search's.
    collection
        ``"sentinel-2-l2a"`` or ``"sentinel-2-c1-l2a"`` (Earth Search form only).
    files
        File name: (bytes, sha256 hex) of the files written for the item; Collection 1
        items list them as ``file:size`` and ``file:checksum``.
    """
    c1 = collection == C1_ID and not pc_style
    if c1:
        acq = replace(acq, baseline=c1_baseline(acq))
    iid = item_id(acq, tile, pc_style=pc_style, collection=collection)
    geom, bbox = footprint(grid.bounds, grid.epsg)
    gen = _gen_time(acq)
    n = _orbit_number(acq)
    tag = acq.short_platform
    product_uri = (f"{tag}_MSIL2A_{acq.time:%Y%m%dT%H%M%S}_N{acq.baseline.replace('.', '')}"
                   f"_R{acq.relative_orbit:03d}_T{tile}_{gen:%Y%m%dT%H%M%S}.SAFE")
    datatake = f"G{tag}_{acq.time:%Y%m%dT%H%M%S}_{n:06d}_N{acq.baseline}"
    datastrip = (f"{tag}_OPER_MSI_L2A_DS_2{tag[-1]}PS_{gen:%Y%m%dT%H%M%S}_S"
                 f"{acq.time:%Y%m%dT%H%M%S}_N{acq.baseline}")
    granule = (f"{tag}_OPER_MSI_L2A_TL_2{tag[-1]}PS_{gen:%Y%m%dT%H%M%S}_A{n:06d}_T{tile}"
               f"_N{acq.baseline}")
    pct = {k: round(v, 6) for k, v in scl_stats.items()}
    s2: dict[str, Any] = {
        "s2:degraded_msi_data_percentage": 0,
        "s2:nodata_pixel_percentage": pct.get("0", 0.0),
        "s2:saturated_defective_pixel_percentage": pct.get("1", 0.0),
        "s2:dark_features_percentage": pct.get("2", 0.0),
        "s2:cloud_shadow_percentage": pct.get("3", 0.0),
        "s2:vegetation_percentage": pct.get("4", 0.0),
        "s2:not_vegetated_percentage": pct.get("5", 0.0),
        "s2:water_percentage": pct.get("6", 0.0),
        "s2:unclassified_percentage": pct.get("7", 0.0),
        "s2:medium_proba_clouds_percentage": pct.get("8", 0.0),
        "s2:high_proba_clouds_percentage": pct.get("9", 0.0),
        "s2:thin_cirrus_percentage": pct.get("10", 0.0),
        "s2:snow_ice_percentage": pct.get("11", 0.0),
        "s2:product_type": "S2MSI2A",
        "s2:processing_baseline": acq.baseline,
        "s2:product_uri": product_uri,
        "s2:generation_time": gen.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "s2:datatake_id": datatake,
        "s2:datatake_type": "INS-NOBS",
        "s2:datastrip_id": datastrip,
        "s2:reflectance_conversion_factor": round(earth_sun_factor(acq.day), 12),
    }
    elev, az = sun
    if pc_style:
        props: dict[str, Any] = {
            "datetime": _stamp(acq.time, micro=True),
            "platform": "Sentinel-2" + acq.platform[-1].upper(),
            "proj:epsg": grid.epsg, "instruments": ["msi"], "s2:mgrs_tile": tile,
            "constellation": "Sentinel 2", "s2:granule_id": granule,
            "eo:cloud_cover": round(cloud_cover, 6), "sat:orbit_state": "descending",
            "sat:relative_orbit": acq.relative_orbit,
            "s2:mean_solar_zenith": round(90 - elev, 10),
            "s2:mean_solar_azimuth": round(az, 10),
            **s2,
        }
    else:
        props = _es_props(acq, iid, tile, gen, bbox, grid, sun, cloud_cover,
                          {"s2:tile_id": granule, **s2}, c1)
    props["geo:synthetic"] = True
    if pc_style:
        assets = {PC_KEYS[k]: _asset(k, acq, iid, grid, pc_style) for k in ASSETS}
    else:
        assets = {k: _es_asset(spec, acq, iid, tile, grid, collection, files or {})
                  for k, spec in asset_specs(c1, acq.day).items()}
    doc = COLLECTION_FILES[C1_ID if c1 else L2A_ID]
    links = [{"rel": "license", "href": LICENSE},
             {"rel": "collection", "href": f"./{doc}", "type": "application/json"},
             {"rel": "parent", "href": f"./{doc}", "type": "application/json"}]
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": PC_EXTENSIONS if pc_style else C1_EXTENSIONS if c1 else ES_EXTENSIONS,
        "id": iid,
        "geometry": geom,
        "bbox": bbox,
        "properties": props,
        "links": links,
        "assets": assets,
        "collection": C1_ID if c1 else COLLECTION_ID,
    }


def _es_props(acq: Acquisition, iid: str, tile: str, gen: Any, bbox: list[float], grid: Any,
              sun: tuple[float, float], cloud_cover: float, s2: dict[str, Any],
              c1: bool) -> dict[str, Any]:
    """Earth Search properties, in the real items' order, for either collection."""
    elev, az = sun
    created = _stamp(gen + timedelta(minutes=21 if c1 else 23))
    zone, band, square = tile[:2], tile[2], tile[3:]
    props: dict[str, Any] = {
        "created": created,
        "platform": acq.platform,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "eo:cloud_cover": round(cloud_cover, 6),
        "proj:epsg": grid.epsg,
        "proj:centroid": {"lat": round((bbox[1] + bbox[3]) / 2, 5),
                          "lon": round((bbox[0] + bbox[2]) / 2, 5)},
        "mgrs:utm_zone": int(zone),
        "mgrs:latitude_band": band,
        "mgrs:grid_square": square,
        "grid:code": f"MGRS-{tile}",
        "view:azimuth": round(101.5 + (acq.index % 7) * 0.9, 6),
        "view:incidence_angle": round(6.2 + (acq.index % 5) * 0.41, 6),
        "view:sun_azimuth": round(az, 10),
        "view:sun_elevation": round(elev, 10),
        **s2,
        "datetime": _stamp(acq.time, micro=True),
    }
    if c1:
        props["earthsearch:payload_id"] = (
            "roda-sentinel-2-c1-l2a/workflow-sentinel-2-c1-l2a-to-stac/"
            f"{abs(hash_text(iid)):032x}"[:91])
        props.update({"storage:platform": "AWS", "storage:region": "us-west-2",
                      "storage:requester_pays": False,
                      "processing:software": {"sentinel-2-c1-l2a-to-stac": "v2025.06.17"}})
        del props["s2:dark_features_percentage"]  # not in Collection 1 items
    else:
        props.update({
            "s2:sequence": str(acq.sequence),
            "earthsearch:s3_path": (f"s3://sentinel-cogs/sentinel-s2-l2a-cogs/{int(zone)}/"
                                    f"{band}/{square}/{acq.day.year}/{acq.day.month}/{iid}"),
            "earthsearch:payload_id": (f"roda-sentinel2/workflow-sentinel2-to-stac/"
                                       f"{abs(hash_text(iid)):032x}"[:76]),
            "earthsearch:boa_offset_applied": bool(acq.flag),
            "processing:software": {"sentinel2-to-stac": "2025.03.06"},
        })
    props["sat:relative_orbit"] = acq.relative_orbit
    props["sat:orbit_state"] = "descending"
    props["updated"] = created
    return props


def hash_text(text: str) -> int:
    """A stable 128-bit integer from text (Python's hash() is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:16], "big")


def make_collection(items: list[dict[str, Any]], *, site: str, pc_style: bool = False,
                    seed: int = 0, collection: str = L2A_ID) -> dict[str, Any]:
    """A collection document of the synthetic archive (extent from its items).

    ``collection`` is ``"sentinel-2-l2a"`` (the default; the only one in the Planetary
    Computer form) or ``"sentinel-2-c1-l2a"``.
    """
    c1 = collection == C1_ID and not pc_style
    lons = [v for it in items for v in it["bbox"][0::2]]
    lats = [v for it in items for v in it["bbox"][1::2]]
    times = sorted(it["properties"]["datetime"] for it in items)
    item_assets = {}
    if pc_style:
        for key, out_key in PC_KEYS.items():
            spec = ASSETS[key]
            item_assets[out_key] = {"type": _COG, "title": spec["title"], "gsd": spec["gsd"],
                                    "roles": ["visual"] if key == "visual" else ["data"]}
    else:
        for key, spec in asset_specs(c1, date(2030, 1, 1)).items():
            entry: dict[str, Any] = {"type": TYPES[spec["kind"]], "roles": list(spec["roles"])}
            if spec["title"]:
                entry["title"] = spec["title"]
            if spec["gsd"]:
                entry["gsd"] = spec["gsd"]
            item_assets[key] = entry
    name = "Sentinel-2 Level-2A, Collection 1" if c1 else "Sentinel-2 Level-2A"
    form = "Planetary Computer" if pc_style else "Earth Search v1"
    return {
        "type": "Collection",
        "id": C1_ID if c1 else COLLECTION_ID,
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"],
        "title": f"SYNTHETIC {name} ({site})",
        "description": (
            f"SYNTHETIC imagery generated by geo.scenario (site {site}, seed {seed}) in the "
            f"form of {form}'s {C1_ID if c1 else COLLECTION_ID} collection. Not real "
            "Sentinel-2 data: for offline tests, demos and accuracy benchmarks against the "
            "planted truth (truth.csv, passes.csv)."
        ),
        "keywords": ["sentinel", "synthetic", "geo"],
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[min(lons), min(lats), max(lons), max(lats)]] if items
                        else [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[times[0], times[-1]] if times else [None, None]]},
        },
        "summaries": {"platform": sorted({it["properties"]["platform"] for it in items}),
                      "constellation": ["sentinel-2"], "instruments": ["msi"],
                      "gsd": [10, 20]},
        "item_assets": item_assets,
        "links": [{"rel": "license", "href": LICENSE}],
        "geo:synthetic": True,
    }


# --- Sentinel-1 RTC (Planetary Computer's form) -------------------------------------------

S1_ID = "sentinel-1-rtc"
"""Planetary Computer's Sentinel-1 radiometrically terrain-corrected collection."""
COG_DIRS[S1_ID] = "cogs-s1"
COLLECTION_FILES[S1_ID] = "collection-s1.json"
S1_FILES = {"vv": "iw-vv.rtc.tiff", "vh": "iw-vh.rtc.tiff"}
"""The files of a radar item under ``cogs-s1/<item id>/`` (the real blob names)."""
S1_EXTENSIONS = [
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
_PC_API = "https://planetarycomputer.microsoft.com/api"
_S1_TITLES = {"vv": "VV: vertical transmit, vertical receive",
              "vh": "VH: vertical transmit, horizontal receive"}
_S1_DESC = ("Terrain-corrected gamma naught values of signal transmitted with vertical "
            "polarization and received with {} polarization with radiometric terrain "
            "correction applied.")
_DESIGNATORS = {"sentinel-1a": "2014-016A", "sentinel-1b": "2016-025A",
                "sentinel-1c": "2024-235A"}


def _pc_time(t: Any) -> str:
    """Planetary Computer's ``start_datetime``/``end_datetime`` text (space, +00:00)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"


def _s1_asset(pol: str, iid: str, files: dict[str, tuple[int, str]]) -> dict[str, Any]:
    name = S1_FILES[pol]
    size, md5 = files.get(name, (0, ""))
    return {"href": f"./{COG_DIRS[S1_ID]}/{iid}/{name}", "file:size": size,
            "file:checksum": md5, "type": _COG, "roles": ["data"], "title": _S1_TITLES[pol],
            "description": _S1_DESC.format("vertical" if pol == "vv" else "horizontal"),
            "raster:bands": [{"nodata": -32768, "data_type": "float32",
                              "spatial_resolution": 10.0}]}


def _s1_props(p: Any, grid: Any) -> dict[str, Any]:
    """The real item's properties, in its order, for a pass (see :mod:`._radar`)."""
    h, w = grid.shape()
    xmin, ymin, xmax, ymax = grid.bounds
    return {
        "datetime": p.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": p.platform.upper(),
        "s1:shape": [w, h],
        "proj:bbox": [xmin, ymin, xmax, ymax],
        "proj:epsg": grid.epsg,
        "proj:shape": [h, w],
        "end_datetime": _pc_time(p.end),
        "constellation": "Sentinel-1",
        "s1:resolution": "high",
        "proj:transform": [10.0, 0.0, grid.x0, 0.0, -10.0, grid.y1, 0.0, 0.0, 1.0],
        "s1:datatake_id": str(p.datatake),
        "start_datetime": _pc_time(p.start),
        "s1:orbit_source": "RESORB" if p.day.year < 2025 else "PREORB",
        "s1:slice_number": str(8 + p.absolute_orbit % 9),
        "s1:total_slices": "18",
        "sar:looks_range": 5,
        "sat:orbit_state": p.orbit.state,
        "sar:product_type": "GRD",
        "sar:looks_azimuth": 1,
        "sar:polarizations": ["VV", "VH"],
        "sar:frequency_band": "C",
        "sat:absolute_orbit": p.absolute_orbit,
        "sat:relative_orbit": p.orbit.relative,
        "s1:processing_level": "1",
        "sar:instrument_mode": "IW",
        "sar:center_frequency": 5.405,
        "sar:resolution_range": 20,
        "s1:product_timeliness": "Fast-24h",
        "sar:resolution_azimuth": 22,
        "sar:pixel_spacing_range": 10,
        "sar:observation_direction": "right",
        "sar:pixel_spacing_azimuth": 10,
        "sar:looks_equivalent_number": 4.4,
        "s1:instrument_configuration_ID": "7",
        "sat:platform_international_designator": _DESIGNATORS[p.platform],
        "geo:synthetic": True,
    }


def make_s1_item(p: Any, *, grid: Any, valid: Any = None,
                 files: dict[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """A ``sentinel-1-rtc`` item (a dict) for a radar pass, in Planetary Computer's form.

    Parameters
    ----------
    p
        The pass (:class:`geo.scenario._radar.Pass`).
    grid
        The raster window (:class:`geo.scenario._radiometry.SceneGrid`).
    valid
        A shapely polygon (UTM) of the footprint inside the window, if not all of it.
    files
        File name: (bytes, md5 hex) of the written files (``file:size``,
        ``file:checksum`` as the real items give them).
    """
    iid = p.item_id
    geom, bbox = footprint(grid.bounds, grid.epsg)
    if valid is not None:
        geom, bbox = _utm_polygon(valid, grid.epsg)
    grd = iid[:-4]
    query = f"collection={S1_ID}&item={iid}"
    assets = {"vh": _s1_asset("vh", iid, files or {}), "vv": _s1_asset("vv", iid, files or {}),
              "tilejson": {"title": "TileJSON with default rendering",
                           "href": f"{_PC_API}/data/v1/item/tilejson.json?{query}&assets=vv"
                                   "&assets=vh&format=png",
                           "type": "application/json", "roles": ["tiles"]},
              "rendered_preview": {"title": "Rendered preview", "rel": "preview",
                                   "href": f"{_PC_API}/data/v1/item/preview.png?{query}"
                                           "&assets=vv&assets=vh&format=png",
                                   "roles": ["overview"], "type": "image/png"}}
    doc = COLLECTION_FILES[S1_ID]
    links = [{"rel": "collection", "type": "application/json", "href": f"./{doc}"},
             {"rel": "parent", "type": "application/json", "href": f"./{doc}"},
             {"rel": "license", "href": LICENSE},
             {"rel": "derived_from", "href": f"{_PC_API}/stac/v1/collections/sentinel-1-grd/"
              f"items/{grd}", "type": "application/json", "title": "Sentinel 1 GRD Item"}]
    return {"id": iid, "bbox": bbox, "type": "Feature", "links": links, "assets": assets,
            "geometry": geom, "collection": S1_ID, "properties": _s1_props(p, grid),
            "stac_extensions": list(S1_EXTENSIONS), "stac_version": "1.0.0"}


def _utm_polygon(poly: Any, epsg: int) -> tuple[dict, list[float]]:
    """GeoJSON polygon (lon/lat) and bbox of a UTM polygon."""
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    xs, ys = poly.exterior.coords.xy
    lon, lat = to_ll.transform(list(xs), list(ys))
    ring = [[round(a, 8), round(b, 8)] for a, b in zip(lon, lat, strict=True)]
    bbox = [round(min(lon), 6), round(min(lat), 6), round(max(lon), 6), round(max(lat), 6)]
    return {"type": "Polygon", "coordinates": [ring]}, bbox


def make_s1_collection(items: list[dict[str, Any]], *, site: str,
                       seed: int = 0) -> dict[str, Any]:
    """The ``sentinel-1-rtc`` collection document of the scenario (extent from its items)."""
    lons = [v for it in items for v in it["bbox"][0::2]]
    lats = [v for it in items for v in it["bbox"][1::2]]
    times = sorted(it["properties"]["datetime"] for it in items)
    item_assets = {pol: {"type": _COG, "roles": ["data"], "title": _S1_TITLES[pol],
                         "description": _S1_DESC.format("vertical" if pol == "vv"
                                                        else "horizontal"),
                         "raster:bands": [{"nodata": -32768, "data_type": "float32",
                                           "spatial_resolution": 10.0}]}
                   for pol in ("vh", "vv")}
    return {
        "type": "Collection",
        "id": S1_ID,
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"],
        "title": f"SYNTHETIC Sentinel 1 Radiometrically Terrain Corrected (RTC) ({site})",
        "description": (
            f"SYNTHETIC radar imagery generated by geo.scenario (site {site}, seed {seed}) in "
            f"the form of Planetary Computer's {S1_ID} collection: float32 linear gamma "
            "naught, VV and VH, 10 m UTM. Not real Sentinel-1 data: for offline tests, demos "
            "and accuracy benchmarks against the planted truth (truth-s1.csv, passes-s1.csv)."
        ),
        "keywords": ["sentinel", "sar", "synthetic", "geo"],
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [[min(lons), min(lats), max(lons), max(lats)]] if items
                        else [[-180, -90, 180, 90]]},
            "temporal": {"interval": [[times[0], times[-1]] if times else [None, None]]},
        },
        "summaries": {"platform": sorted({it["properties"]["platform"] for it in items}),
                      "constellation": ["Sentinel-1"], "sar:polarizations": ["VV", "VH"],
                      "sat:orbit_state": sorted({it["properties"]["sat:orbit_state"]
                                                 for it in items})},
        "item_assets": item_assets,
        "links": [{"rel": "license", "href": LICENSE}],
        "geo:synthetic": True,
    }
