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
# # 3. The activity index: how far each zone departs from its empty state
#
# At 10 m a large aircraft covers a few pixels and a car less than one, so `geo` does not
# count objects it cannot resolve. It asks, for every key zone and date: what share of the
# zone's clear pixels departs significantly from that pixel's **empty-state baseline**
# (normalised by a control zone for season and sun, tolerant of one-pixel misregistration)?
# See `help(geo.activity_index)` for the method.
#
# This runs on the **synthetic** scenario, whose truth (aircraft, vehicles, containers per
# zone and date) is known, so we can check the index against it.

# %%
import matplotlib.pyplot as plt
import pandas as pd

import geo
from geo.activity import activity_index
from geo.load import load
from geo.review.trend import trend
from geo.search import search
from geo.select import events_for
from geo.testing.review import scenario_folder
from geo.when import change_points

SCENARIO = scenario_folder("small")
aoi = geo.aoi.load("bagram")
items = search(aoi, "2020-10-01", "2025-09-30", source=SCENARIO, progress=False)
ds = load(items, aoi, progress=False)
print(f"{ds.sizes['time']} dates, {ds.sizes['y']} x {ds.sizes['x']} pixels of 10 m")

# %%
# geo.plot selects the Agg backend on import: show figures inline again
# %matplotlib inline

# %%
activity = activity_index(ds, aoi)  # also geo.activity_index
activity.head()

# %% [markdown]
# Dates too cloudy or snowy for a zone are **flagged**, never dropped: they keep their row
# and reason, and figures leave them out of the lines.

# %%
activity.groupby("kind").agg(dates=("date", "nunique"), flagged=("flagged", "mean"),
                             mean_index=("activity_index", "mean")).round(3)

# %% [markdown]
# ## When did it change?
#
# Change points of the apron series (PELT segmentation on the noise-standardised series),
# with bootstrap intervals.

# %%
cps = change_points(activity)
cps.table

# %%
fig = trend(activity, events=events_for(aoi), change_points=cps, site="Bagram (synthetic)",
                 source="synthetic scenario (local catalog)", synthetic=True)
plt.show()

# %% [markdown]
# ## Against the truth
#
# The scenario knows how many aircraft (and large aircraft) stood in each zone on each date.
# The index should be high where aircraft were and near zero where none were. Painted decoy
# silhouettes are part of the empty state: they never count.

# %%
truth = pd.read_csv(SCENARIO / "truth.csv", parse_dates=["date"])
truth["date"] = truth["date"].dt.normalize()
merged = activity.assign(date=pd.to_datetime(activity["date"]).dt.normalize()).merge(
    truth[["date", "zone", "aircraft", "aircraft_large", "vehicles", "containers"]],
    on=["date", "zone"], how="inner")
usable = merged[~merged["flagged"]]
aprons = usable[usable["kind"].isin(["apron", "revetment"])]
fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(aprons["aircraft_large"], aprons["activity_index"], s=10, alpha=0.6)
ax.set(xlabel="large aircraft in the zone (truth)", ylabel="activity index",
       title="Aprons and revetments: index against truth (SYNTHETIC)")
plt.show()
empty = aprons[aprons["aircraft"] == 0]["activity_index"]
busy = aprons[aprons["aircraft_large"] > 0]["activity_index"]
print(f"index where no aircraft: median {empty.median():.3f}; "
      f"where large aircraft stood: median {busy.median():.3f}")

# %% [markdown]
# Limits: the index measures occupancy and change, not counts of small objects; something
# parked for most of the reference period becomes part of the baseline; and a zone outline
# that is approximate mixes in neighbouring ground.
