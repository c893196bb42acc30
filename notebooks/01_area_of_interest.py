# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. The area of interest: Bagram Air Base
#
# *Was this site busy or idle, and when did that change?* Before any image, a review needs
# a map of **where to look**: the zones whose occupancy tells activity (aprons, revetments,
# parking lots, container yards), the surfaces that say whether the airfield is used
# (runways, taxiways), and **control** ground outside the base to normalise for season and
# sun angle.
#
# `geo` keeps each site as a GeoJSON FeatureCollection in `aoi/`, one feature per zone with
# a `name`, a `kind` and a `source` that says where the outline came from.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import geo
from geo import plot
from geo.select import events_for

aoi = geo.aoi.load("bagram")
aoi

# %%
# geo.plot selects the Agg backend on import: show figures inline again
# %matplotlib inline

# %% [markdown]
# The AOI knows its local UTM zone (all measurements are in metres on the Sentinel-2 grid)
# and the Sentinel-2 MGRS tile(s) that hold it: Bagram sits about 24 km inside the western
# edge of tile 42SWD, so one tile covers it and no mosaicking is needed.

# %%
print(f"UTM CRS EPSG:{aoi.epsg}, Sentinel-2 tile(s): {', '.join(aoi.tiles)}")
summary = aoi.summary()
summary

# %% [markdown]
# ## Zones by kind
#
# The activity index is measured on the key zones (kinds in `geo.aoi.ACTIVITY_KINDS`).
# Most outlines are **approximate**: no public apron polygons exist for Bagram, so they were
# placed by hand from public descriptions, and their `source` says so.

# %%
by_kind = summary.groupby("kind").agg(zones=("name", "count"), area_ha=("area_ha", "sum"))
by_kind["measured for activity"] = by_kind.index.isin(geo.aoi.ACTIVITY_KINDS)
by_kind.sort_values("area_ha", ascending=False)

# %%
approx = summary["source"].str.startswith("approximate")
print(f"{approx.sum()} of {len(summary)} zones are approximate outlines")

# %% [markdown]
# ## The map
#
# Zones in the local UTM CRS, with scale bar and north arrow (grid north).

# %%
fig = plot.zones_map(aoi)
plt.show()

# %% [markdown]
# ## The runways check out
#
# The two runways come from OurAirports' runway-end coordinates. Their lengths, measured on
# the ellipsoid, should match the published 3,604 m and 2,955 m.

# %%
runways = aoi.zones_utm().query("kind == 'runway'")
for row in runways.itertuples():
    rect = row.geometry.minimum_rotated_rectangle
    xs, ys = rect.exterior.xy
    sides = sorted(((xs[i + 1] - xs[i]) ** 2 + (ys[i + 1] - ys[i]) ** 2) ** 0.5 for i in range(4))
    print(f"{row.name}: about {sides[-1]:,.0f} m long, {sides[0]:,.0f} m wide")

# %% [markdown]
# ## The timeline the activity is read against
#
# Key dates (from the project's design notes). The review always includes the clear image
# nearest to each required date, on the side that matters: the last one **before** US forces
# left, the first one **after** the takeover.

# %%
pd.DataFrame([{"date": e.date.date(), "event": e.label,
               "image wanted": e.side if e.required else "marked only"}
              for e in events_for(aoi)])

# %% [markdown]
# **Your own site:** write a GeoJSON FeatureCollection in lon/lat with one `perimeter` and
# zones of the kinds above, then `geo.aoi.load("mysite.geojson")`; `geo` checks it and says
# what is wrong. For an airfield, `geo.aoi.from_runways(csv, "ICAO")` starts one from
# OurAirports runway rows.
