"""Capture files: write/read round trips (pcap and pcapng), frame validity, bad files."""

from __future__ import annotations

import warnings

import dpkt
import numpy as np
import pandas as pd
import pytest

from mbm_helpers.afterimage import features_frame
from mbm_helpers.errors import DataError
from mbm_helpers.packets import PROTO_ARP, PROTO_ICMP, PROTO_TCP, PROTO_UDP, empty_packets
from mbm_helpers.pcap import featurize_pcap, read_pcap, write_pcap


def synthetic_packets(n: int = 120, seed: int = 0) -> np.ndarray:
    """Random packets of every protocol. Timestamps sit on a 1/64 s grid near 2018's epoch
    seconds, which microsecond capture formats store exactly (so the round trip is exact)."""
    rng = np.random.default_rng(seed)
    p = empty_packets(n)
    p["ts"] = 1_526_000_000.0 + np.cumsum(rng.integers(0, 90, n)) / 64
    hosts = rng.integers(0, 6, (n, 2))
    p["src_ip"], p["dst_ip"] = 0xC0A80164 + hosts[:, 0], 0xC0A80164 + hosts[:, 1]
    p["src_mac"], p["dst_mac"] = 0x3C49370303A0 + hosts[:, 0], 0x3C49370303A0 + hosts[:, 1]
    p["proto"] = rng.choice([PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ARP], n, p=[0.4, 0.4, 0.1, 0.1])
    ports = np.isin(p["proto"], [PROTO_TCP, PROTO_UDP])
    p["src_port"][ports] = rng.integers(1, 65536, ports.sum())
    p["dst_port"][ports] = rng.choice([23, 53, 80, 443, 48101], ports.sum())
    p["size"] = rng.integers(60, 1515, n)
    p["size"][p["proto"] == PROTO_ARP] = rng.choice([42, 60], (p["proto"] == PROTO_ARP).sum())
    return p


@pytest.mark.parametrize("suffix", [".pcap", ".pcapng"])
def test_round_trip_gives_same_packets_and_features(tmp_path, suffix):
    packets = synthetic_packets()
    path = write_pcap(tmp_path / f"capture{suffix}", packets)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be skipped
        back = read_pcap(path)
    assert back.dtype == packets.dtype
    for field in packets.dtype.names:
        np.testing.assert_array_equal(back[field], packets[field], err_msg=field)
    pd.testing.assert_frame_equal(featurize_pcap(path), features_frame(packets))


def test_written_frames_are_valid_and_as_long_as_size(tmp_path):
    packets = synthetic_packets(60, seed=3)
    path = write_pcap(tmp_path / "capture.pcap", packets)
    with open(path, "rb") as f:
        records = list(dpkt.pcap.Reader(f))
    assert len(records) == len(packets)
    for p, (ts, frame) in zip(packets, records, strict=True):
        assert len(frame) == p["size"]
        assert ts == pytest.approx(p["ts"], abs=1e-6)
        eth = dpkt.ethernet.Ethernet(frame)
        if p["proto"] == PROTO_ARP:
            assert isinstance(eth.data, dpkt.arp.ARP)
            assert int.from_bytes(eth.data.spa, "big") == p["src_ip"]
            continue
        ip = eth.data
        assert isinstance(ip, dpkt.ip.IP) and ip.p == p["proto"]
        assert ip.len == p["size"] - 14
        assert dpkt.in_cksum(bytes(frame[14:34])) == 0  # IPv4 header checksum verifies
        if p["proto"] != PROTO_ICMP:
            assert (ip.data.sport, ip.data.dport) == (p["src_port"], p["dst_port"])


def test_other_frames_are_skipped_counted_and_reported(tmp_path):
    packets = synthetic_packets(5)
    path = tmp_path / "mixed.pcap"
    write_pcap(path, packets)
    ipv6 = dpkt.ethernet.Ethernet(
        src=b"\x00" * 6, dst=b"\xff" * 6, type=dpkt.ethernet.ETH_TYPE_IP6,
        data=dpkt.ip6.IP6(src=b"\x00" * 16, dst=b"\x01" * 16, nxt=17, data=dpkt.udp.UDP(sport=1, dport=2)),
    )  # fmt: skip
    igmp = dpkt.ethernet.Ethernet(
        src=b"\x00" * 6,
        dst=b"\xff" * 6,
        data=dpkt.ip.IP(src=b"\x01" * 4, dst=b"\x02" * 4, p=2, data=b"\x00" * 8),
    )
    with open(path, "rb") as f:
        records = list(dpkt.pcap.Reader(f))
    end = records[-1][0]
    records += [(end + 1, bytes(ipv6)), (end + 2, bytes(igmp)), (end + 3, bytes(ipv6))]
    with open(path, "wb") as f:
        dpkt.pcap.Writer(f).writepkts(records)
    with pytest.warns(UserWarning, match=r"skipped 3 frames.*2 x ethertype 0x86dd.*1 x IP protocol 2"):
        back = read_pcap(path)
    assert len(back) == len(packets)


def test_size_comes_from_the_original_length_of_snapped_frames(tmp_path):
    packets = synthetic_packets(8, seed=5)
    packets["proto"], packets["size"] = PROTO_UDP, 900
    path = write_pcap(tmp_path / "capture.pcap", packets)
    with open(path, "rb") as f:
        records = list(dpkt.pcap.Reader(f))
    snapped = tmp_path / "snapped.pcap"
    with open(snapped, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=96)
        for ts, frame in records:
            writer.writepkt_time(frame[:96], ts)  # caplen = len = 96: only the IP length tells
    np.testing.assert_array_equal(read_pcap(snapped)["size"], 900)


def test_bad_files_raise_data_error_naming_the_file(tmp_path):
    not_pcap = tmp_path / "notes.pcap"
    not_pcap.write_text("ts,size\n1,60\n")
    with pytest.raises(DataError, match=r"notes\.pcap.*not a pcap or pcapng"):
        read_pcap(not_pcap)
    for suffix in (".pcap", ".pcapng"):
        packets = synthetic_packets(20)
        packets["size"][-1] = 60
        good = write_pcap(tmp_path / f"good{suffix}", packets)
        last_record = 16 + 60 if suffix == ".pcap" else 28 + 60 + 4  # record/block header, frame, trailer
        assert good.stat().st_size > 3 * last_record
        # cuts: inside the last frame's bytes; inside the last record's header
        for cut in (7, last_record - 5):
            cut_path = tmp_path / f"cut{cut}{suffix}"
            cut_path.write_bytes(good.read_bytes()[:-cut])
            with pytest.raises(DataError, match=rf"cut{cut}\{suffix}: truncated capture"):
                read_pcap(cut_path)
        header_only = tmp_path / f"header{suffix}"
        header_only.write_bytes(good.read_bytes()[:10])
        with pytest.raises(DataError, match=rf"header\{suffix}"):
            read_pcap(header_only)


def test_bad_packets_are_rejected_without_leaving_a_file(tmp_path):
    packets = synthetic_packets(10)
    packets["proto"][4], packets["size"][4] = PROTO_TCP, 40
    target = tmp_path / "out.pcap"
    with pytest.raises(ValueError, match="packet 4: size=40"):
        write_pcap(target, packets)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DataError, match="PACKET_DTYPE"):
        write_pcap(target, np.zeros(3))
    assert list(tmp_path.iterdir()) == []


def test_empty_capture(tmp_path):
    path = write_pcap(tmp_path / "empty.pcapng", empty_packets(0))
    assert len(read_pcap(path)) == 0
    assert featurize_pcap(path).shape == (0, 115)
