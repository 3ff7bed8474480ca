"""Tests of the traffic simulator: packet tables, attack shapes, determinism, calibration ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mbm_helpers import schema
from mbm_helpers.packets import PACKET_DTYPE, PROTO_TCP, ip_to_int
from mbm_helpers.simulator import PROFILES, capture_packets, profile, simulate_file
from mbm_helpers.simulator.attacks import random_public_ips
from mbm_helpers.simulator.benign import benign_packets

T0 = 1.5065e9
FEATURES = list(schema.FEATURES)


def _capture(device, label, seconds=60.0, seed=0):
    return capture_packets(np.random.default_rng(seed), profile(device), label, T0, T0 + seconds)


def _frame(device, label, n, seed=0) -> pd.DataFrame:
    return pd.DataFrame(simulate_file(device, label, n, seed=seed), columns=FEATURES)


def test_every_device_has_its_own_addresses():
    assert list(PROFILES) == list(schema.DEVICE_NAMES)
    assert len({p.ip for p in PROFILES.values()}) == 9
    assert len({p.mac for p in PROFILES.values()}) == 9


@pytest.mark.parametrize("label", ["benign", "gafgyt_junk", "mirai_syn"])
def test_capture_is_a_sorted_packet_table_on_the_device_port(label):
    dev = profile("Provision_PT_737E_Security_Camera")
    p = _capture(dev.device.name, label)
    assert p.dtype == PACKET_DTYPE and len(p) > 1000
    assert np.all(np.diff(p["ts"]) >= 0)
    assert np.all((p["ts"] >= T0) & (p["ts"] < T0 + 60))
    ip = ip_to_int(dev.ip)
    assert np.all((p["src_ip"] == ip) | (p["dst_ip"] == ip))
    assert p["size"].min() >= 60 and p["size"].max() <= 1514


def test_benign_traffic_differs_by_device_type():
    rng = np.random.default_rng(0)
    span = 600.0
    rates = {
        name: len(benign_packets(rng, profile(name), T0, T0 + span)) / span
        for name in ("Danmini_Doorbell", "Ecobee_Thermostat", "Philips_B120N10_Baby_Monitor",
                     "Provision_PT_737E_Security_Camera")
    }  # fmt: skip
    assert rates["Danmini_Doorbell"] < 2 and rates["Ecobee_Thermostat"] < 2  # mostly idle
    assert rates["Philips_B120N10_Baby_Monitor"] > 20  # continuous audio and video
    assert rates["Provision_PT_737E_Security_Camera"] > 5 * rates["Philips_B120N10_Baby_Monitor"] / 2


def test_two_cameras_are_alike_but_not_identical():
    a = _frame(5, "benign", 600)
    b = _frame(6, "benign", 600)
    ma, mb = a["MI_dir_L0.1_mean"].median(), b["MI_dir_L0.1_mean"].median()
    assert ma != mb and abs(ma - mb) / ma < 0.2


def test_mirai_scan_shape():
    dev = profile(1)
    p = _capture(1, "mirai_scan", seconds=30)
    out = p[(p["src_ip"] == ip_to_int(dev.ip)) & (p["proto"] == PROTO_TCP) & (p["size"] == 60)]
    syn = out[np.isin(out["dst_port"], [23, 2323])]
    assert abs(len(syn) / 30 - dev.mirai_scan_pps) < 0.15 * dev.mirai_scan_pps
    assert len(np.unique(syn["dst_ip"])) > 0.99 * len(syn)  # random targets
    assert len(np.unique(syn["src_port"])) == 1  # one raw-socket source port
    assert 0.85 < np.mean(syn["dst_port"] == 23) < 0.95


def test_gafgyt_scan_retransmits_syns():
    p = _capture(2, "gafgyt_scan", seconds=60)
    syn = p[(p["size"] == 74) & (p["dst_port"] == 23)]
    sockets = syn["dst_ip"].astype(np.uint64) << np.uint64(16) | syn["src_port"].astype(np.uint64)
    _, counts = np.unique(sockets, return_counts=True)
    assert counts.max() <= 4 and np.mean(counts > 1) > 0.5


def test_udpplain_keeps_one_socket_and_udp_flood_does_not():
    plain = _capture(4, "mirai_udpplain", seconds=10)
    udp = _capture(4, "mirai_udp", seconds=10)
    target = ip_to_int(profile(4).target_ip)
    plain, udp = plain[plain["dst_ip"] == target], udp[udp["dst_ip"] == target]
    assert len(np.unique(plain["dst_port"])) == 1 and np.all(plain["size"] == 554)
    assert len(np.unique(udp["dst_port"])) > 0.9 * len(udp)


def test_no_mirai_for_devices_3_and_7_and_clear_errors():
    with pytest.raises(ValueError, match="Ennio_Doorbell"):
        simulate_file(3, "mirai_scan", 10)
    with pytest.raises(ValueError, match="unknown class"):
        simulate_file(1, "mirai_smurf", 10)
    with pytest.raises(ValueError, match="unknown N-BaIoT device"):
        simulate_file("Toaster", "benign", 10)
    with pytest.raises(ValueError, match="positive"):
        simulate_file(1, "benign", 0)


def test_random_public_ips_skip_private_and_reserved():
    ips = random_public_ips(np.random.default_rng(0), 20_000)
    first = ips >> 24
    assert not np.isin(first, [0, 10, 127]).any() and (first < 224).all()
    assert not ((ips >> 16) == 0xC0A8).any()


def test_simulate_file_is_deterministic_and_finite():
    a = simulate_file(8, "gafgyt_combo", 200, seed=3)
    b = simulate_file(8, "gafgyt_combo", 200, seed=3)
    c = simulate_file(8, "gafgyt_combo", 200, seed=4)
    assert a.shape == (200, 115) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.isfinite(a).all()


def test_a_thermostat_flood_looks_like_a_camera_stream():
    """One type's attack resembles another type's normal traffic, though not its own."""
    camera = _frame(5, "benign", 1500)
    flood = _frame(2, "gafgyt_junk", 500)
    thermostat = _frame(2, "benign", 1500)
    for col in ("MI_dir_L0.1_weight", "MI_dir_L0.1_mean", "HH_L0.1_weight"):
        ratio = flood[col].median() / camera[col].median()
        assert 0.4 < ratio < 2.5, (col, ratio)
    assert flood["MI_dir_L0.1_weight"].median() > 100 * thermostat["MI_dir_L0.1_weight"].median()


def test_attack_files_hold_the_devices_ongoing_benign_rows():
    """A camera keeps streaming during a flood, so part of the attack rows look benign."""
    benign = _frame(5, "benign", 1500)
    junk = _frame(5, "gafgyt_junk", 500)
    lo, hi = benign["MI_dir_L0.1_weight"].quantile([0.01, 0.99])
    inside = junk["MI_dir_L0.1_weight"].between(lo, hi).mean()
    assert 0.02 < inside < 0.6


# --------------------------------------------------------------- calibration against real rows
CASES = [
    ("Danmini_Doorbell", "benign", "benign_traffic.csv"),
    ("Ecobee_Thermostat", "benign", "benign_traffic.csv"),
    ("Danmini_Doorbell", "gafgyt_scan", "gafgyt_attacks/scan.csv"),
    ("Ecobee_Thermostat", "gafgyt_scan", "gafgyt_attacks/scan.csv"),
    ("Danmini_Doorbell", "mirai_scan", "mirai_attacks/scan.csv"),
    ("Ecobee_Thermostat", "mirai_scan", "mirai_attacks/scan.csv"),
]
COARSE = ["MI_dir_L0.1_weight", "MI_dir_L0.1_mean", "HH_L0.01_weight", "HH_jit_L0.1_mean", "HpHp_L0.1_mean"]


@pytest.mark.parametrize(("device", "label", "rel"), CASES)
def test_simulated_medians_land_in_the_real_ranges(real_sample_dir, device, label, rel):
    real = pd.read_csv(real_sample_dir / device / rel)
    sim = _frame(device, label, 1500 if label == "benign" else 400)
    for col in COARSE:
        lo, hi = real[col].quantile([0.05, 0.95])
        pad = 0.05 * max(abs(lo), abs(hi)) + 1e-6
        assert lo - pad <= sim[col].median() <= hi + pad, (col, lo, sim[col].median(), hi)
