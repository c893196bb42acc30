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
# # 2. The imagery: find, load, and judge every Sentinel-2 scene
#
# This notebook runs on the **synthetic** Bagram scenario: a Sentinel-2 L2A archive in
# exactly the form Earth Search serves (same item properties, asset keys, COGs), with known
# truth. Point `source=` at `"earth-search"` instead and the same code reads the real
# archive. Everything drawn from the scenario says SYNTHETIC.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import geo
from geo import plot
from geo.load import load
from geo.mask import zone_clear_fraction
from geo.search import search
from geo.testing.review import scenario_folder

SCENARIO = scenario_folder("small")  # $GEO_SCENARIO_DIR, or built once into a cache folder
aoi = geo.aoi.load("bagram")
print(SCENARIO)

# %%
# geo.plot selects the Agg backend on import: show figures inline again
# %matplotlib inline

# %% [markdown]
# ## Search
#
# `geo.search` takes a named STAC API, a URL, or a local catalog. Duplicates of one pass
# (two tiles, `_0`/`_1` sequence numbers, reprocessing) are collapsed to one item per solar
# day.

# %%
items = search(aoi, "2020-10-01", "2025-09-30", source=SCENARIO, progress=False)
catalog = pd.DataFrame([{
    "id": it.id,
    "datetime": it.datetime,
    "baseline": it.properties.get("s2:processing_baseline"),
    "boa_offset_applied": it.properties.get("earthsearch:boa_offset_applied"),
    "tile cloud cover %": it.properties.get("eo:cloud_cover"),
    "synthetic": it.properties.get("geo:synthetic", False),
} for it in items])
print(f"{len(items)} items, {catalog['datetime'].min():%Y-%m-%d} to {catalog['datetime'].max():%Y-%m-%d}")
catalog.head(8)

# %% [markdown]
# **Processing baseline 04.00** (from 25 January 2022) stores `DN = 10000 x reflectance +
# 1000`. Whether the 1000 is still in a file depends on the source and on the item's flag;
# `geo.load` decides per item and checks the data (the darkest pixels of an un-harmonised
# scene sit near DN 1000). Our period straddles the change:

# %%
catalog.groupby(["baseline", "boa_offset_applied"], dropna=False).size().rename("items").to_frame()

# %% [markdown]
# ## Load
#
# Only the AOI's window, only the bands needed, on the 10 m grid of the tile's UTM zone.
# The stack is lazy (Dask): nothing is read until a number is asked for.

# %%
ds = load(items, aoi, progress=False)
ds

# %% [markdown]
# ## How clear is each zone, on each date?
#
# The scene's `eo:cloud_cover` is over the whole 110 km tile, not the airfield. The clear
# fraction of each zone comes from the scene classification (SCL) instead.

# %%
clear = zone_clear_fraction(ds, aoi)
key = clear[clear["kind"].isin(geo.aoi.ACTIVITY_KINDS)]
per_date = key.groupby("date")["clear_fraction"].mean().rename("key zones clear")
tile_cc = catalog.assign(date=pd.to_datetime(catalog["datetime"]).dt.tz_localize(None)
                         .dt.normalize()).groupby("date")["tile cloud cover %"].mean()
both = pd.concat([per_date, tile_cc], axis=1).dropna()

fig, ax = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
ax[0].plot(per_date.index, per_date.to_numpy(), "o", ms=3, color="#34495e")
ax[0].set(ylabel="clear fraction (key zones)", ylim=(0, 1.05),
          title="Clear fraction of the key zones per date (SYNTHETIC)")
ax[1].scatter(both["tile cloud cover %"], both["key zones clear"], s=10, color="#c0392b")
ax[1].set(xlabel="tile cloud cover (%)", ylabel="key zones clear",
          title="tile cloud cover is not the site's")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Harmonisation: no fake step at 25 January 2022
#
# The control zone's median reflectance (red band) should move with the seasons, not jump
# when the baseline changes. A naive reader that ignores the offset would show a step of
# about +0.1.

# %%
masks = geo.zones.zone_masks(aoi, ds)
control = masks.sel(zone=masks["zone"][masks["kind"] == "control"][0].item())
red = ds["red"].where(ds["clear"]).where(control)
series = red.median(("y", "x")).compute().to_series()
control_clear = ds["clear"].where(control).sum(("y", "x")) / control.sum()
series = series[control_clear.compute().to_numpy() > 0.9]  # only dates the control is clear
baseline = pd.Series(ds["processing_baseline"].values, index=ds["time"].values)[series.index]
fig, ax = plt.subplots(figsize=(12, 3.2))
for base, grp in series.groupby(baseline >= "04.00"):
    ax.plot(grp.index, grp.to_numpy(), "o", ms=3,
            label="baseline 04.00 or later" if base else "baseline before 04.00")
ax.axvline(pd.Timestamp("2022-01-25"), color="grey", ls="--", lw=0.8)
ax.set(ylabel="red reflectance",
       title="Control zone, median red reflectance on dates it is > 90 % clear (SYNTHETIC)")
ax.legend(fontsize=8)
plt.show()
before = series[series.index < "2022-01-25"].median()
after = series[series.index >= "2022-01-25"].median()
print(f"median before {before:.3f}, after {after:.3f}: step {after - before:+.3f} (an un-harmonised "
      "series would step by about +0.100)")

# %% [markdown]
# ## One clear scene, with the zones

# %%
best = per_date.idxmax()
fig = plot.aoi_map(aoi, stack=ds, date=best, source="synthetic scenario (local catalog)",
                   synthetic=True)
plt.show()

# %% [markdown]
# Next: notebook 3 turns these pixels into an activity index per zone.
