"""``geo.show_versions()``: what to paste into a bug report."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

__all__ = ["show_versions", "versions"]

_PACKAGES = (
    "geo", "numpy", "pandas", "xarray", "dask", "distributed", "rasterio", "odc-stac",
    "odc-geo", "pystac", "pystac-client", "rustac", "geopandas", "shapely", "pyproj",
    "matplotlib", "ruptures", "planetary-computer",
)


def versions() -> dict[str, str]:
    """Versions of Python, GDAL/PROJ and the packages geo depends on.

    Examples
    --------
    >>> "numpy" in versions()
    True
    """
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    try:
        import pyproj
        import rasterio

        out["GDAL"] = rasterio.__gdal_version__
        out["PROJ"] = pyproj.proj_version_str
    except ImportError:  # pragma: no cover
        pass
    return out


def show_versions() -> str:
    """The :func:`versions` table as text, one ``name: version`` per line.

    Examples
    --------
    >>> show_versions().splitlines()[0].startswith("python:")
    True
    """
    return "\n".join(f"{k}: {v}" for k, v in versions().items())
