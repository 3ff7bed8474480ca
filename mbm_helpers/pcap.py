"""Capture files <-> packet tables: read and write .pcap/.pcapng with dpkt, and featurize them.

``read_pcap`` keeps Ethernet frames carrying IPv4 TCP, UDP or ICMP, and ARP; other frames (IPv6,
other IP protocols, non-Ethernet link types' frames, ...) are skipped, counted and reported in one
warning. ``size`` is the frame's on-wire length (the record's original length when the capture
format stores it, else the captured length). ``write_pcap`` writes one valid Ethernet frame per
packet whose length equals ``size`` (zero payload padding), microsecond timestamps, atomically.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dpkt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mbm_helpers.afterimage import features_frame
from mbm_helpers.atomic import atomic_path
from mbm_helpers.errors import DataError
from mbm_helpers.packets import PACKET_DTYPE, PROTO_ARP, PROTO_ICMP, PROTO_TCP, PROTO_UDP, sort_packets

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_L4_MIN = {PROTO_TCP: 20, PROTO_UDP: 8, PROTO_ICMP: 8}  # header bytes (ICMP: header + echo id/seq)
_ETH, _IP, _ARP = 14, 20, 28


class _Truncated(Exception):
    """A record cut short by the end of the file."""


# ----------------------------------------------------------------------------- reading
def _read_exact(f, n: int, what: str) -> bytes:
    buf = f.read(n)
    if len(buf) != n:
        raise _Truncated(f"{what} cut short ({len(buf)} of {n} bytes)")
    return buf


def _pcap_records(f, magic: bytes) -> Iterator[tuple[float, int, bytes]]:
    """(timestamp, original length, frame bytes) of each classic pcap record."""
    order, divisor = _PCAP_MAGICS[magic]
    header = magic + _read_exact(f, 20, "file header")
    linktype = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
    if linktype != dpkt.pcap.DLT_EN10MB:
        raise DataError(f"link type {linktype} is not Ethernet (1)")
    record = struct.Struct(order + "IIII")
    while True:
        head = f.read(record.size)
        if not head:
            return
        if len(head) != record.size:
            raise _Truncated(f"record header cut short ({len(head)} of {record.size} bytes)")
        sec, frac, caplen, wirelen = record.unpack(head)
        yield sec + frac / divisor, wirelen, _read_exact(f, caplen, "packet data")


def _pcapng_records(f) -> Iterator[tuple[float, int, bytes]]:
    """(timestamp, original length, frame bytes) of each pcapng packet block (first section)."""
    reader = dpkt.pcapng.Reader(f)  # reads the section header and the first interface description
    if reader.datalink() != dpkt.pcap.DLT_EN10MB:
        raise DataError(f"link type {reader.datalink()} is not Ethernet (1)")
    f.seek(8)
    order = "<" if f.read(4) == b"\x4d\x3c\x2b\x1a" else ">"
    f.seek(0)
    while True:  # walk the blocks ourselves so a truncated last block is noticed
        head = f.read(8)
        if not head:
            return
        if len(head) != 8:
            raise _Truncated(f"block header cut short ({len(head)} of 8 bytes)")
        kind, length = struct.unpack(order + "II", head)
        if length < 12 or length % 4:
            raise DataError(f"invalid pcapng block length {length}")
        body = head + _read_exact(f, length - 8, "pcapng block")
        if kind == dpkt.pcapng.PCAPNG_BT_EPB:
            epb = (dpkt.pcapng.EnhancedPacketBlockLE if order == "<" else dpkt.pcapng.EnhancedPacketBlock)(
                body
            )
            ticks = (epb.ts_high << 32) | epb.ts_low
            yield reader._tsoffset + ticks / reader._divisor, epb.pkt_len, bytes(epb.pkt_data)


def _parse_frame(frame: bytes, wirelen: int) -> tuple | str:
    """A packet-table row tuple (without ts), or the reason the frame is skipped."""
    eth = dpkt.ethernet.Ethernet(frame)
    src_mac, dst_mac = int.from_bytes(eth.src, "big"), int.from_bytes(eth.dst, "big")
    size = max(len(frame), wirelen)
    if isinstance(eth.data, dpkt.arp.ARP):
        arp = eth.data
        return (src_mac, dst_mac, int.from_bytes(arp.spa, "big"), int.from_bytes(arp.tpa, "big"),
                0, 0, PROTO_ARP, size)  # fmt: skip
    if not isinstance(eth.data, dpkt.ip.IP):
        return f"ethertype 0x{eth.type:04x}"
    ip = eth.data
    if ip.p not in _L4_MIN:
        return f"IP protocol {ip.p}"
    sport = dport = 0
    if ip.p in (PROTO_TCP, PROTO_UDP) and isinstance(ip.data, dpkt.tcp.TCP | dpkt.udp.UDP):
        sport, dport = ip.data.sport, ip.data.dport
    size = max(size, _ETH + ip.len)  # recovers the length of frames cut by the snapshot length
    return (src_mac, dst_mac, int.from_bytes(ip.src, "big"), int.from_bytes(ip.dst, "big"),
            sport, dport, ip.p, size)  # fmt: skip


def read_pcap(path: str | os.PathLike, *, progress: bool = False) -> np.ndarray:
    """The packets of a .pcap or .pcapng capture as a ``PACKET_DTYPE`` table, in file order.

    ``progress`` shows a tqdm bar over the file's bytes.

    Raises ``DataError`` naming the file when it is not a pcap/pcapng capture, is truncated, or is
    not Ethernet; warns with counts of skipped frames (neither IPv4 TCP/UDP/ICMP nor ARP).
    """
    path = Path(path)
    rows: list[tuple] = []
    skipped: Counter[str] = Counter()
    bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name, disable=not progress)
    with bar, open(path, "rb") as f:
        magic = f.read(4)
        try:
            if magic == _PCAPNG_MAGIC:
                f.seek(0)
                records = _pcapng_records(f)
            elif magic in _PCAP_MAGICS:
                records = _pcap_records(f, magic)
            else:
                raise DataError(f"not a pcap or pcapng capture (starts with {magic!r})")
            for ts, wirelen, frame in records:
                try:
                    parsed = _parse_frame(frame, wirelen)
                except (dpkt.UnpackError, struct.error) as exc:
                    parsed = f"undecodable frame ({type(exc).__name__})"
                if isinstance(parsed, str):
                    skipped[parsed] += 1
                else:
                    rows.append((ts, *parsed))
                if not (len(rows) + skipped.total()) % 8192:
                    bar.update(f.tell() - bar.n)
            bar.update(f.tell() - bar.n)
        except _Truncated as exc:
            raise DataError(f"{path}: truncated capture: {exc} after {len(rows)} packets") from None
        except DataError as exc:
            raise DataError(f"{path}: {exc}") from None
        except (dpkt.UnpackError, struct.error, ValueError) as exc:
            raise DataError(f"{path}: not a readable capture: {exc}") from None
    if skipped:
        detail = ", ".join(f"{n} x {why}" for why, n in skipped.most_common())
        warnings.warn(
            f"{path}: skipped {skipped.total()} frames that are neither IPv4 TCP/UDP/ICMP nor ARP ({detail})",
            stacklevel=2,
        )
    return np.array(rows, dtype=PACKET_DTYPE) if rows else np.zeros(0, dtype=PACKET_DTYPE)


# ----------------------------------------------------------------------------- writing
def _frame(p: np.void, index: int) -> bytes:
    """One Ethernet frame of exactly ``p['size']`` bytes for packet row ``p``."""
    proto, size = int(p["proto"]), int(p["size"])
    src_mac, dst_mac = int(p["src_mac"]).to_bytes(6, "big"), int(p["dst_mac"]).to_bytes(6, "big")
    src_ip, dst_ip = int(p["src_ip"]).to_bytes(4, "big"), int(p["dst_ip"]).to_bytes(4, "big")
    if proto == PROTO_ARP:
        minimum = _ETH + _ARP
        body = dpkt.arp.ARP(sha=src_mac, spa=src_ip, tha=dst_mac, tpa=dst_ip, op=dpkt.arp.ARP_OP_REQUEST)
        eth_type = dpkt.ethernet.ETH_TYPE_ARP
    elif proto in _L4_MIN:
        minimum = _ETH + _IP + _L4_MIN[proto]
        payload = bytes(max(size - minimum, 0))
        sport, dport = int(p["src_port"]), int(p["dst_port"])
        if proto == PROTO_TCP:
            l4 = dpkt.tcp.TCP(sport=sport, dport=dport, flags=dpkt.tcp.TH_ACK, data=payload)
        elif proto == PROTO_UDP:
            l4 = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
        else:
            l4 = dpkt.icmp.ICMP(type=dpkt.icmp.ICMP_ECHO, data=dpkt.icmp.ICMP.Echo(id=0, seq=index & 0xFFFF,
                                                                                   data=payload))  # fmt: skip
        body = dpkt.ip.IP(src=src_ip, dst=dst_ip, p=proto, ttl=64, data=l4)
        eth_type = dpkt.ethernet.ETH_TYPE_IP
    else:
        raise DataError(f"packet {index} has unknown proto={proto}")
    if size < minimum:
        raise ValueError(f"packet {index}: size={size} is below the {minimum} bytes of its headers")
    frame = bytes(dpkt.ethernet.Ethernet(src=src_mac, dst=dst_mac, type=eth_type, data=bytes(body)))
    return frame + bytes(size - len(frame))  # ARP: Ethernet padding after the 28-byte body


def write_pcap(path: str | os.PathLike, packets: np.ndarray) -> Path:
    """Write ``packets`` as a capture: pcapng if ``path`` ends in ``.pcapng``, else classic pcap.

    Frames are Ethernet/IPv4/TCP|UDP|ICMP or Ethernet/ARP of exactly ``size`` bytes; timestamps have
    microsecond resolution. The file appears only once completely written.
    """
    if not isinstance(packets, np.ndarray) or packets.dtype != PACKET_DTYPE:
        raise DataError("packets must be a NumPy array of mbm_helpers.packets.PACKET_DTYPE")
    path = Path(path)
    frames = [_frame(p, i) for i, p in enumerate(packets)]  # validate everything before writing
    snaplen = max([65535, *map(len, frames)])
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        if path.suffix.lower() == ".pcapng":
            writer = dpkt.pcapng.Writer(f, snaplen=snaplen, linktype=dpkt.pcap.DLT_EN10MB)
        else:
            writer = dpkt.pcap.Writer(f, snaplen=snaplen, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in zip(packets["ts"].tolist(), frames, strict=True):
            writer.writepkt_time(frame, ts)
    return path


def featurize_pcap(
    path: str | os.PathLike, *, radius: str = "sqrt_var_sq_sum", progress: bool = False
) -> pd.DataFrame:
    """The 115 N-BaIoT features of every kept packet of a capture (packets sorted by time first).

    ``radius`` as in ``mbm_helpers.afterimage.extract_features``; ``progress`` shows tqdm bars.
    """
    packets = sort_packets(read_pcap(path, progress=progress))
    return features_frame(packets, radius=radius, progress=progress)
