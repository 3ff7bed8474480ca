"""The packet table: one structured NumPy row per captured packet.

The traffic simulator produces packet tables, the pcap reader turns captures into them, and the
feature extractor (AfterImage) turns them into the 115 N-BaIoT features, one row per packet.
"""

from __future__ import annotations

import numpy as np

#: IP protocol numbers used in ``proto`` (ARP packets carry ``PROTO_ARP`` and their ARP addresses).
PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ARP = 1, 6, 17, 0

PACKET_DTYPE = np.dtype(
    [
        ("ts", "f8"),  # capture time, seconds since the Unix epoch
        ("src_mac", "u8"),  # 48-bit MAC addresses as integers
        ("dst_mac", "u8"),
        ("src_ip", "u4"),  # IPv4 addresses as integers
        ("dst_ip", "u4"),
        ("src_port", "u2"),  # 0 for ICMP and ARP
        ("dst_port", "u2"),
        ("proto", "u1"),  # PROTO_TCP, PROTO_UDP, PROTO_ICMP or PROTO_ARP
        ("size", "u4"),  # frame length in bytes, as the capture reports it
    ]
)


def empty_packets(n: int = 0) -> np.ndarray:
    """A zero-filled packet table of ``n`` rows."""
    return np.zeros(n, dtype=PACKET_DTYPE)


def sort_packets(packets: np.ndarray) -> np.ndarray:
    """Packets in capture order (stable sort by timestamp)."""
    return packets[np.argsort(packets["ts"], kind="stable")]


def ip_to_int(address: str) -> int:
    """``'192.168.1.10'`` -> integer."""
    parts = [int(p) for p in address.split(".")]
    if len(parts) != 4 or not all(0 <= p <= 255 for p in parts):
        raise ValueError(f"not an IPv4 address: {address!r}")
    return (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]


def int_to_ip(value: int) -> str:
    """Integer -> ``'192.168.1.10'``."""
    return ".".join(str((int(value) >> s) & 255) for s in (24, 16, 8, 0))


def mac_to_int(address: str) -> int:
    """``'aa:bb:cc:dd:ee:ff'`` -> integer."""
    parts = address.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {address!r}")
    return int("".join(parts), 16)


def int_to_mac(value: int) -> str:
    """Integer -> ``'aa:bb:cc:dd:ee:ff'``."""
    return ":".join(f"{(int(value) >> s) & 255:02x}" for s in range(40, -1, -8))
