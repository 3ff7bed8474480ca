"""AfterImage feature extraction speed, numba JIT cost, and pcap I/O speed.

Each measurement runs in a fresh Python process pinned to one CPU core:

- JIT compile time: the first ``extract_features`` call with an empty numba cache folder, minus
  the same call once compiled; and the first call in a new process that loads the cached machine code.
- Steady-state throughput (packets/s) of ``extract_features`` on IoT-like traffic (a few devices
  talking to a few servers, mixed with a scan that opens a new socket on almost every packet), best
  of three runs after a warm-up call; the NumPy stream-id mapping is timed on its own too.
- ``write_pcap`` and ``read_pcap`` (dpkt, pure Python) packets/s.

Target (issue 3): >= 50,000 packets/s on one core. ``--quick`` uses 1/10 of the packets.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

try:  # run as a script or imported by run_all
    from benchmarks._measure import measure
except ImportError:  # pragma: no cover
    from _measure import measure

_TRAFFIC = """
import os
import numpy as np
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
from mbm_helpers.packets import empty_packets, PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ARP

def traffic(n, seed=0):
    rng = np.random.default_rng(seed)
    p = empty_packets(n)
    p["ts"] = 1_526_000_000.0 + np.cumsum(rng.exponential(0.002, n))
    dev = rng.integers(0, 9, n)
    scan = rng.random(n) < 0.5
    peer = np.where(scan, rng.integers(0, 2**32, n), 0x08080800 + rng.integers(0, 20, n))
    out = rng.random(n) < 0.6
    p["src_ip"] = np.where(out, 0xC0A80100 + dev, peer)
    p["dst_ip"] = np.where(out, peer, 0xC0A80100 + dev)
    p["src_mac"] = np.where(out, 0x3C4937000000 + dev, 0x001122334455)
    p["dst_mac"] = np.where(out, 0x001122334455, 0x3C4937000000 + dev)
    p["proto"] = rng.choice([PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ARP], n, p=[0.6, 0.3, 0.05, 0.05])
    ports = np.isin(p["proto"], [PROTO_TCP, PROTO_UDP])
    p["src_port"][ports] = np.where(scan, rng.integers(1024, 65536, n), 40000 + dev)[ports]
    p["dst_port"][ports] = np.where(scan, 23, rng.choice([53, 80, 443, 8883], n))[ports]
    p["size"] = rng.integers(60, 1514, n)
    return p
"""

_JIT = """
from mbm_helpers.afterimage import extract_features
small = traffic(1000)
t0 = time.perf_counter(); extract_features(small); first = time.perf_counter() - t0
t0 = time.perf_counter(); extract_features(small); again = time.perf_counter() - t0
extra = {"first_call_s": first, "compiled_call_s": again}
"""

_STEADY = """
from mbm_helpers.afterimage import extract_features, _stream_ids
packets = traffic(N)
extract_features(packets[:1000])
runs, id_runs = [], []
for _ in range(3):
    t0 = time.perf_counter(); extract_features(packets); runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); ids, counts = _stream_ids(packets); id_runs.append(time.perf_counter() - t0)
extra = {"packets": N, "best_s": min(runs), "packets_per_s": N / min(runs),
         "stream_ids_s": min(id_runs), "streams": {k: int(v) for k, v in counts.items()}}
"""

_PCAP = """
import tempfile, pathlib
from mbm_helpers.pcap import read_pcap, write_pcap
packets = traffic(N)
path = pathlib.Path(tempfile.mkdtemp()) / "bench.pcap"
t0 = time.perf_counter(); write_pcap(path, packets); write_s = time.perf_counter() - t0
t0 = time.perf_counter(); back = read_pcap(path); read_s = time.perf_counter() - t0
assert len(back) == N
extra = {"packets": N, "write_packets_per_s": N / write_s, "read_packets_per_s": N / read_s,
         "file_mb": path.stat().st_size / 1e6}
path.unlink()
"""


def _run(body: str, n: int = 0, **env: str) -> dict:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return measure(body, setup=_TRAFFIC + f"\nN = {n}\n")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(quick: bool = False) -> dict:
    """Measure; returns (and prints) the numbers."""
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as cache:
        cold = _run(_JIT, NUMBA_CACHE_DIR=cache)
        warm = _run(_JIT, NUMBA_CACHE_DIR=cache)
    steady = _run(_STEADY, n)
    pcap = _run(_PCAP, n // 20)
    results = {
        "jit_compile_s": round(cold["first_call_s"] - cold["compiled_call_s"], 2),
        "first_call_with_disk_cache_s": round(warm["first_call_s"], 3),
        "packets": steady["packets"],
        "packets_per_s_one_core": round(steady["packets_per_s"]),
        "extract_s": round(steady["best_s"], 3),
        "of_which_stream_ids_s": round(steady["stream_ids_s"], 3),
        "streams": steady["streams"],
        "peak_rss_gb": round(steady["peak_rss_gb"], 2),
        "target_packets_per_s": 50_000,
        "meets_target": steady["packets_per_s"] >= 50_000,
        "pcap_packets": pcap["packets"],
        "write_pcap_packets_per_s": round(pcap["write_packets_per_s"]),
        "read_pcap_packets_per_s": round(pcap["read_packets_per_s"]),
    }
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1/10 of the packets")
    run(parser.parse_args().quick)
