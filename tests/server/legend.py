"""Reference facts the colour tests compare the server against, typed in from their
published sources (not from leafcube's own tables)."""

#: The NALCMS legend as Earth Engine's catalogue publishes it
#: (USGS/NLCD_RELEASES/2020_REL/NALCMS, classes 1-19).
NALCMS_LEGEND = [
    "033e00",
    "939b71",
    "196d12",
    "1fab01",
    "5b725c",
    "6b7d2c",
    "b29d29",
    "b48833",
    "e9da5d",
    "e0cd88",
    "a07451",
    "bad292",
    "3f8970",
    "6ca289",
    "e6ad6a",
    "a9abae",
    "db2126",
    "4c73a1",
    "fff7fe",
]
