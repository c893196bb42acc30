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
# # 6. Any airfield, from its ICAO code to a review
#
# A review needs an AOI: the site's perimeter and its zones (runways, taxiways, aprons,
# controls). For Bagram one was drawn by hand. For any other airfield `geo` builds one from
# two public sources:
#
# 1. **Runways** from the OurAirports table that ships with `geo` (both ends' coordinates
#    and the width of every runway in the world): `geo.aoi.from_icao("OAKN")`.
# 2. **Aprons and taxiways** found in the imagery: a clear-sky median composite of the
#    site, paved ground (grey, smooth, stable through the year) connected to the runways,
#    split into long narrow taxiways and wide aprons: `geo.airfield.make_aoi("OAKN", source)`.
#
# On the command line the whole path is one command, `geo review --aoi OAKN`: the AOI is
# made on first use and kept beside the review, where it can be checked and edited. Here
# it runs on the **synthetic** Bagram scenario (its code is OAIX), so the found zones can be
# compared with the truth.

# %%
import warnings

import matplotlib.pyplot as plt
import pandas as pd

import geo
from geo import plot
from geo.airfield import make_aoi
from geo.testing.review import scenario_folder

SCENARIO = scenario_folder("small")

with warnings.catch_warnings():
    warnings.simplefilter("ignore", geo.errors.RunwayLengthMismatch)  # OAIX's known swap
    runways = geo.aoi.from_icao("OAIX")
runways.zones[["name", "kind", "source"]]

# %%
# geo.plot selects the Agg backend on import: show figures inline again
# %matplotlib inline

# %% [markdown]
# ## Runways only
#
# OurAirports gives the runways and `from_icao` grows a perimeter around them. OAIX's rows
# carry a known error (each runway's length and width belong to the other); `geo` notices
# it from the end coordinates, warns, and draws the runways from their ends.

# %%
fig = plot.zones_map(runways)

# %% [markdown]
# ## Aprons found in the imagery
#
# `make_aoi` builds a composite of up to 24 clear dates over a year, tests every pixel
# (grey spectrum, smooth, stable, not snow or water), keeps the paved ground connected to
# the runways and splits it. Every found zone says where it came from and how sure it is.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    found = make_aoi("OAIX", SCENARIO, start="2021-01-01", end="2021-12-31", progress=False)
found.zones.loc[found.zones["kind"] != "perimeter",
                ["name", "kind", "source", "confidence"]].round(2)

# %% [markdown]
# ## Against the truth
#
# The scenario drew its aprons from the hand-made Bagram AOI, so each found apron can be
# scored by its overlap (intersection over union) with the true one it covers most.

# %%
truth = geo.aoi.load("bagram").zones_utm()
mine = found.zones_utm()
true_aprons = truth[truth["kind"] == "apron"]
rows = []
for row in mine[mine["kind"] == "apron"].itertuples():
    overlap = true_aprons.geometry.intersection(row.geometry).area
    best = true_aprons.iloc[int(overlap.to_numpy().argmax())]
    iou = overlap.max() / best.geometry.union(row.geometry).area
    rows.append({"found": row.name, "true apron": best["name"], "IoU": round(float(iou), 2)})
pd.DataFrame(rows)

# %%
fig, ax = plt.subplots(figsize=(7, 7))
true_aprons.boundary.plot(ax=ax, color="black", linewidth=1.5, label="true aprons")
mine[mine["kind"] == "apron"].plot(ax=ax, color="tab:red", alpha=0.5)
mine[mine["kind"] == "runway"].plot(ax=ax, color="tab:blue", alpha=0.4)
mine[mine["kind"] == "taxiway"].plot(ax=ax, color="tab:cyan", alpha=0.4)
ax.set_title("Found in imagery (filled) against the true aprons (black) - SYNTHETIC")
ax.set_axis_off()

# %% [markdown]
# ## From the code to a review
#
# The found AOI is a normal AOI: `geo.review.run_review(found, ...)` reviews it like the
# hand-drawn one, and `found.to_geojson()` saves it for editing. On the command line:
#
# ```bash
# geo aoi show OAKN                      # runways and perimeter, no imagery needed
# geo aoi make OAKN --out oakn.geojson   # plus aprons and taxiways found in the imagery
# geo review --aoi OAKN --out oakn_review
# geo review --aoi oakn.geojson --out oakn_review   # after editing the zones
# ```
#
# With a network, `geo.osm.aeroways` adds OpenStreetMap's mapped aprons and taxiways and
# `geo.osm.reconcile` merges them with the found zones (OSM where it maps, the imagery
# where it does not; each zone says which).
