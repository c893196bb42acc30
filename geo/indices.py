"""Spectral indices from one small registry.

Each entry of :data:`INDICES` names an index, its formula (written in the notation of
Awesome Spectral Indices / `spyndex`_, whose one-letter band names map to Sentinel-2 as
``B`` blue, ``G`` green, ``R`` red, ``N`` nir, ``S1`` swir16, ``S2`` swir22), the bands it
needs, its constants, the paper that defined it, and whether it is invariant to a uniform
gain (a brightness factor applied to every band alike, e.g. a change of sun elevation or a
calibration drift). Normalised differences and band ratios are; indices with additive
constants (SAVI, EVI) and brightness are not.

The test suite checks every formula against `spyndex` on its bundled real Sentinel-2
(10 m bands) and Landsat 8 (with SWIR) samples, and against hand-computed values.

``brightness`` is geo's own definition (spyndex has none that fits): the arithmetic mean
of the blue, green, red and near-infrared reflectances.

.. _spyndex: https://github.com/awesome-spectral-indices/spyndex

Examples
--------
>>> import numpy as np
>>> bands = {"red": np.array([0.1]), "nir": np.array([0.3])}
>>> round(float(compute("NDVI", bands)[0]), 3)
0.5
>>> sorted(INDICES)[:3]
['BSI', 'EVI', 'MNDWI']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geo import errors

__all__ = ["BAND_SYMBOLS", "Index", "INDICES", "compute", "add_indices", "table"]

log = logging.getLogger(__name__)

BAND_SYMBOLS: dict[str, str] = {
    "B": "blue",
    "G": "green",
    "R": "red",
    "N": "nir",
    "S1": "swir16",
    "S2": "swir22",
}
"""Awesome Spectral Indices band symbols -> geo (Earth Search) band names."""


@dataclass(frozen=True)
class Index:
    """One spectral index.

    Attributes
    ----------
    name
        Short name, as in spyndex where it exists there.
    long_name
        What it is called in full.
    formula
        The formula in spyndex notation (band symbols of :data:`BAND_SYMBOLS`).
    bands
        geo band names it reads.
    func
        ``func(bands, constants)`` computing it from a mapping of band arrays.
    reference
        Where it was defined.
    constants
        Default values of its constants.
    spyndex_name
        The name of the same index in spyndex (``None`` if spyndex lacks it).
    gain_invariant
        Whether multiplying every band by one factor leaves it unchanged.
    """

    name: str
    long_name: str
    formula: str
    bands: tuple[str, ...]
    func: Callable[[Mapping[str, Any], Mapping[str, float]], Any]
    reference: str
    constants: dict[str, float] = field(default_factory=dict)
    spyndex_name: str | None = None
    gain_invariant: bool = True


def _nd(a: Any, b: Any) -> Any:
    return (a - b) / (a + b)


INDICES: dict[str, Index] = {
    i.name: i
    for i in (
        Index("NDVI", "Normalized Difference Vegetation Index", "(N-R)/(N+R)",
              ("nir", "red"), lambda d, c: _nd(d["nir"], d["red"]),
              "https://ntrs.nasa.gov/citations/19740022614", spyndex_name="NDVI"),
        Index("NDBI", "Normalized Difference Built-Up Index", "(S1-N)/(S1+N)",
              ("swir16", "nir"), lambda d, c: _nd(d["swir16"], d["nir"]),
              "http://dx.doi.org/10.1080/01431160304987", spyndex_name="NDBI"),
        Index("BSI", "Bare Soil Index", "((S1+R)-(N+B))/((S1+R)+(N+B))",
              ("swir16", "red", "nir", "blue"),
              lambda d, c: _nd(d["swir16"] + d["red"], d["nir"] + d["blue"]),
              "http://citeseerx.ist.psu.edu/viewdoc/download?doi=10.1.1.465.8749&rep=rep1&type=pdf",
              spyndex_name="BI"),
        Index("NDWI", "Normalized Difference Water Index", "(G-N)/(G+N)",
              ("green", "nir"), lambda d, c: _nd(d["green"], d["nir"]),
              "https://doi.org/10.1080/01431169608948714", spyndex_name="NDWI"),
        Index("MNDWI", "Modified Normalized Difference Water Index", "(G-S1)/(G+S1)",
              ("green", "swir16"), lambda d, c: _nd(d["green"], d["swir16"]),
              "https://doi.org/10.1080/01431160600589179", spyndex_name="MNDWI"),
        Index("NDSI", "Normalized Difference Snow Index", "(G-S1)/(G+S1)",
              ("green", "swir16"), lambda d, c: _nd(d["green"], d["swir16"]),
              "https://doi.org/10.1109/IGARSS.1994.399618", spyndex_name="NDSI"),
        Index("NBR", "Normalized Burn Ratio", "(N-S2)/(N+S2)",
              ("nir", "swir22"), lambda d, c: _nd(d["nir"], d["swir22"]),
              "https://doi.org/10.3133/ofr0211", spyndex_name="NBR"),
        Index("NDMI", "Normalized Difference Moisture Index", "(N-S1)/(N+S1)",
              ("nir", "swir16"), lambda d, c: _nd(d["nir"], d["swir16"]),
              "https://doi.org/10.1016/S0034-4257(01)00318-2", spyndex_name="NDMI"),
        Index("SAVI", "Soil-Adjusted Vegetation Index", "(1.0+L)*(N-R)/(N+R+L)",
              ("nir", "red"),
              lambda d, c: (1.0 + c["L"]) * (d["nir"] - d["red"]) / (d["nir"] + d["red"] + c["L"]),
              "https://doi.org/10.1016/0034-4257(88)90106-X", {"L": 0.5},
              spyndex_name="SAVI", gain_invariant=False),
        Index("EVI", "Enhanced Vegetation Index", "g*(N-R)/(N+C1*R-C2*B+L)",
              ("nir", "red", "blue"),
              lambda d, c: c["g"] * (d["nir"] - d["red"])
              / (d["nir"] + c["C1"] * d["red"] - c["C2"] * d["blue"] + c["L"]),
              "https://doi.org/10.1016/S0034-4257(96)00112-5",
              {"g": 2.5, "C1": 6.0, "C2": 7.5, "L": 1.0}, spyndex_name="EVI",
              gain_invariant=False),
        Index("brightness", "Mean visible and near-infrared reflectance", "(B+G+R+N)/4.0",
              ("blue", "green", "red", "nir"),
              lambda d, c: (d["blue"] + d["green"] + d["red"] + d["nir"]) / 4.0,
              "geo: arithmetic mean of the blue, green, red and nir reflectances",
              gain_invariant=False),
    )
}
"""The registry: index name -> :class:`Index`."""


def _lookup(name: str) -> Index:
    if name in INDICES:
        return INDICES[name]
    folded = {k.lower(): v for k, v in INDICES.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    raise errors.AnalysisError(
        f"Unknown spectral index {name!r}. Use one of {', '.join(INDICES)} "
        "(see geo.indices.table())."
    )


def compute(name: str, data: Mapping[str, Any] | xr.Dataset, **constants: float) -> Any:
    """Compute one index from band arrays (numpy, dask or xarray).

    Parameters
    ----------
    name
        Index name (case-insensitive), a key of :data:`INDICES`.
    data
        Mapping or Dataset holding the bands the index needs, as reflectance (1.0 = 100 %).
    **constants
        Override the index's constants (e.g. ``L=1.0`` for SAVI).

    Returns
    -------
    Same type as the bands (DataArray for a Dataset, named after the index).

    Raises
    ------
    geo.errors.AnalysisError
        Unknown index, unknown constant.
    geo.errors.MissingBand
        A band the index needs is absent.

    Examples
    --------
    >>> import numpy as np
    >>> d = {"blue": np.array([0.05]), "green": np.array([0.08]),
    ...      "red": np.array([0.06]), "nir": np.array([0.40])}
    >>> round(float(compute("SAVI", d)[0]), 4)
    0.5312
    >>> round(float(compute("SAVI", d, L=0.0)[0]), 4)
    0.7391
    """
    index = _lookup(name)
    keys = set(data.data_vars) if isinstance(data, xr.Dataset) else set(data)
    missing = [b for b in index.bands if b not in keys]
    if missing:
        raise errors.MissingBand(
            f"Index {index.name} needs band(s) {', '.join(missing)}, which the data lack "
            f"(have: {', '.join(sorted(map(str, keys))) or 'none'}). Load them, e.g. "
            f"geo.load(..., bands={index.bands!r})."
        )
    unknown = set(constants) - set(index.constants)
    if unknown:
        raise errors.AnalysisError(
            f"Index {index.name} has no constant(s) {', '.join(sorted(unknown))}; its "
            f"constants are {index.constants or 'none'}."
        )
    consts = {**index.constants, **constants}
    with np.errstate(divide="ignore", invalid="ignore"):
        out = index.func({b: data[b] for b in index.bands}, consts)
    if isinstance(out, xr.DataArray):
        out = out.rename(index.name)
        out.attrs = {"long_name": index.long_name, "formula": index.formula,
                     "reference": index.reference}
    return out


def add_indices(stack: xr.Dataset, names: Iterable[str] = ("NDVI", "NDBI", "brightness")
                ) -> xr.Dataset:
    """Return the stack with index variables added (lazily for dask-backed stacks).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({b: ("x", np.array([0.1, 0.2])) for b in ("red", "nir")})
    >>> add_indices(ds, ["NDVI"])["NDVI"].round(3).values.tolist()
    [0.0, 0.0]
    """
    new = {_lookup(n).name: compute(n, stack) for n in names}
    return stack.assign(new)


def table() -> pd.DataFrame:
    """The registry as a table: name, long_name, formula, bands, constants, reference.

    Examples
    --------
    >>> "NDVI" in table()["name"].tolist()
    True
    """
    return pd.DataFrame(
        [
            {"name": i.name, "long_name": i.long_name, "formula": i.formula,
             "bands": ", ".join(i.bands), "constants": i.constants,
             "gain_invariant": i.gain_invariant, "spyndex": i.spyndex_name,
             "reference": i.reference}
            for i in INDICES.values()
        ]
    )
