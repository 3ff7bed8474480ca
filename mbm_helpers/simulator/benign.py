"""Benign traffic of one device: its services and streams turned into packets over a time span."""

from __future__ import annotations

import numpy as np

from mbm_helpers.packets import PACKET_DTYPE, PROTO_ARP, ip_to_int, mac_to_int
from mbm_helpers.simulator.profiles import DeviceProfile, Service, Stream

EPHEMERAL_LOW, EPHEMERAL_HIGH = 32768, 61000  # Linux ephemeral port range


def make_packets(
    ts: np.ndarray,
    outbound: np.ndarray,
    size: np.ndarray,
    device: DeviceProfile,
    peer_ip: int | np.ndarray,
    peer_mac: int | np.ndarray,
    device_port: int | np.ndarray,
    peer_port: int | np.ndarray,
    proto: int | np.ndarray,
) -> np.ndarray:
    """A packet table between the device and peers; ``outbound`` says who sends each packet."""
    n = len(ts)
    p = np.zeros(n, dtype=PACKET_DTYPE)
    out = np.asarray(outbound, dtype=bool)
    dev_ip, dev_mac = ip_to_int(device.ip), mac_to_int(device.mac)
    peer_ip = np.broadcast_to(np.asarray(peer_ip, dtype=np.uint32), (n,))
    peer_mac = np.broadcast_to(np.asarray(peer_mac, dtype=np.uint64), (n,))
    device_port = np.broadcast_to(np.asarray(device_port, dtype=np.uint16), (n,))
    peer_port = np.broadcast_to(np.asarray(peer_port, dtype=np.uint16), (n,))
    p["ts"] = np.round(ts, 6)  # pcap timestamps have microsecond resolution
    p["src_ip"] = np.where(out, dev_ip, peer_ip)
    p["dst_ip"] = np.where(out, peer_ip, dev_ip)
    p["src_mac"] = np.where(out, np.uint64(dev_mac), peer_mac)
    p["dst_mac"] = np.where(out, peer_mac, np.uint64(dev_mac))
    p["src_port"] = np.where(out, device_port, peer_port)
    p["dst_port"] = np.where(out, peer_port, device_port)
    p["proto"] = proto
    p["size"] = size
    if np.any(p["proto"] == PROTO_ARP):
        arp = p["proto"] == PROTO_ARP
        p["src_port"][arp] = 0
        p["dst_port"][arp] = 0
    return p


def event_times(
    rng: np.random.Generator, t0: float, t1: float, period: float, jitter: float | None
) -> np.ndarray:
    """Start times in [t0, t1): periodic with relative jitter, or Poisson when ``jitter`` is None."""
    n = int((t1 - t0) / period * 1.3) + 10
    if jitter is None:
        gaps = rng.exponential(period, n)
    else:
        gaps = period * np.clip(1.0 + jitter * rng.standard_normal(n), 0.05, None)
    times = t0 + rng.uniform(0, period) + np.cumsum(gaps) - gaps[0]
    while times[-1] < t1:  # rare: the draw ran short of the span
        times = np.concatenate([times, times[-1] + np.cumsum(gaps)])
    return times[times < t1]


def ephemeral_ports(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` successive ephemeral ports from a random start, as a Linux stack hands them out."""
    start = rng.integers(EPHEMERAL_LOW, EPHEMERAL_HIGH)
    return (EPHEMERAL_LOW + (start - EPHEMERAL_LOW + np.arange(n)) % (EPHEMERAL_HIGH - EPHEMERAL_LOW)).astype(
        np.uint16
    )


def service_packets(
    rng: np.random.Generator, device: DeviceProfile, service: Service, t0: float, t1: float
) -> np.ndarray:
    """Every exchange of one service in [t0, t1)."""
    starts = event_times(rng, t0, t1, service.period, service.jitter)
    servers = (service.server_ip, *service.also)
    e, k, m = len(starts), len(service.steps), len(servers)
    if e == 0:
        return np.zeros(0, dtype=PACKET_DTYPE)
    # one row per (exchange, server): the servers are served one after another, 0.4-0.8 ms apart
    starts = (starts[:, None] + np.arange(m) * rng.uniform(0.0004, 0.0008, (e, m))).ravel()
    server = np.tile(np.array([ip_to_int(ip) for ip in servers], dtype=np.uint32), e)
    rtt = service.rtt * rng.uniform(0.8, 1.3, (e * m, k))
    delay = np.array([s.delay for s in service.steps]) + np.array([s.rtt for s in service.steps]) * rtt
    delay[:, 0] = 0.0
    ts = starts[:, None] + np.cumsum(delay, axis=1)
    lo = np.array([s.size[0] for s in service.steps])
    hi = np.array([s.size[1] for s in service.steps])
    size = rng.integers(lo, hi + 1, (e * m, k))
    outbound = np.broadcast_to(np.array([s.outbound for s in service.steps]), (e * m, k))
    if service.persistent:
        port = np.full((e * m, k), rng.integers(EPHEMERAL_LOW, EPHEMERAL_HIGH), dtype=np.uint16)
    else:
        port = np.repeat(np.repeat(ephemeral_ports(rng, e), m)[:, None], k, axis=1)
    seen = outbound | (rng.random((e * m, k)) < service.reply_prob)
    return make_packets(
        ts[seen],
        outbound[seen],
        size[seen],
        device,
        np.repeat(server[:, None], k, axis=1)[seen],
        mac_to_int(service.server_mac),
        port[seen],
        service.server_port,
        service.proto,
    )


def _sessions(rng: np.random.Generator, stream: Stream, t0: float, t1: float) -> list[tuple[float, float]]:
    if stream.on_mean <= 0:
        return [(t0, t1)]
    spans, t = [], t0 - rng.uniform(0, stream.on_mean + stream.off_mean)
    on = rng.random() < stream.on_mean / (stream.on_mean + stream.off_mean)
    while t < t1:
        length = rng.exponential(stream.on_mean if on else stream.off_mean)
        if on and t + length > t0:
            spans.append((max(t, t0), min(t + length, t1)))
        t += length
        on = not on
    return spans


def stream_packets(
    rng: np.random.Generator, device: DeviceProfile, stream: Stream, t0: float, t1: float
) -> np.ndarray:
    """The stream's data packets and the peer's acknowledgements or reports in [t0, t1)."""
    parts = []
    peer_ip, peer_mac = ip_to_int(stream.peer_ip), mac_to_int(stream.peer_mac)
    payload_max = stream.max_frame - stream.header
    for a, b in _sessions(rng, stream, t0, t1):
        frames = np.arange(a, b, 1.0 / stream.fps)
        frames = frames + rng.normal(0, 0.002, len(frames))
        nbytes = stream.frame_bytes * rng.lognormal(
            -0.5 * stream.frame_spread**2, stream.frame_spread, len(frames)
        )
        if stream.gop:
            nbytes[rng.integers(stream.gop) :: stream.gop] *= stream.key_factor
        npk = np.maximum(1, np.ceil(nbytes / payload_max)).astype(np.int64)
        idx = np.repeat(np.arange(len(frames)), npk)
        within = np.arange(len(idx)) - np.repeat(np.cumsum(npk) - npk, npk)
        last = within == npk[idx] - 1
        size = np.where(last, stream.header + nbytes[idx] - (npk[idx] - 1) * payload_max, stream.max_frame)
        size = np.clip(np.round(size), 60, stream.max_frame).astype(np.int64)
        ts = frames[idx] + within * rng.uniform(0.0003, 0.0009, len(idx))
        parts.append(
            make_packets(
                ts,
                np.ones(len(ts), bool),
                size,
                device,
                peer_ip,
                peer_mac,
                stream.device_port,
                stream.peer_port,
                stream.proto,
            )
        )
        if stream.ack_every:
            acks = ts[stream.ack_every - 1 :: stream.ack_every] + rng.uniform(
                0.0005, 0.004, len(ts) // stream.ack_every
            )
            parts.append(
                make_packets(
                    acks,
                    np.zeros(len(acks), bool),
                    np.full(len(acks), stream.ack_size),
                    device,
                    peer_ip,
                    peer_mac,
                    stream.device_port,
                    stream.peer_port,
                    stream.proto,
                )
            )
        if stream.report_period:
            rep = np.arange(a + rng.uniform(0, stream.report_period), b, stream.report_period)
            rep = rep + rng.normal(0, 0.05, len(rep))
            parts.append(
                make_packets(
                    rep,
                    np.zeros(len(rep), bool),
                    np.full(len(rep), stream.report_size),
                    device,
                    peer_ip,
                    peer_mac,
                    stream.device_port + 1,
                    stream.peer_port + 1,
                    stream.proto,
                )
            )
    return np.concatenate(parts) if parts else np.zeros(0, dtype=PACKET_DTYPE)


def benign_packets(rng: np.random.Generator, device: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """All benign packets of a device in [t0, t1), unsorted."""
    parts = [service_packets(rng, device, s, t0, t1) for s in device.services]
    parts += [stream_packets(rng, device, s, t0, t1) for s in device.streams]
    return np.concatenate(parts)


def expected_rate(device: DeviceProfile) -> float:
    """Rough benign packets per second (to size the simulated span)."""
    rate = sum(len(s.steps) / s.period for s in device.services)
    for s in device.streams:
        duty = 1.0 if s.on_mean <= 0 else s.on_mean / (s.on_mean + s.off_mean)
        per_frame = max(1.0, s.frame_bytes / (s.max_frame - s.header))
        data = s.fps * per_frame
        rate += duty * (data * (1 + (1 / s.ack_every if s.ack_every else 0)))
    return rate
