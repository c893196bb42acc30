"""Cloud-optimised GeoTIFFs laid out like Earth Search's Sentinel-2 COGs.

uint16 (SCL and the true-colour image uint8), nodata 0, DEFLATE with horizontal
differencing (predictor 2), internal 256 x 256 tiles, nearest-neighbour overviews down
to one tile, and no timestamps or other varying tags, so the same pixels always give the
same bytes.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> from affine import Affine
>>> from rio_cogeo.cogeo import cog_validate
>>> out = pathlib.Path(tempfile.mkdtemp()) / "B04.tif"
>>> write_cog(out, np.ones((1, 600, 600), "uint16"), Affine(10, 0, 5e5, 0, -10, 3.9e6), 32642)
>>> cog_validate(str(out))[0]
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

__all__ = ["write_cog", "COG_OPTIONS", "BLOCKSIZE"]

BLOCKSIZE = 256
"""Internal tile size. Earth Search uses 1024 on full 10980-pixel tiles; our windows are
about 700 pixels, so 256 keeps several tiles and two overview levels per file."""

COG_OPTIONS: dict[str, str] = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "2",
    "LEVEL": "6",
    "BLOCKSIZE": str(BLOCKSIZE),
    "OVERVIEW_RESAMPLING": "NEAREST",
    "RESAMPLING": "NEAREST",
    "BIGTIFF": "NO",
    "NUM_THREADS": "1",        # deterministic and fair on a shared machine
}
"""Creation options of the GDAL COG driver for every scenario raster."""

_ENV = {"GDAL_PAM_ENABLED": "NO", "GDAL_TIFF_INTERNAL_MASK": "YES"}


def write_cog(path: Path, data: np.ndarray, transform: Affine, epsg: int,
              *, nodata: int = 0, tags: dict[str, str] | None = None) -> None:
    """Write a (band, y, x) array as a COG at ``path`` (overwritten if present).

    Parameters
    ----------
    path
        Output file.
    data
        uint8 or uint16 array (band, y, x).
    transform, epsg
        Georeferencing of the array.
    nodata
        The nodata value written in the header (0 for every Sentinel-2 asset).
    tags
        Extra dataset tags (keep them free of timestamps: bytes must be reproducible).
    """
    bands, height, width = data.shape
    profile = {
        "driver": "GTiff", "width": width, "height": height, "count": bands,
        "dtype": data.dtype.name, "crs": CRS.from_epsg(epsg), "transform": transform,
        "nodata": nodata, "tiled": True, "blockxsize": BLOCKSIZE, "blockysize": BLOCKSIZE,
    }
    options = dict(COG_OPTIONS)
    with rasterio.Env(**_ENV), MemoryFile() as mem:
        with mem.open(**profile) as src:
            src.write(data)
            if tags:
                src.update_tags(**tags)
            if data.dtype == np.uint8 and bands == 3:
                from rasterio.enums import ColorInterp

                src.colorinterp = [ColorInterp.red, ColorInterp.green, ColorInterp.blue]
        with mem.open() as src:
            rio_copy(src, str(path), driver="COG", **options)
