"""OpenStreetMap aeroways through osmnx's real request path, against an Overpass API on
loopback, and their reconciliation with an AOI's zones (issue 16, part 3)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from geo import errors
from geo.aoi import AOI, from_geojson, load
from geo.osm import DEFAULT_WIDTH_M, aeroways, reconcile
from geo.testing.osm import OverpassServer, overpass_response


@pytest.fixture(scope="module")
def bagram() -> AOI:
    return load("bagram")


def _aprons(aoi: AOI) -> list[str]:
    return sorted(aoi.zones.loc[aoi.zones["kind"] == "apron", "name"])


def test_aeroways_come_from_the_interpreter_and_then_from_the_cache(bagram: AOI,
                                                                    tmp_path: Path) -> None:
    resolver = socket.getaddrinfo
    with OverpassServer(overpass_response(bagram)) as srv:
        first = aeroways(bagram, overpass_url=srv.api, cache=tmp_path)
        paths = [r.path for r in srv.requests]
        again = aeroways(bagram, overpass_url=srv.api, cache=tmp_path)
        later = [r.path for r in srv.requests][len(paths):]
        url = srv.api
    assert "/api/interpreter" not in later  # the second answer came from the cache
    assert paths.count("/api/interpreter") == 1 and "/api/status" in paths
    assert socket.getaddrinfo is resolver  # osmnx's pinned resolver does not outlive the call
    offline = aeroways(bagram, overpass_url=url, cache=tmp_path)  # the server is gone
    assert offline.equals(first)
    assert list(tmp_path.glob("*.json")), "osmnx wrote no cache file where it was told"
    kinds = first["aeroway"].value_counts().to_dict()
    expected = bagram.zones["kind"].value_counts()
    assert kinds["apron"] == expected["apron"] and kinds["hangar"] == expected["hangar"]
    assert set(first.geom_type[first["aeroway"] == "taxiway"]) == {"LineString"}
    assert first.equals(again)


def test_reconcile_keeps_osm_where_it_maps_and_imagery_where_it_does_not(
        bagram: AOI, tmp_path: Path) -> None:
    aprons = _aprons(bagram)
    unmapped, unseen = aprons[0], aprons[1]
    # OSM lacks one apron; the "imagery" AOI lacks another, which only OSM then supplies.
    imagery = from_geojson({**bagram.to_geojson(), "features": [
        f for f in bagram.to_geojson()["features"] if f["properties"]["name"] != unseen]},
        name="bagram")
    with OverpassServer(overpass_response(bagram, skip=[unmapped])) as srv:
        osm = aeroways(bagram, overpass_url=srv.api, cache=tmp_path)
    merged = reconcile(imagery, osm)
    zones = merged.zones.set_index("name")
    assert zones.loc[unmapped, "found_by"] == "imagery"  # OSM does not map it: imagery stays
    apron_rows = merged.zones[merged.zones["kind"] == "apron"]
    assert len(apron_rows) == len(aprons)  # none doubled, none lost
    only_osm = apron_rows[apron_rows["found_by"] == "osm"]
    assert len(only_osm) == 1
    truth = bagram.zones_utm().set_index("name").geometry[unseen]
    found = merged.zones_utm().set_index("name").geometry[only_osm["name"].iloc[0]]
    assert found.intersection(truth).area / found.union(truth).area > 0.95
    assert (apron_rows["found_by"] == "both").sum() == len(aprons) - 2
    assert all("OpenStreetMap" in s for s in apron_rows.loc[apron_rows["found_by"] != "imagery",
                                                            "source"])
    assert merged.properties["osm"] == {
        k: int((merged.zones["found_by"] == k).sum()) for k in ("osm", "both", "imagery")}
    again = from_geojson(merged.to_geojson(), name="bagram")  # an ordinary AOI file
    assert sorted(again.zones["name"]) == sorted(merged.zones["name"])


def test_a_taxiway_network_mapped_as_lines_replaces_the_drawn_one(bagram: AOI,
                                                                   tmp_path: Path) -> None:
    with OverpassServer(overpass_response(bagram, kinds=("taxiway",))) as srv:
        merged = reconcile(bagram, aeroways(bagram, overpass_url=srv.api, cache=tmp_path))
    taxiways = merged.zones[merged.zones["kind"] == "taxiway"]
    assert set(taxiways["found_by"]) == {"both"}, taxiways[["name", "found_by"]]
    drawn = bagram.zones_utm().query("kind == 'taxiway'").geometry.union_all()
    mapped = merged.zones_utm().query("kind == 'taxiway'").geometry.union_all()
    assert drawn.intersection(mapped).area / drawn.area > 0.8


def test_centre_lines_without_a_width_tag_get_the_typical_width(bagram: AOI,
                                                                tmp_path: Path) -> None:
    response = overpass_response(bagram, kinds=("runway",), width_tags=False)
    with OverpassServer(response) as srv:
        osm = aeroways(bagram, overpass_url=srv.api, cache=tmp_path)
    merged = reconcile(bagram, osm)
    runways = merged.zones_utm().query("found_by != 'imagery' and kind == 'runway'")
    assert len(runways) == 2
    for row in runways.itertuples():
        assert row.geometry.area / row.geometry.minimum_rotated_rectangle.area > 0.99
        assert abs(row.geometry.area / (row.geometry.length / 2) - DEFAULT_WIDTH_M["runway"]) < 2
        assert "assumed" in row.source


def test_nothing_mapped_leaves_the_aoi_as_it_was(bagram: AOI, tmp_path: Path) -> None:
    with OverpassServer(overpass_response(bagram, kinds=())) as srv:
        osm = aeroways(bagram, overpass_url=srv.api, cache=tmp_path)
    assert osm.empty
    merged = reconcile(bagram, osm)
    assert sorted(merged.zones["name"]) == sorted(bagram.zones["name"])
    assert merged.properties["osm"]["osm"] == 0


def test_a_failing_or_absent_server_is_a_clear_error(bagram: AOI, tmp_path: Path) -> None:
    with OverpassServer(overpass_response(bagram), status=400) as srv, \
            pytest.raises(errors.SourceUnavailable, match="drop --osm"):
        aeroways(bagram, overpass_url=srv.api, cache=tmp_path / "a")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(errors.SourceUnavailable, match=r"cannot be reached|did not answer"):
        aeroways(bagram, overpass_url=f"http://127.0.0.1:{port}/api", cache=tmp_path / "b",
                 timeout=5)


def test_osm_elements_of_different_types_keep_distinct_zone_names(bagram: AOI) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    from geo.osm import as_zones

    x, y = bagram.perimeter.representative_point().coords[0]
    square = box(x - 0.001, y - 0.001, x + 0.001, y + 0.001)
    osm = gpd.GeoDataFrame({"osm_id": ["way/7", "relation/7"], "aeroway": ["apron", "apron"],
                            "name": [None, None], "width": [None, None]},
                           geometry=[square, square.buffer(-0.0002)], crs=4326)
    names = as_zones(osm, epsg=bagram.epsg)["name"].tolist()
    assert len(set(names)) == 2, names
    merged = reconcile(bagram, osm)  # no DuplicateZoneName
    assert sum(n.startswith("osm_apron") for n in merged.zones["name"]) == 2
