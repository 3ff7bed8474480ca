"""The ten N-BaIoT attacks as the infected device emits them, plus the botnets' C&C traffic.

Packet shapes follow the public source code of the two botnets:

- Mirai ``scan``: raw TCP SYNs without options (60-byte frames) from one fixed source port to
  random public IPv4 addresses, port 23 (nine in ten) or 2323; a few targets answer with RST, a
  rare one with SYN-ACK, which Mirai follows with a telnet login attempt on a real connection.
- Mirai floods with the default options: ``ack`` (ACK with 512 random payload bytes, 566-byte
  frames), ``syn`` (SYN with options, 74 bytes), ``udp`` (raw UDP, 512 bytes of payload, 554 bytes),
  each with random source and destination ports per packet; ``udpplain`` (a plain UDP socket,
  one fixed port pair, 554 bytes, the fastest of all).
- BASHLITE ``scan``: ``connect()`` to random addresses on port 23 through the kernel (74-byte SYNs
  from successive ephemeral ports, retransmitted after 3, 9 and 21 s until the scanner gives up).
- BASHLITE ``junk``: several TCP connections to the victim, each writing random strings
  (1,090-byte segments) that the victim acknowledges; ``udp``: raw UDP with 1,024-byte payloads and
  random ports; ``tcp``: raw TCP segments with every flag set and no payload (60-byte frames) from
  random source ports; ``combo``: junk writes plus a stream of fresh connection openings.

Flood rates scale with the device's ``power`` (CPU and uplink); scan rates are per device.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mbm_helpers.packets import PACKET_DTYPE, PROTO_ICMP, PROTO_TCP, PROTO_UDP, ip_to_int, mac_to_int
from mbm_helpers.simulator.benign import ephemeral_ports, event_times, make_packets, service_packets
from mbm_helpers.simulator.profiles import (
    GATEWAY_MAC,
    TCP_ACK,
    TCP_SYN,
    DeviceProfile,
    Service,
    Step,
    request_response,
)

#: MAC of the lab server the floods target.
TARGET_MAC = "00:25:90:4e:a1:c8"

#: Flood packets per second of a device with ``power`` 1.
FLOOD_PPS = {
    "mirai_ack": 450.0,
    "mirai_syn": 700.0,
    "mirai_udp": 500.0,
    "mirai_udpplain": 800.0,
    "gafgyt_junk": 260.0,
    "gafgyt_udp": 400.0,
    "gafgyt_tcp": 650.0,
    "gafgyt_combo": 320.0,
}

# First octets Mirai's scanner never picks (loopback, private, multicast, some large allocations).
_SKIP_FIRST_OCTET = np.zeros(256, dtype=bool)
_SKIP_FIRST_OCTET[[0, 3, 6, 7, 10, 11, 15, 16, 21, 22, 26, 28, 29, 30, 33, 55, 56, 127, 214, 215]] = True
_SKIP_FIRST_OCTET[224:] = True


def random_public_ips(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` random IPv4 addresses outside the ranges the scanners skip (as integers)."""
    ips = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
    bad = _SKIP_FIRST_OCTET[ips >> 24] | ((ips >> 16) == 0xC0A8) | ((ips >> 20) == 0xAC1)
    while bad.any():
        ips[bad] = rng.integers(0, 2**32, int(bad.sum()), dtype=np.uint64).astype(np.uint32)
        bad = _SKIP_FIRST_OCTET[ips >> 24] | ((ips >> 16) == 0xC0A8) | ((ips >> 20) == 0xAC1)
    return ips


def _times(rng: np.random.Generator, t0: float, t1: float, pps: float) -> np.ndarray:
    """Send times of a tight loop: exponential gaps around ``1 / pps``."""
    n = rng.poisson(pps * (t1 - t0))
    return np.sort(rng.uniform(t0, t1, n))


def _ports(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(1, 65536, n).astype(np.uint16)


def _telnet_sessions(
    rng: np.random.Generator, dev: DeviceProfile, starts: np.ndarray, ips: np.ndarray, command: int = 95
) -> np.ndarray:
    """A telnet login attempt per responding target: connect, banner, user, password, one shell
    command of ``command`` bytes (BASHLITE's long download-and-run line), close."""
    k = 14
    out = np.array([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], dtype=bool)
    sizes = np.array([TCP_SYN, TCP_SYN, TCP_ACK, 78, 72, 79, 73, 71, 80, 72, command, 95, TCP_ACK, TCP_ACK])
    gaps = rng.uniform(0.05, 0.6, (len(starts), k))
    gaps[:, 0] = 0.0
    ts = starts[:, None] + np.cumsum(gaps, axis=1)
    ports = np.repeat(ephemeral_ports(rng, len(starts))[:, None], k, axis=1)
    return make_packets(
        ts.ravel(),
        np.tile(out, len(starts)),
        np.tile(sizes, len(starts)),
        dev,
        np.repeat(ips, k),
        mac_to_int(GATEWAY_MAC),
        ports.ravel(),
        23,
        PROTO_TCP,
    )


def _responses(
    rng: np.random.Generator, dev: DeviceProfile, sent: np.ndarray, p: float, size: int, proto: int
) -> np.ndarray:
    """Replies (RST, ICMP unreachable) from a fraction ``p`` of the probed or flooded hosts."""
    pick = sent[rng.random(len(sent)) < p]
    if not len(pick):
        return np.zeros(0, dtype=PACKET_DTYPE)
    r = make_packets(
        pick["ts"] + rng.uniform(0.0005, 0.25, len(pick)),
        np.zeros(len(pick), bool),
        np.full(len(pick), size),
        dev,
        pick["dst_ip"],
        pick["dst_mac"],
        pick["src_port"],
        pick["dst_port"],
        proto,
    )
    if proto == PROTO_ICMP:
        r["src_port"] = 0
        r["dst_port"] = 0
    return r


def _bursts(rng: np.random.Generator, t0: float, t1: float, interval: float) -> np.ndarray:
    """Start times of scanner loop iterations, about ``interval`` s apart (from 30 s before ``t0``)."""
    return event_times(rng, t0 - 30.0, t1, interval, 0.1)


def mirai_scan(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Raw SYNs to random addresses on port 23/2323 from one source port, 160 per loop iteration
    (about once a second, each burst over ~0.15 s); rare RSTs and telnet logins back."""
    batch = 160
    loops = _bursts(rng, t0, t1, batch / dev.mirai_scan_pps)
    ts = (loops[:, None] + np.sort(rng.uniform(0, 0.15, (len(loops), batch)), axis=1)).ravel()
    ts = ts[(ts >= t0) & (ts < t1)]
    ips = random_public_ips(rng, len(ts))
    dport = np.where(rng.random(len(ts)) < 0.9, 23, 2323)
    syn = make_packets(
        ts, np.ones(len(ts), bool), np.full(len(ts), 60), dev, ips, mac_to_int(GATEWAY_MAC),
        rng.integers(1024, 65536), dport, PROTO_TCP,
    )  # fmt: skip
    rst = _responses(rng, dev, syn, 0.005, 60, PROTO_TCP)
    hit = rng.random(len(ts)) < 0.0002
    telnet = _telnet_sessions(rng, dev, ts[hit] + 0.3, ips[hit])
    return np.concatenate([syn, rst, telnet])


#: How many SYNs a BASHLITE scanner socket sends before it gives up (1 to 4), and when.
GAFGYT_SYN_TRIES = np.array([0.05, 0.55, 0.3, 0.1])
GAFGYT_SYN_OFFSETS = np.array([0.0, 3.0, 9.0, 21.0])  # initial RTO 3 s, doubling


def gafgyt_scan(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Kernel ``connect()``s to random addresses on port 23, opened in batches about once a second,
    with SYN retransmissions at 3, 9, 21 s; about 1% of targets answer and get a telnet login and
    the long download-and-run command."""
    per_target = float(np.dot(GAFGYT_SYN_TRIES, np.arange(1, 5)))
    loops = _bursts(rng, t0, t1, 1.0)
    per_loop = rng.poisson(dev.gafgyt_scan_pps / per_target, len(loops))
    starts = np.repeat(loops, per_loop) + rng.uniform(0, 0.1, int(per_loop.sum()))
    tries = rng.choice(4, p=GAFGYT_SYN_TRIES, size=len(starts)) + 1
    ips = random_public_ips(rng, len(starts))
    ports = ephemeral_ports(rng, len(starts))
    idx = np.repeat(np.arange(len(starts)), tries)
    nth = np.arange(len(idx)) - np.repeat(np.cumsum(tries) - tries, tries)
    ts = starts[idx] + GAFGYT_SYN_OFFSETS[nth] + rng.uniform(0, 0.002, len(idx))
    keep = (ts >= t0) & (ts < t1)
    n = int(keep.sum())
    syn = make_packets(
        ts[keep], np.ones(n, bool), np.full(n, TCP_SYN), dev, ips[idx][keep], mac_to_int(GATEWAY_MAC),
        ports[idx][keep], 23, PROTO_TCP,
    )  # fmt: skip
    rst = _responses(rng, dev, syn, 0.01, 60, PROTO_TCP)
    hit = (rng.random(len(starts)) < 0.01) & (starts >= t0)
    telnet = _telnet_sessions(rng, dev, starts[hit] + 0.2, ips[hit], command=int(rng.integers(600, 800)))
    return np.concatenate([syn, rst, telnet])


def _raw_flood(
    rng: np.random.Generator,
    dev: DeviceProfile,
    t0: float,
    t1: float,
    pps: float,
    size: int,
    proto: int,
    *,
    fixed_ports: bool = False,
    dport: int | None = None,
) -> np.ndarray:
    ts = _times(rng, t0, t1, pps)
    n = len(ts)
    if fixed_ports:
        sport, dp = rng.integers(1024, 65536), rng.integers(1, 65536)
    else:
        sport, dp = _ports(rng, n), (_ports(rng, n) if dport is None else dport)
    return make_packets(
        ts,
        np.ones(n, bool),
        np.full(n, size),
        dev,
        ip_to_int(dev.target_ip),
        mac_to_int(TARGET_MAC),
        sport,
        dp,
        proto,
    )


def mirai_ack(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """ACK flood, 512-byte random payload, random ports; the victim answers some with RST."""
    sent = _raw_flood(rng, dev, t0, t1, FLOOD_PPS["mirai_ack"] * dev.power, 566, PROTO_TCP)
    return np.concatenate([sent, _responses(rng, dev, sent, 0.15, 60, PROTO_TCP)])


def mirai_syn(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """SYN flood with TCP options, random ports; the victim answers closed ports with RST."""
    sent = _raw_flood(rng, dev, t0, t1, FLOOD_PPS["mirai_syn"] * dev.power, TCP_SYN, PROTO_TCP)
    return np.concatenate([sent, _responses(rng, dev, sent, 0.3, 60, PROTO_TCP)])


def mirai_udp(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Raw UDP flood, 512-byte payload, random ports; rate-limited ICMP port unreachable back."""
    sent = _raw_flood(rng, dev, t0, t1, FLOOD_PPS["mirai_udp"] * dev.power, 554, PROTO_UDP)
    return np.concatenate([sent, _responses(rng, dev, sent, 0.02, 590, PROTO_ICMP)])


def mirai_udpplain(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """UDP flood through an ordinary socket: one port pair, 512-byte payload."""
    sent = _raw_flood(
        rng, dev, t0, t1, FLOOD_PPS["mirai_udpplain"] * dev.power, 554, PROTO_UDP, fixed_ports=True
    )
    return np.concatenate([sent, _responses(rng, dev, sent, 0.002, 590, PROTO_ICMP)])


def _junk_connections(
    rng: np.random.Generator,
    dev: DeviceProfile,
    t0: float,
    t1: float,
    pps: float,
    lifetime: float,
    dport: int,
) -> np.ndarray:
    """Eight sockets writing junk segments to the victim, each reconnecting after ~``lifetime`` s.

    Every connection opens with a handshake and ends with a FIN exchange; the victim ACKs every
    second data segment.
    """
    target, tmac = ip_to_int(dev.target_ip), mac_to_int(TARGET_MAC)
    data_ts = _times(rng, t0, t1, pps)
    slot = rng.integers(0, 8, len(data_ts))
    data_port = np.zeros(len(data_ts), dtype=np.uint16)
    ctl_ts, ctl_out, ctl_size, ctl_port = [], [], [], []
    # handshake (SYN, SYN-ACK, ACK) then, at the end, FIN, ACK, FIN, ACK
    offsets = np.array([0.0, 0.0004, 0.0008])
    fin_offsets = np.array([0.0, 0.0004, 0.0006, 0.0010])
    for s in range(8):
        n = int((t1 - t0) / lifetime * 2) + 4
        life = rng.exponential(lifetime, n) + 0.002
        starts = t0 - rng.uniform(0, lifetime) + np.concatenate([[0.0], np.cumsum(life)[:-1]])
        while starts[-1] + life[-1] < t1:  # the draw ran short of the span
            more = rng.exponential(lifetime, n) + 0.002
            starts = np.concatenate(
                [starts, starts[-1] + life[-1] + np.concatenate([[0.0], np.cumsum(more)[:-1]])]
            )
            life = np.concatenate([life, more])
        ports = ephemeral_ports(rng, len(starts))
        mine = slot == s
        conn = np.searchsorted(starts, data_ts[mine], side="right") - 1
        data_port[mine] = ports[conn]
        ctl_ts += [(starts[:, None] + offsets).ravel(), (starts + life)[:, None] + fin_offsets]
        ctl_out += [
            np.tile([True, False, True], len(starts)),
            np.tile([True, False, False, True], len(starts)),
        ]
        ctl_size += [np.tile([TCP_SYN, TCP_SYN, TCP_ACK], len(starts)), np.full(4 * len(starts), TCP_ACK)]
        ctl_port += [np.repeat(ports, 3), np.repeat(ports, 4)]
    ctl = make_packets(
        np.concatenate([np.ravel(x) for x in ctl_ts]),
        np.concatenate(ctl_out),
        np.concatenate(ctl_size),
        dev,
        target,
        tmac,
        np.concatenate(ctl_port),
        dport,
        PROTO_TCP,
    )
    size = np.where(rng.random(len(data_ts)) < 0.85, 1090, rng.integers(120, 1090, len(data_ts)))
    data = make_packets(
        data_ts, np.ones(len(data_ts), bool), size, dev, target, tmac, data_port, dport, PROTO_TCP
    )
    sel = data[1::2]
    acks = make_packets(
        sel["ts"] + rng.uniform(0.0002, 0.002, len(sel)),
        np.zeros(len(sel), bool),
        np.full(len(sel), TCP_ACK),
        dev,
        target,
        tmac,
        sel["src_port"],
        dport,
        PROTO_TCP,
    )
    packets = np.concatenate([ctl, data, acks])
    return packets[(packets["ts"] >= t0) & (packets["ts"] < t1)]


def gafgyt_junk(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Random strings written over eight long-lived TCP connections to the victim's port 80."""
    return _junk_connections(rng, dev, t0, t1, FLOOD_PPS["gafgyt_junk"] * dev.power, lifetime=20.0, dport=80)


def gafgyt_combo(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Junk writes over short connections: a stream of fresh handshakes plus spam data."""
    return _junk_connections(rng, dev, t0, t1, FLOOD_PPS["gafgyt_combo"] * dev.power, lifetime=0.6, dport=80)


def gafgyt_udp(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Raw UDP with 1,024-byte payloads to random ports of the victim."""
    sent = _raw_flood(rng, dev, t0, t1, FLOOD_PPS["gafgyt_udp"] * dev.power, 1066, PROTO_UDP)
    return np.concatenate([sent, _responses(rng, dev, sent, 0.02, 590, PROTO_ICMP)])


def gafgyt_tcp(rng: np.random.Generator, dev: DeviceProfile, t0: float, t1: float) -> np.ndarray:
    """Raw TCP segments with all flags set, no payload, random source ports, to the victim's port 80."""
    return _raw_flood(rng, dev, t0, t1, FLOOD_PPS["gafgyt_tcp"] * dev.power, 60, PROTO_TCP, dport=80)


ATTACK_GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "gafgyt_combo": gafgyt_combo,
    "gafgyt_junk": gafgyt_junk,
    "gafgyt_scan": gafgyt_scan,
    "gafgyt_tcp": gafgyt_tcp,
    "gafgyt_udp": gafgyt_udp,
    "mirai_ack": mirai_ack,
    "mirai_scan": mirai_scan,
    "mirai_syn": mirai_syn,
    "mirai_udp": mirai_udp,
    "mirai_udpplain": mirai_udpplain,
}


def cnc_service(dev: DeviceProfile, botnet: str) -> Service:
    """The bot's long-lived C&C connection: Mirai's 2-byte heartbeats on port 23, BASHLITE's PING/PONG."""
    if botnet == "mirai":
        steps = request_response((68, 68), (68, 68)) + (Step(True, (TCP_ACK, TCP_ACK), 0.0003),)
        return Service("mirai-cnc", dev.mirai_cnc, 23, PROTO_TCP, steps, period=60.0, jitter=0.01, rtt=0.12)
    steps = (Step(False, (71, 71)), Step(True, (71, 71), 0.002), Step(False, (TCP_ACK, TCP_ACK), rtt=1.0))
    return Service("gafgyt-cnc", dev.gafgyt_cnc, 666, PROTO_TCP, steps, period=60.0, jitter=0.02, rtt=0.15)


def attack_packets(
    rng: np.random.Generator, dev: DeviceProfile, label: str, t0: float, t1: float
) -> np.ndarray:
    """The attack ``label`` (e.g. ``mirai_syn``) and the bot's C&C traffic in [t0, t1), unsorted."""
    if label not in ATTACK_GENERATORS:
        raise ValueError(f"unknown attack {label!r}; expected one of {', '.join(ATTACK_GENERATORS)}")
    botnet = label.split("_", 1)[0]
    if botnet == "mirai" and not dev.device.has_mirai:
        raise ValueError(f"{dev.device.name} has no Mirai captures in N-BaIoT")
    cnc = service_packets(rng, dev, cnc_service(dev, botnet), t0, t1)
    return np.concatenate([ATTACK_GENERATORS[label](rng, dev, t0, t1), cnc])


def attack_rate(dev: DeviceProfile, label: str) -> float:
    """Rough packets per second of an attack (to size the simulated span)."""
    if label == "mirai_scan":
        return dev.mirai_scan_pps
    if label == "gafgyt_scan":
        return dev.gafgyt_scan_pps
    return FLOOD_PPS[label] * dev.power * (1.5 if label in ("gafgyt_junk", "gafgyt_combo") else 1.0)


__all__ = [
    "ATTACK_GENERATORS",
    "FLOOD_PPS",
    "attack_packets",
    "attack_rate",
    "cnc_service",
    "random_public_ips",
]
