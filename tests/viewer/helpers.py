"""What the viewer tests do with a page: act and wait, read the map's pixels, and the
server's own tile pixels for the same places."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from PIL import Image

TILE = 256
#: The last comparison's mismatches: (x, y, tile colour, shown colour), for messages.
MISMATCHES: list = []


def act(page, action: Callable[[], object], timeout: float = 60_000) -> dict:
    """Do ``action`` and wait until the viewer says it finished; returns its timing."""
    before = page.evaluate("leafcube.done")
    action()
    page.wait_for_function(f"leafcube.done > {before}", timeout=timeout)
    return page.evaluate("leafcube.timings.at(-1)")


def set_date(page, key: str) -> None:
    """Move the date slider to the period ``key`` as dragging it does (an input event)."""
    page.evaluate(
        """key => {
            const i = document.getElementById('date');
            i.value = String(leafcube.dates.indexOf(key));
            i.dispatchEvent(new Event('input', {bubbles: true}));
        }""",
        key,
    )


@dataclass(frozen=True)
class TilePixel:
    """One pixel of one XYZ tile, and the lon/lat of its centre."""

    z: int
    x: int
    y: int
    px: int
    py: int

    @property
    def lonlat(self) -> tuple[float, float]:
        n = TILE * 2**self.z
        gx, gy = self.x * TILE + self.px + 0.5, self.y * TILE + self.py + 0.5
        lon = gx / n * 360 - 180
        lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * gy / n))))
        return lon, lat


def tile_pixel(lon: float, lat: float, z: int) -> TilePixel:
    """The tile pixel at zoom ``z`` that holds ``lon``, ``lat`` (Web Mercator)."""
    n = TILE * 2**z
    gx = (lon + 180) / 360 * n
    s = math.sin(math.radians(lat))
    gy = (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n
    return TilePixel(z, int(gx // TILE), int(gy // TILE), int(gx % TILE), int(gy % TILE))


def aligned(lon: float, lat: float, z: int) -> list[float]:
    """A map centre near ``lon``, ``lat`` that puts the tile pixels on the screen's pixel grid
    at zoom ``z`` (the centre of a tile pixel: the map's centre is a pixel's middle here)."""
    return list(tile_pixel(lon, lat, z).lonlat)


class Tiles:
    """The server's own tiles, fetched once each, as RGBA images."""

    def __init__(self, client: httpx.Client, template: str) -> None:
        self.client, self.template, self.cache = client, template, {}

    def rgba(self, p: TilePixel) -> tuple[int, int, int, int]:
        key = (p.z, p.x, p.y)
        if key not in self.cache:
            url = self.template.replace("{z}", str(p.z)).replace("{x}", str(p.x))
            r = self.client.get(url.replace("{y}", str(p.y)))
            r.raise_for_status()
            self.cache[key] = Image.open(io.BytesIO(r.content)).convert("RGBA")
        return self.cache[key].getpixel((p.px, p.py))


def map_image(page) -> Image.Image:
    """What the map shows now, as an RGB image of the map element."""
    return Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")


def project(page, lon: float, lat: float) -> tuple[float, float]:
    """Where ``lon``, ``lat`` is on the map element, in CSS pixels."""
    p = page.evaluate("ll => leafcube.map.project(ll)", [lon, lat])
    return p["x"], p["y"]


def click_map(page, lon: float, lat: float) -> None:
    """Click the map at ``lon``, ``lat``."""
    x, y = project(page, lon, lat)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)


def compare_with_tiles(page, tiles: Tiles, z: int, step: int = 23) -> tuple[int, int]:
    """Compare the map's pixels with the server's tile pixels at the same places.

    At an integer zoom a screen pixel shows exactly one tile pixel; MapLibre snaps raster
    tiles to the screen's pixel grid, which may shift them by up to a pixel from where
    ``map.project`` puts them, the same shift for the whole map. So: sample a lattice of
    tile-pixel centres, try the shifts of -1, 0 and 1 pixel, and keep the best. Returns
    (opaque tile pixels sampled, those the map shows in the same colour, within 3 per
    channel). Places under the map's controls are left out.
    """
    shot = map_image(page)
    w, h = shot.size
    grid = [[sx, sy] for sy in range(step, h - step, step) for sx in range(step, w - step, step)]
    lls = page.evaluate("ps => ps.map(p => leafcube.map.unproject(p).toArray())", grid)
    pixels = [tile_pixel(lon, lat, z) for lon, lat in lls]
    centres = page.evaluate(
        """lls => {
            const canvas = leafcube.map.getCanvas(), box = canvas.getBoundingClientRect();
            return lls.map(ll => {
                const p = leafcube.map.project(ll);
                const top = document.elementFromPoint(box.left + p.x, box.top + p.y);
                return [p.x, p.y, top === canvas];
            });
        }""",
        [list(p.lonlat) for p in pixels],
    )
    wanted = []
    for p, (x, y, visible) in zip(pixels, centres, strict=True):
        rgba = tiles.rgba(p)
        if rgba[3] == 255 and visible and 1 <= x < w - 1 and 1 <= y < h - 1:
            wanted.append((round(x - 0.5), round(y - 0.5), rgba[:3]))

    def matches(dx: int, dy: int) -> list[bool]:
        return [
            all(abs(u - v) <= 3 for u, v in zip(shot.getpixel((x + dx, y + dy)), rgb, strict=True))
            for x, y, rgb in wanted
        ]

    shifts = {(dx, dy): matches(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
    best = max(shifts, key=lambda k: sum(shifts[k]))
    MISMATCHES[:] = [
        (x, y, rgb, shot.getpixel((x + best[0], y + best[1])))
        for (x, y, rgb), ok in zip(wanted, shifts[best], strict=True)
        if not ok
    ]
    return len(wanted), sum(shifts[best])
