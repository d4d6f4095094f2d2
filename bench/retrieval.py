"""Retrieval throughput: pixels/s per core for all eight SL2P nets plus QC on 512 x 512 blocks.

Runs single-threaded (BLAS/OpenMP pinned to one thread) and times each block by the
process's CPU time (fair on a shared machine; wall-clock is printed too). Compares, in one run:
leafcube's stacked float32 engine (estimates + uncertainties + QC + uint8 encoding), the
same engine in float64, the forward pass alone, and a per-net float64 loop (each net
applied on its own, the way a straightforward SL2P port does it). Prints a Markdown table.

    python bench/retrieval.py [--blocks 20] [--size 512]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from leafcube.retrieval import Engine, load_shipped  # noqa: E402


def make_block(netset, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A block of S2 inputs spread over the nets' training domain, and a 5 % invalid mask."""
    lo, hi = netset.domain.band_min, netset.domain.band_max
    bands = rng.uniform(lo[:, None, None], hi[:, None, None], (len(lo), size, size))
    angles = [
        rng.uniform(0.985, 1.0, (size, size)),
        rng.uniform(0.3, 0.85, (size, size)),
        rng.uniform(-1.0, 1.0, (size, size)),
    ]
    block = np.concatenate([np.stack(angles), bands]).astype(np.float32)
    return block, rng.random((size, size)) < 0.05


def per_net_loop(netset, block: np.ndarray) -> dict[str, np.ndarray]:
    """Every net on its own in float64 (the reference forward pass, one net at a time)."""
    out = {}
    for product in netset.products:
        out[product] = netset.estimates[product].forward(block)
        out[f"error{product}"] = netset.errors[product].forward(block)
    return out


def timed(fn, blocks) -> tuple[float, float]:
    """Median CPU seconds and wall seconds per block (CPU time: fair on a busy machine)."""
    cpu, wall = [], []
    for block, invalid in blocks:
        start_cpu, start_wall = time.process_time(), time.perf_counter()
        fn(block, invalid)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--sensor", default="S2")
    args = parser.parse_args()

    netset = load_shipped(args.sensor)
    rng = np.random.default_rng(0)
    blocks = [make_block(netset, args.size, rng) for _ in range(args.blocks)]
    fast, exact = Engine(netset), Engine(netset, np.float64)
    fast.retrieve(*blocks[0])  # warm-up
    peers = {
        "engine float32: 8 nets + QC + uint8": lambda b, m: fast.retrieve(b, invalid=m),
        "engine float64: 8 nets + QC + uint8": lambda b, m: exact.retrieve(b, invalid=m),
        "engine float32: 8 nets forward only": lambda b, m: fast.run(b),
        "per-net float64 loop: 8 nets, no QC": lambda b, m: per_net_loop(netset, b),
    }
    pixels = args.size * args.size
    results = {name: timed(fn, blocks) for name, fn in peers.items()}
    baseline = results["per-net float64 loop: 8 nets, no QC"][0]
    print(
        f"{len(netset.estimates) + len(netset.errors)} nets, {args.blocks} blocks of "
        f"{args.size} x {args.size}, 1 thread, numpy {np.__version__}, "
        f"{platform.machine()}, load average {os.getloadavg()[0]:.1f}"
    )
    print("| peer | pixels/s per core (CPU time) | wall-clock pixels/s | vs per-net loop |")
    print("|---|---:|---:|---:|")
    for name, (cpu, wall) in results.items():
        print(
            f"| {name} | {pixels / cpu / 1e6:.2f} M | {pixels / wall / 1e6:.2f} M"
            f" | {baseline / cpu:.1f}x |"
        )
    rate = pixels / results["engine float32: 8 nets + QC + uint8"][0]
    print(f"\n45,000 x 45,000 tile on 48 cores at this rate: {45_000**2 / rate / 48:.0f} s")


if __name__ == "__main__":
    main()
