"""Regenerate ``geo/data/ourairports_runways.csv.gz`` from an OurAirports ``runways.csv``.

Only the columns :func:`geo.aoi.from_icao` reads are kept (see
:data:`geo.aoi.RUNWAY_COLUMNS`), every row is kept, and every value is copied verbatim
(no number is re-formatted), so the shipped table equals the source's rows for those
columns. The gzip header carries no file name and mtime 0: the same input always gives
the same bytes.

Run::

    python aoi/make_runway_table.py path/to/runways.csv
    # writes geo/data/ourairports_runways.csv.gz and prints its size and sha256

Then update the commit and date in ``geo/data/README.md`` and :data:`geo.aoi.RUNWAY_TABLE_SOURCE`.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
from pathlib import Path

from geo.aoi import RUNWAY_COLUMNS, RUNWAY_TABLE

__all__ = ["build_table"]


def build_table(source: str | Path) -> bytes:
    """The gzip bytes of the kept columns of ``source`` (an OurAirports runways.csv).

    Examples
    --------
    >>> import tempfile
    >>> src = Path(tempfile.mkdtemp()) / "runways.csv"
    >>> _ = src.write_text(",".join(("id",) + RUNWAY_COLUMNS) + "\\n" + "1," + "x," * 10 + "y\\n")
    >>> gzip.decompress(build_table(src)).decode().splitlines()[1]
    'x,x,x,x,x,x,x,x,x,x,y'
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RUNWAY_COLUMNS)
    with open(source, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(RUNWAY_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{source} lacks the OurAirports columns {sorted(missing)}.")
        for row in reader:
            writer.writerow([row[c] for c in RUNWAY_COLUMNS])
    return gzip.compress(out.getvalue().encode("utf-8"), compresslevel=9, mtime=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runways_csv", type=Path, help="OurAirports runways.csv")
    parser.add_argument("--out", type=Path, default=RUNWAY_TABLE, help="output .csv.gz")
    args = parser.parse_args()
    data = build_table(args.runways_csv)
    args.out.write_bytes(data)
    print(f"wrote {args.out} ({len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()})")


if __name__ == "__main__":
    main()
