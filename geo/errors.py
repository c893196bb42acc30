"""One exception hierarchy for geo.

Every error raised on purpose by `geo` derives from :class:`GeoError` and, where one
fits, from the matching built-in too, so callers can catch either::

    try:
        aoi = geo.aoi.load("mysite.geojson")
    except FileNotFoundError:      # or geo.errors.AOINotFound, or geo.errors.GeoError
        ...

Messages name the bad input and say how to fix it. Non-fatal problems are
:class:`GeoWarning` subclasses, which callers can turn into errors with the
:mod:`warnings` filters.
"""

from __future__ import annotations

__all__ = [
    "GeoError",
    "AOIError",
    "AOINotFound",
    "InvalidGeoJSON",
    "UnsupportedCRS",
    "UnsupportedGeometry",
    "EmptyGeometry",
    "InvalidGeometry",
    "CoordinatesOutOfRange",
    "SwappedCoordinates",
    "MissingProperty",
    "UnknownZoneKind",
    "DuplicateZoneName",
    "NoPerimeter",
    "ZoneOutsidePerimeter",
    "AOITooLarge",
    "RunwayDataError",
    "ScenarioError",
    "SchedulerUnavailable",
    "OutputExists",
    "SearchError",
    "NoImagery",
    "SourceUnavailable",
    "UnknownSource",
    "UnsupportedSensor",
    "MissingDependency",
    "LoadError",
    "ReadError",
    "MissingBand",
    "StoreError",
    "OfflineMiss",
    "UnsafeHref",
    "AnalysisError",
    "ReviewError",
    "GeoWarning",
    "RunwayLengthMismatch",
    "HarmonisationWarning",
    "UTMBoundaryWarning",
    "StaleSearchWarning",
    "CloudyDateWarning",
    "EmptyCatalog",
]


class GeoError(Exception):
    """Root of every error that `geo` raises on purpose."""


# --- areas of interest -------------------------------------------------------------


class AOIError(GeoError, ValueError):
    """An area of interest is malformed or unusable."""


class AOINotFound(GeoError, FileNotFoundError):
    """No built-in AOI of that name and no file at that path."""


class InvalidGeoJSON(AOIError):
    """The file is not JSON, or not a GeoJSON FeatureCollection of zones."""


class UnsupportedCRS(AOIError):
    """The GeoJSON declares a CRS other than WGS 84 longitude/latitude."""


class UnsupportedGeometry(AOIError):
    """A zone is not a Polygon or MultiPolygon."""


class EmptyGeometry(AOIError):
    """A zone has no geometry or an empty one."""


class InvalidGeometry(AOIError):
    """A zone's polygon is self-intersecting or otherwise invalid."""


class CoordinatesOutOfRange(AOIError):
    """Coordinates outside -180..180 longitude or -90..90 latitude."""


class SwappedCoordinates(AOIError):
    """Coordinates look like (lat, lon) instead of GeoJSON's (lon, lat)."""


class MissingProperty(AOIError):
    """A zone lacks a required property (name, kind or source)."""


class UnknownZoneKind(AOIError):
    """A zone's ``kind`` is not one geo knows."""


class DuplicateZoneName(AOIError):
    """Two zones share one name; per-zone results would be ambiguous."""


class NoPerimeter(AOIError):
    """The AOI has no zone of kind ``perimeter`` (exactly one is required)."""


class ZoneOutsidePerimeter(AOIError):
    """A zone that is not a control zone lies (partly) outside the perimeter."""


class AOITooLarge(AOIError):
    """The perimeter is too large to be a site; pass ``allow_large=True`` to insist."""


class RunwayDataError(AOIError):
    """Runway rows cannot be turned into runway polygons."""


class UnknownAirport(RunwayDataError, LookupError):
    """No runway rows for that code: not in the table, or a heliport with no runway."""


class NoUsableRunway(RunwayDataError):
    """The airport's runways are all closed, on water or without end coordinates."""


# --- scenario ----------------------------------------------------------------------


class ScenarioError(GeoError, RuntimeError):
    """The synthetic scenario cannot be built or served."""


class OutputExists(GeoError, FileExistsError):
    """An output folder exists and would be overwritten; pass ``overwrite=True``."""


# --- search and load ---------------------------------------------------------------


class SearchError(GeoError, RuntimeError):
    """A catalog search failed."""


class NoImagery(SearchError, LookupError):
    """A search found no usable imagery for the AOI and period."""


class EmptyCatalog(NoImagery):
    """A local catalog file exists but holds no items at all."""


class SourceUnavailable(SearchError, ConnectionError):
    """A STAC API or file server could not be reached or kept failing."""


class SchedulerUnavailable(GeoError, ConnectionError):
    """The Dask scheduler named by --scheduler or $DASK_SCHEDULER_ADDRESS does not answer."""


class UnknownSource(GeoError, ValueError):
    """The source is neither a known name, a URL nor an existing local catalog."""


class UnsupportedSensor(SearchError, ValueError):
    """A sensor geo does not know, or a source that has no loadable data of it (e.g.
    Sentinel-1 from Earth Search, whose GRD items are requester-pays and unprojected)."""


class MissingDependency(GeoError, ImportError):
    """An optional package is needed; the message names the install command."""


class LoadError(GeoError, RuntimeError):
    """Imagery could not be loaded."""


class ReadError(LoadError, OSError):
    """A raster read failed; the message names the scene, asset and URL."""


class MissingBand(LoadError, KeyError):
    """An item has no asset for a band that was asked for."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StoreError(GeoError, OSError):
    """The local imagery store cannot be read or written."""


class OfflineMiss(StoreError, LookupError):
    """``offline=True`` and the store lacks windows the run needs."""


class UnsafeHref(GeoError, ValueError):
    """A catalog href points somewhere geo will not read from (file://, ../, ...)."""


# --- analysis and review -----------------------------------------------------------


class AnalysisError(GeoError, ValueError):
    """Inputs to an analysis step are inconsistent or insufficient."""


class ReviewError(GeoError, RuntimeError):
    """A review cannot be produced."""


# --- warnings ----------------------------------------------------------------------


class GeoWarning(UserWarning):
    """Root of every warning `geo` emits."""


class RunwayLengthMismatch(GeoWarning):
    """Runway end coordinates disagree with the stated runway length."""


class RunwaySkipped(GeoWarning):
    """A runway row was left out (closed, water, no end coordinates) or completed (width)."""


class HarmonisationWarning(GeoWarning):
    """An item's offset flag disagrees with its data; the data were believed."""


class UTMBoundaryWarning(GeoWarning):
    """An AOI's perimeter crosses a UTM zone boundary (items of the other zone are
    reprojected onto the AOI's grid)."""


class StaleSearchWarning(GeoWarning):
    """An offline search was answered from a cached result older than the usual age."""


class CloudyDateWarning(GeoWarning):
    """Dates were too cloudy or snowy for a zone and were flagged."""
