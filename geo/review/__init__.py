"""The review: from an AOI and a period to a folder one can publish from.

One module per output, the dependencies running one way (analysis -> review ->
:mod:`geo.compare` -> CLI):

- :mod:`~geo.review.period`: the period and why it is that one;
- :mod:`~geo.review.scenes`: choosing scenes (the before/after pair, a newsroom's dates);
- :mod:`~geo.review.sensors`: optical, radar, and the timeline fused from both;
- :mod:`~geo.review.tables`: ``activity.csv``, ``scenes.csv``, ``change_points.csv``,
  ``objects.geojson``;
- :mod:`~geo.review.trend`, :mod:`~geo.review.before_after`,
  :mod:`~geo.review.contact_sheet`, :mod:`~geo.review.animation`: one figure each
  (:mod:`~geo.review.closeups` draws the key zones at native resolution for two of them);
- :mod:`~geo.review.headline`: the sentences a reporter can quote;
- :mod:`~geo.review.report`: ``report.html``;
- :mod:`~geo.review.folder`: :func:`run_review`, which chains them and writes the folder.

Examples
--------
>>> from geo.review import OUTPUTS
>>> sorted(OUTPUTS)[:3]
['activity.csv', 'before_after.png', 'change.tif']
"""

from __future__ import annotations

from geo.review.folder import OUTPUTS, ReviewResult, review_stack, run_review
from geo.review.period import (
    BAGRAM_PERIOD,
    ReviewPeriod,
    check_day,
    check_period,
    check_source,
    choose_period,
    latest_pass,
)
from geo.review.scenes import pick_before_after, with_sources
from geo.review.tables import change_points_table, main_change, write_objects

__all__ = ["OUTPUTS", "BAGRAM_PERIOD", "ReviewPeriod", "ReviewResult", "run_review",
           "review_stack", "check_day", "check_period", "check_source", "choose_period",
           "latest_pass", "main_change", "pick_before_after", "change_points_table",
           "write_objects", "with_sources"]
