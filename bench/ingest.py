"""Benchmark: GH Archive hour files → raw.github_events, against the floor of just reading them.

    python bench/ingest.py [--hours 24] [--events-per-hour 150000] [--dir DIR]

Generates (once; reused when present) hour files of realistic size, then in the same run:

1. the floor: decompress and split every file into lines (one thread, no parsing), with the
   fastest gzip inflate there is here, ISA-L's (python-isal, which the loader uses too), and
   for comparison with zlib's, as issue 4 first measured it;
2. the loader: ``load_gharchive`` into a real catalog server (REST, file:// warehouse), in a
   child process so that its peak memory (RSS) is measured alone;
3. the payload column two ways on one file, per line in Python: orjson parse + re-serialize
   (what the loader's precise path does for the lines its fast path leaves) against slicing
   the payload's raw text out of the line (which the fast path gets from msgspec, in bulk).

Prints events/s of each, the ratio (target: loader ≥ 50 % of the ISA-L floor) and the peak
RSS (target: < 1 GB), and the CPU seconds of the floors and the loader: on a shared machine
the wall-clock ratio depends on the other load, the CPU seconds show the work itself.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

START = datetime(2025, 9, 2, tzinfo=UTC)  # a Tuesday

LOADER = """
import json, resource, sys, time
from datetime import datetime
from pyiceberg.catalog import load_catalog
from ingestion.pipelines import load_gharchive
props, start, end, source = json.loads(sys.argv[1])
began = time.perf_counter()
catalog = load_catalog("bench", **props)
summary = load_gharchive(catalog, datetime.fromisoformat(start), datetime.fromisoformat(end), source)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rows": summary.rows, "rejects": summary.rejects, "seconds": time.perf_counter() - began,
                  "units": summary.units_loaded, "peak_rss": usage.ru_maxrss * 1024,
                  "cpu": usage.ru_utime + usage.ru_stime}))
"""


def ensure_files(directory: Path, hours: int, events_per_hour: int) -> list[Path]:
    """The benchmark's hour files, generated when absent."""
    from ingestion.synthetic import write_bulk_hours

    marker = directory / "SPEC.json"
    spec = {"hours": hours, "events_per_hour": events_per_hour, "start": START.isoformat(), "seed": 42}
    if not marker.exists() or json.loads(marker.read_text()) != spec:
        began = time.perf_counter()
        write_bulk_hours(directory, START, hours, events_per_hour, seed=42)
        marker.write_text(json.dumps(spec))
        print(f"generated {hours} hour files in {time.perf_counter() - began:.1f}s")
    return [
        directory / f"{START + timedelta(hours=h):%Y-%m-%d}-{(START + timedelta(hours=h)).hour}.json.gz"
        for h in range(hours)
    ]


def decompress_and_split(files: list[Path]) -> tuple[int, float, float]:
    """The floor: lines of every file, inflated by ISA-L in 1 MiB pieces and split (count, seconds, CPU seconds)."""
    from isal import igzip

    began, cpu = time.perf_counter(), time.process_time()
    lines = 0
    for path in files:
        rest = b""
        with igzip.open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                parts = chunk.split(b"\n")
                parts[0] = rest + parts[0]
                rest = parts.pop()
                lines += len(parts)
        lines += bool(rest)
    return lines, time.perf_counter() - began, time.process_time() - cpu


def decompress_and_split_zlib(files: list[Path]) -> tuple[int, float, float]:
    """Issue 4's first floor: the same with zlib, in 1 MiB reads of the compressed file (count, seconds, CPU)."""
    began, cpu = time.perf_counter(), time.process_time()
    lines = 0
    for path in files:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        rest = b""
        with open(path, "rb") as stream:
            while chunk := stream.read(1 << 20):
                parts = (rest + decompressor.decompress(chunk)).split(b"\n")
                rest = parts.pop()
                lines += len(parts)
        lines += bool(rest)
    return lines, time.perf_counter() - began, time.process_time() - cpu


def payload_two_ways(path: Path, limit: int = 100_000) -> tuple[float, float]:
    """Seconds per event of the payload column: parse + re-serialize, and raw-text slicing."""
    import gzip

    import orjson

    lines = gzip.decompress(path.read_bytes()).split(b"\n")[:limit]
    began = time.perf_counter()
    for line in lines:
        orjson.dumps(orjson.loads(line)["payload"])
    reserialize = (time.perf_counter() - began) / len(lines)
    began = time.perf_counter()
    for line in lines:
        # Only valid for GH Archive's key order; still needs a full parse to validate the rest.
        orjson.loads(line)
        start = line.find(b'"payload":') + 10
        line[start : line.rfind(b',"public":')]
    raw_slice = (time.perf_counter() - began) / len(lines)
    return reserialize, raw_slice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--events-per-hour", type=int, default=150_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "commonlake-bench-gharchive")
    args = parser.parse_args()

    from commonlake.servers import ServerProcess, free_port
    from commonlake.settings import Settings

    files = ensure_files(args.dir, args.hours, args.events_per_hour)
    compressed = sum(p.stat().st_size for p in files)
    lines, floor_seconds, floor_cpu = decompress_and_split(files)
    zlib_lines, zlib_seconds, zlib_cpu = decompress_and_split_zlib(files)
    assert zlib_lines == lines, (zlib_lines, lines)

    with tempfile.TemporaryDirectory(prefix="commonlake-bench-") as work:
        settings = Settings(data_dir=Path(work)).with_updates(catalog={"host": "127.0.0.1", "port": free_port()})
        server = ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, Path(work) / "catalog.log")
        with server:
            end = START + timedelta(hours=args.hours - 1)
            payload = [settings.rest_catalog_properties(), START.isoformat(), end.isoformat(), str(args.dir)]
            done = subprocess.run(
                [sys.executable, "-c", LOADER, json.dumps(payload)], capture_output=True, text=True, cwd=ROOT
            )
            if done.returncode != 0:
                raise SystemExit(done.stderr)
            loaded = json.loads(done.stdout.strip().splitlines()[-1])
        warehouse_bytes = sum(p.stat().st_size for p in (Path(work) / "warehouse").rglob("*.parquet"))
    reserialize, raw_slice = payload_two_ways(files[len(files) // 2])

    floor_rate, zlib_rate = lines / floor_seconds, lines / zlib_seconds
    load_rate = loaded["rows"] / loaded["seconds"]
    ratio = load_rate / floor_rate
    peak_mb = loaded["peak_rss"] / 1024**2
    table = Table(
        title=f"GH Archive ingest: {len(files)} hour files, {lines:,} events, {compressed / 1e6:,.0f} MB gzip"
    )
    for column in ("measure", "seconds", "events/s", "note"):
        table.add_column(column, justify="left" if column in ("measure", "note") else "right")
    floor_note = f"1 thread, ISA-L inflate, {floor_cpu:.1f} s CPU"
    table.add_row("decompress + split lines (floor)", f"{floor_seconds:.1f}", f"{floor_rate:,.0f}", floor_note)
    zlib_note = f"1 thread, zlib inflate (issue 4's first floor), {zlib_cpu:.1f} s CPU"
    table.add_row("decompress + split lines, zlib", f"{zlib_seconds:.1f}", f"{zlib_rate:,.0f}", zlib_note)
    table.add_row(
        "load_gharchive → Iceberg (REST)",
        f"{loaded['seconds']:.1f}",
        f"{load_rate:,.0f}",
        f"{loaded['units']} units, {loaded['rows']:,} rows, {loaded['rejects']} rejects, "
        f"{warehouse_bytes / 1e6:,.0f} MB Parquet, {loaded['cpu']:.1f} s CPU",
    )
    table.add_row("loader / floor", "", f"{ratio:.0%}", "target ≥ 50%: " + ("met" if ratio >= 0.5 else "MISSED"))
    table.add_row("loader / zlib floor", "", f"{load_rate / zlib_rate:.0%}", "for comparison with issue 4's figures")
    cpu_ratio = floor_cpu / loaded["cpu"]
    table.add_row("floor CPU / loader CPU", "", f"{cpu_ratio:.0%}", "the work alone, whatever the machine's load")
    table.add_row(
        "loader peak RSS", "", f"{peak_mb:,.0f} MB", "target < 1024 MB: " + ("met" if peak_mb < 1024 else "MISSED")
    )
    table.add_row("payload: parse + re-serialize", "", f"{1 / reserialize:,.0f}", f"{reserialize * 1e6:.2f} µs/event")
    table.add_row("payload: parse + raw slice", "", f"{1 / raw_slice:,.0f}", f"{raw_slice * 1e6:.2f} µs/event")
    Console().print(table)
    print(f"machine load average while measuring: {', '.join(f'{x:.1f}' for x in __import__('os').getloadavg())}")
    print(f"benchmark process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
