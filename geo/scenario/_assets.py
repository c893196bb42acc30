"""The asset lists of Earth Search's two Sentinel-2 L2A collections, key for key.

The keys, titles, fields and roles copy real items (``sentinel-2-l2a``:
S2B_20EPT_20250731_0_L2A, with S2A_13TDE_20231008_0_L2A's key set before 2025;
``sentinel-2-c1-l2a``: S2B_T20EPT_20250731T131905_L2A). The scenario writes only the files
geo reads (:data:`WRITTEN`: four 10 m bands, two SWIR bands, SCL and the true-colour
image); every other asset is listed with an href that resolves to nothing on the
loopback file server (``./...``) or, as in the real older collection, to ``s3://``
(the ``*-jp2`` rasters, cloud and snow probabilities, product metadata).

Examples
--------
>>> len(L2A_KEYS_2025), len(L2A_KEYS_EARLY), len(C1_KEYS)
(38, 35, 23)
>>> sorted(set(L2A_KEYS_2025) - set(L2A_KEYS_EARLY))
['cloud', 'product_metadata', 'snow']
"""

from __future__ import annotations

from datetime import date
from typing import Any

__all__ = ["WRITTEN", "C1_KEYS", "L2A_KEYS_2025", "L2A_KEYS_EARLY", "L2A_NEW_KEYS_FROM",
           "asset_specs", "EO_BANDS", "TYPES"]

TYPES = {"cog": "image/tiff; application=geotiff; profile=cloud-optimized",
         "jp2": "image/jp2", "xml": "application/xml", "json": "application/json",
         "jpeg": "image/jpeg"}

EO_BANDS: dict[str, tuple[str, float, float]] = {
    "B01": ("coastal", 0.443, 0.027), "B02": ("blue", 0.49, 0.098),
    "B03": ("green", 0.56, 0.045), "B04": ("red", 0.665, 0.038),
    "B05": ("rededge", 0.704, 0.019), "B06": ("rededge", 0.74, 0.018),
    "B07": ("rededge", 0.783, 0.028), "B08": ("nir", 0.842, 0.145),
    "B8A": ("nir08", 0.865, 0.033), "B09": ("nir09", 0.945, 0.026),
    "B11": ("swir16", 1.61, 0.143), "B12": ("swir22", 2.19, 0.242),
}
"""Band name: (common name, centre and full width at half maximum in micrometres)."""

WRITTEN = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir16": "B11",
           "swir22": "B12", "scl": "SCL", "visual": "TCI"}
"""Asset key: file stem of the rasters the scenario writes (``<stem>.tif``)."""

_REFL = {"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}
_U8 = {"nodata": 0, "data_type": "uint8"}
_AOT = {"nodata": 0, "data_type": "uint16", "scale": 0.001, "offset": 0}
_WVP = {"nodata": 0, "data_type": "uint16", "unit": "cm", "scale": 0.001, "offset": 0}
_R = ["data", "reflectance"]
_BAND_TITLES = {"B01": "Coastal - 60m", "B02": "Blue - 10m", "B03": "Green - 10m",
                "B04": "Red - 10m", "B05": "Red Edge 1 - 20m", "B06": "Red Edge 2 - 20m",
                "B07": "Red Edge 3 - 20m", "B08": "NIR 1 - 10m", "B8A": "NIR 2 - 20m",
                "B09": "NIR 3 - 60m", "B11": "SWIR 1.6\u03bcm - 20m",
                "B12": "SWIR 2.2\u03bcm - 20m"}
_BAND_KEYS = {"coastal": "B01", "blue": "B02", "green": "B03", "red": "B04",
              "rededge1": "B05", "rededge2": "B06", "rededge3": "B07", "nir": "B08",
              "nir08": "B8A", "nir09": "B09", "swir16": "B11", "swir22": "B12"}
_GSD = {"B01": 60, "B09": 60, "B02": 10, "B03": 10, "B04": 10, "B08": 10}


def _band(name: str, kind: str, file: str) -> dict[str, Any]:
    gsd = _GSD.get(name, 20)
    return {"file": file, "kind": kind, "title": _BAND_TITLES[name], "gsd": gsd,
            "eo": [name], "raster": (1, _REFL), "roles": _R}


def _plain(file: str, kind: str, title: str | None, gsd: int | None,
           raster: tuple[int, dict[str, Any]] | None, roles: list[str],
           eo: list[str] | None = None) -> dict[str, Any]:
    return {"file": file, "kind": kind, "title": title, "gsd": gsd, "eo": eo or [],
            "raster": raster, "roles": roles}


def _l2a_specs() -> dict[str, dict[str, Any]]:
    """sentinel-2-l2a assets in the real 2025 item's order (file: under the item folder,
    or ``s3:`` + path under the tile's ``sentinel-s2-l2a`` folder)."""
    cog = {k: _band(b, "cog", f"{b}.tif") for k, b in _BAND_KEYS.items()}
    out: dict[str, dict[str, Any]] = {
        "aot": _plain("AOT.tif", "cog", "Aerosol optical thickness (AOT)", 20, (1, _AOT),
                      ["data"]),
        "blue": cog["blue"],
        "cloud": _plain("s3:qi/CLD_20m.jp2", "jp2", "Cloud Probabilities", 20, (1, _U8),
                        ["data", "cloud"]),
        "coastal": cog["coastal"],
        "granule_metadata": _plain("granule_metadata.xml", "xml", None, None, None,
                                   ["metadata"]),
        "green": cog["green"], "nir": cog["nir"], "nir08": cog["nir08"],
        "nir09": cog["nir09"],
        "product_metadata": _plain("s3:product_metadata.xml", "xml", None, None, None,
                                   ["metadata"]),
        "red": cog["red"], "rededge1": cog["rededge1"], "rededge2": cog["rededge2"],
        "rededge3": cog["rededge3"],
        "scl": _plain("SCL.tif", "cog", "Scene classification map (SCL)", 20, (1, _U8),
                      ["data"]),
        "snow": _plain("s3:qi/SNW_20m.jp2", "jp2", "Snow Probabilities", None, (1, _U8),
                       ["data", "snow-ice"]),
        "swir16": cog["swir16"], "swir22": cog["swir22"],
        "tileinfo_metadata": _plain("tileinfo_metadata.json", "json", None, None, None,
                                    ["metadata"]),
        "visual": _plain("TCI.tif", "cog", "True color image", 10, (3, _U8), ["visual"],
                         ["B04", "B03", "B02"]),
        "wvp": _plain("WVP.tif", "cog", "Water Vapour (WVP)", 20, (1, _WVP), ["data"]),
        "thumbnail": _plain("preview.jpg", "jpeg", "Thumbnail of preview image", None, None,
                            ["thumbnail"]),
    }
    for key in ("aot", "blue", "coastal", "green", "nir", "nir08", "nir09", "red",
                "rededge1", "rededge2", "rededge3", "scl", "swir16", "swir22", "visual",
                "wvp"):
        spec = dict(out[key])
        res = spec["gsd"]
        spec["file"] = f"s3:R{res}m/{spec['file'].replace('.tif', '.jp2')}"
        spec["kind"] = "jp2"
        out[f"{key}-jp2"] = spec
    return out


def _c1_specs() -> dict[str, dict[str, Any]]:
    """sentinel-2-c1-l2a assets in the real item's order (every file under one prefix)."""
    l2a = _l2a_specs()
    order = ["red", "green", "blue", "visual", "nir", "swir22", "rededge2", "rededge3",
             "rededge1", "swir16", "wvp", "nir08", "scl", "aot", "coastal", "nir09"]
    out = {k: dict(l2a[k]) for k in order}
    out["cloud"] = _plain("CLD_20m.tif", "cog", "Cloud Probabilities", 20, (1, _U8),
                          ["data", "cloud"])
    out["snow"] = _plain("SNW_20m.tif", "cog", "Snow Probabilities", None, (1, _U8),
                         ["data", "snow-ice"])
    out["preview"] = _plain("L2A_PVI.tif", "cog", "True color preview", 320, None,
                            ["overview"], ["B04", "B03", "B02"])
    out["granule_metadata"] = _plain("metadata.xml", "xml", None, None, None, ["metadata"])
    out["tileinfo_metadata"] = _plain("tileInfo.json", "json", None, None, None, ["metadata"])
    out["product_metadata"] = _plain("product_metadata.xml", "xml", None, None, None,
                                     ["metadata"])
    out["thumbnail"] = _plain("L2A_PVI.jpg", "jpeg", "Thumbnail of preview image", None,
                              None, ["thumbnail"])
    return out


L2A_SPECS = _l2a_specs()
C1_SPECS = _c1_specs()
L2A_KEYS_2025 = list(L2A_SPECS)
"""Asset keys of a ``sentinel-2-l2a`` item sensed from :data:`L2A_NEW_KEYS_FROM` on."""
L2A_KEYS_EARLY = [k for k in L2A_SPECS if k not in ("cloud", "snow", "product_metadata")]
"""Asset keys of an earlier ``sentinel-2-l2a`` item (as the real 2020 and 2023 items)."""
C1_KEYS = list(C1_SPECS)
"""Asset keys of a ``sentinel-2-c1-l2a`` item."""
L2A_NEW_KEYS_FROM = date(2025, 1, 1)
"""A scenario choice: older-collection items sensed from this date list cloud, snow and
product metadata assets, as the real 2025 item does (the 2020 and 2023 ones do not)."""


def asset_specs(c1: bool, day: date) -> dict[str, dict[str, Any]]:
    """The asset specs of an item of either collection sensed on ``day``.

    Examples
    --------
    >>> len(asset_specs(False, date(2023, 1, 1))), len(asset_specs(True, date(2021, 1, 1)))
    (35, 23)
    """
    if c1:
        return C1_SPECS
    keys = L2A_KEYS_2025 if day >= L2A_NEW_KEYS_FROM else L2A_KEYS_EARLY
    return {k: L2A_SPECS[k] for k in keys}
