"""AfterImage: the per-packet damped statistics that make up the 115 N-BaIoT features.

Our own implementation of the feature extractor of Kitsune (Mirsky et al., NDSS 2018) as N-BaIoT
(Meidan et al., 2018) used it. For every packet and every decay factor ``lambda`` in
``schema.DECAY_FACTORS`` a stream's statistics decay by ``2 ** (-lambda * dt)`` (``dt`` seconds since
the stream was last updated), then the packet's value is added:
``w = w * f + 1``, ``LS = LS * f + x``, ``SS = SS * f + x**2``; ``mean = LS / w`` and
``variance = |SS / w - mean**2|`` (both 0 for a stream with no packets yet).

Groups, in column order (``schema.FEATURES``), and what keys their streams:

- ``MI_dir``: frame sizes per (source MAC, source IP).
- ``H``: frame sizes per source IP.
- ``HH``: frame sizes on the channel between two IPs. The packet's own direction (src -> dst) gives
  weight, mean and std; both directions give magnitude ``sqrt(mean_a**2 + mean_b**2)``, radius
  ``sqrt(var_a**2 + var_b**2)`` (what the published N-BaIoT rows hold, see ``extract_features``;
  ``radius="sqrt_var_sum"`` gives ``sqrt(var_a + var_b)``), covariance (Kitsune's approximate
  covariance: a damped sum of products of the newest residual ``x - mean`` of one direction with the
  last residual of the other, divided by its damped count) and pcc ``covariance / (std_a * std_b)``
  (0 when a std is 0).
- ``HH_jit``: inter-arrival times per ordered (source IP, destination IP). As in the N-BaIoT run, a
  new stream's "previous arrival" is time 0, so its first value is the packet's own timestamp.
- ``HpHp``: as ``HH`` for sockets (IP, port, protocol) -> (IP, port, protocol); ARP packets use their
  MAC addresses as the socket (as Kitsune does) and ICMP packets port 0.

Every call starts from empty statistics (one capture). Stream keys are integer tuples (packed
losslessly or mapped to dense ids with ``np.unique``), never concatenated strings, so distinct streams
cannot collide; the socket key includes the protocol, so TCP and UDP on the same port are separate.
Packets with a source equal to their destination use one stream for both "directions".

The statistics run in a numba kernel over plain arrays (dense stream ids from NumPy); the first call
in a fresh environment compiles it (a few seconds; cached on disk afterwards).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numba import njit
from tqdm.auto import tqdm

from mbm_helpers import schema
from mbm_helpers.errors import DataError
from mbm_helpers.packets import PACKET_DTYPE, PROTO_ARP, PROTO_ICMP, PROTO_TCP, PROTO_UDP

_KNOWN_PROTOS = (PROTO_ARP, PROTO_ICMP, PROTO_TCP, PROTO_UDP)
_RADII = ("sqrt_var_sum", "sqrt_var_sq_sum")
_CHUNK = 1 << 18  # packets per kernel call (progress granularity)

# Offsets of the five groups in a feature row.
_N_L = len(schema.DECAY_FACTORS)
_MI, _H, _HH, _JIT, _HP = 0, 3 * _N_L, 6 * _N_L, 13 * _N_L, 16 * _N_L
assert _HP + 7 * _N_L == schema.N_FEATURES


# ----------------------------------------------------------------------------- numba kernel
@njit(cache=True, inline="always")
def _decay_insert(st, last, i, j, lam, t, x):
    """Decay 1-D stream ``i`` at window ``j`` to time ``t`` and add value ``x``."""
    dt = t - last[i, j]
    if dt > 0.0:
        f = 2.0 ** (-lam * dt)
        st[i, j, 0] *= f
        st[i, j, 1] *= f
        st[i, j, 2] *= f
        last[i, j] = t
    st[i, j, 0] += 1.0
    st[i, j, 1] += x
    st[i, j, 2] += x * x


@njit(cache=True, inline="always")
def _mean_var(st, i, j):
    w = st[i, j, 0]
    if w <= 0.0:
        return 0.0, 0.0
    mean = st[i, j, 1] / w
    return mean, abs(st[i, j, 2] / w - mean * mean)


@njit(cache=True, inline="always")
def _one_d(out, row, col, st, i, j):
    mean, var = _mean_var(st, i, j)
    out[row, col] = st[i, j, 0]
    out[row, col + 1] = mean
    out[row, col + 2] = var


@njit(cache=True, inline="always")
def _two_d(out, row, col, st, last, cov, own, other, pair, side, j, lam, t, x, var_sq):
    """Update the directed stream ``own`` and its pair's covariance; write the 7 statistics."""
    _decay_insert(st, last, own, j, lam, t, x)
    mean_a, var_a = _mean_var(st, own, j)
    mean_b, var_b = _mean_var(st, other, j)
    # covariance state: 0 CF3, 1 w3, 2 residual side 0, 3 residual side 1, 4 last update time
    dt = t - cov[pair, j, 4]
    if dt > 0.0:
        f = 2.0 ** (-lam * dt)
        cov[pair, j, 0] *= f
        cov[pair, j, 1] *= f
        cov[pair, j, 2 + side] *= f
        cov[pair, j, 4] = t
    res = x - mean_a
    cov[pair, j, 0] += res * cov[pair, j, 3 - side]
    cov[pair, j, 1] += 1.0
    cov[pair, j, 2 + side] = res
    covariance = cov[pair, j, 0] / cov[pair, j, 1]
    std_a = np.sqrt(var_a)
    std_ab = std_a * np.sqrt(var_b)
    out[row, col] = st[own, j, 0]
    out[row, col + 1] = mean_a
    out[row, col + 2] = std_a
    out[row, col + 3] = np.sqrt(mean_a * mean_a + mean_b * mean_b)
    out[row, col + 4] = np.sqrt(var_a * var_a + var_b * var_b) if var_sq else np.sqrt(var_a + var_b)
    out[row, col + 5] = covariance
    out[row, col + 6] = covariance / std_ab if std_ab != 0.0 else 0.0


@njit(cache=True)
def _kernel(start, stop, ts, size, ids, lambdas, var_sq, mi, mi_last, h, h_last, hh, hh_last, hh_cov, jit,
            jit_last, hp, hp_last, hp_cov, out):  # fmt: skip
    """Process packets ``start:stop`` into ``out`` (rows relative to ``start``), updating the state.

    ``ids`` columns: MI, H, HH own, HH other, HH pair, HH side, HpHp own, other, pair, side.
    """
    n_l = lambdas.shape[0]
    for p in range(start, stop):
        r = p - start
        t = ts[p]
        x = size[p]
        for j in range(n_l):
            lam = lambdas[j]
            _decay_insert(mi, mi_last, ids[p, 0], j, lam, t, x)
            _one_d(out, r, _MI + 3 * j, mi, ids[p, 0], j)
            _decay_insert(h, h_last, ids[p, 1], j, lam, t, x)
            _one_d(out, r, _H + 3 * j, h, ids[p, 1], j)
            _two_d(out, r, _HH + 7 * j, hh, hh_last, hh_cov, ids[p, 2], ids[p, 3], ids[p, 4], ids[p, 5],
                   j, lam, t, x, var_sq)  # fmt: skip
            k = ids[p, 2]
            gap = t - jit_last[k, j]
            _decay_insert(jit, jit_last, k, j, lam, t, gap if gap > 0.0 else 0.0)
            _one_d(out, r, _JIT + 3 * j, jit, k, j)
            _two_d(out, r, _HP + 7 * j, hp, hp_last, hp_cov, ids[p, 6], ids[p, 7], ids[p, 8], ids[p, 9],
                   j, lam, t, x, var_sq)  # fmt: skip


# ----------------------------------------------------------------------------- stream ids
def _dense(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense ids ``0..k-1`` (in order of first appearance) of integer keys, and ``k``."""
    codes, uniq = pd.factorize(keys, sort=False)
    return codes.astype(np.int64), len(uniq)


def _pack(high: np.ndarray, low: np.ndarray, n_low: int) -> np.ndarray:
    """The integer tuple ``(high, low)`` with ``0 <= low < n_low`` packed losslessly into one int64."""
    return high.astype(np.int64) * np.int64(n_low) + low.astype(np.int64)


def _channel_ids(src: np.ndarray, dst: np.ndarray, n_ep: int) -> tuple[np.ndarray, ...]:
    """Ids of directed streams (own and reverse direction) and undirected pairs, and the side (0/1).

    ``src``/``dst`` are dense endpoint ids below ``n_ep``.
    """
    n = len(src)
    directed, n_dir = _dense(np.concatenate([_pack(src, dst, n_ep), _pack(dst, src, n_ep)]))
    pair, n_pair = _dense(_pack(np.minimum(src, dst), np.maximum(src, dst), n_ep))
    side = (src > dst).astype(np.int64)
    return directed[:n], directed[n:], pair, side, n_dir, n_pair


def _stream_ids(packets: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """The (n, 10) id table the kernel reads and the number of streams of each kind.

    Keys: MI (src MAC, src IP); H src IP; HH and HH_jit (src IP, dst IP); HpHp endpoints
    (address, protocol, port) where the address is the IP, or the MAC for ARP (tagged apart).
    """
    n = len(packets)
    ip_ids, n_ip = _dense(np.concatenate([packets["src_ip"], packets["dst_ip"]]).astype(np.uint64))
    src_ip, dst_ip = ip_ids[:n], ip_ids[n:]
    mac_ids, n_mac = _dense(packets["src_mac"])
    mi, n_mi = _dense(_pack(mac_ids, src_ip, n_ip))
    hh = _channel_ids(src_ip, dst_ip, n_ip)

    arp = packets["proto"] == PROTO_ARP
    mac_tag = np.uint64(1 << 48)  # MACs are 48-bit, IPs 32-bit: a tag bit keeps them apart
    addr = np.concatenate([
        np.where(arp, packets["src_mac"] | mac_tag, packets["src_ip"].astype(np.uint64)),
        np.where(arp, packets["dst_mac"] | mac_tag, packets["dst_ip"].astype(np.uint64)),
    ])  # fmt: skip
    addr_ids, _ = _dense(addr)
    ports = np.concatenate([packets["src_port"], packets["dst_port"]])
    ports = np.where(np.concatenate([arp, arp]), 0, ports)
    proto = np.concatenate([packets["proto"], packets["proto"]])
    ep_ids, n_ep = _dense(_pack(_pack(addr_ids, proto, 256), ports, 65536))
    hp = _channel_ids(ep_ids[:n], ep_ids[n:], n_ep)

    ids = np.column_stack([mi, src_ip, *hh[:4], *hp[:4]]).astype(np.int64)
    counts = {"mi": n_mi, "h": n_ip, "hh": hh[4], "hh_pair": hh[5], "hp": hp[4], "hp_pair": hp[5]}
    return np.ascontiguousarray(ids), counts


# ----------------------------------------------------------------------------- public API
def _validate(packets: np.ndarray) -> None:
    if not isinstance(packets, np.ndarray) or packets.dtype != PACKET_DTYPE:
        got = packets.dtype if isinstance(packets, np.ndarray) else type(packets).__name__
        raise DataError(f"packets must be a NumPy array of mbm_helpers.packets.PACKET_DTYPE, got {got}")
    if packets.ndim != 1:
        raise DataError(f"packets must be a 1-D packet table, got shape {packets.shape}")
    ts = packets["ts"]
    bad = np.flatnonzero(~np.isfinite(ts))
    if bad.size:
        raise DataError(f"packet {bad[0]} has a non-finite timestamp ts={ts[bad[0]]!r}")
    back = np.flatnonzero(ts[1:] < ts[:-1])
    if back.size:
        i = back[0] + 1
        raise ValueError(
            f"packets must be sorted by time: packet {i} (ts={ts[i]!r}) comes before packet {i - 1} "
            f"(ts={ts[i - 1]!r}); use mbm_helpers.packets.sort_packets"
        )
    unknown = np.flatnonzero(~np.isin(packets["proto"], _KNOWN_PROTOS))
    if unknown.size:
        i = unknown[0]
        raise DataError(
            f"packet {i} has unknown proto={packets['proto'][i]}; expected one of {_KNOWN_PROTOS}"
        )


def extract_features(
    packets: np.ndarray, *, radius: str = "sqrt_var_sq_sum", progress: bool = False
) -> np.ndarray:
    """The 115 N-BaIoT features of each packet, shape ``(n, 115)``, float64, in input order.

    ``packets`` is a time-sorted ``PACKET_DTYPE`` table of one capture (statistics start empty).
    ``radius`` of the 2-D groups: ``"sqrt_var_sq_sum"`` = ``sqrt(var_a**2 + var_b**2)`` (the default:
    Kitsune's Python code, and what N-BaIoT holds) or ``"sqrt_var_sum"`` = ``sqrt(var_a + var_b)``
    (Kitsune's Cython code). The published N-BaIoT rows satisfy
    ``pcc = covariance / (std_a * var_b**0.5)`` with ``var_b`` recovered from the default radius to
    ~1e-9, and not from the other. ``progress`` shows a tqdm bar.
    Raises ``DataError`` for a wrong dtype, a non-finite timestamp or an unknown protocol and
    ``ValueError`` naming the first packet out of time order or an unknown ``radius``.
    """
    if radius not in _RADII:
        raise ValueError(f"radius={radius!r}; expected one of {_RADII}")
    _validate(packets)
    n = len(packets)
    out = np.empty((n, schema.N_FEATURES), dtype=np.float64)
    if n == 0:
        return out
    ids, counts = _stream_ids(packets)
    n_l = _N_L
    lambdas = np.asarray(schema.DECAY_FACTORS, dtype=np.float64)
    var_sq = radius == "sqrt_var_sq_sum"
    ts = np.ascontiguousarray(packets["ts"], dtype=np.float64)
    size = np.ascontiguousarray(packets["size"], dtype=np.float64)

    def state(k: int, width: int = 3) -> np.ndarray:
        return np.zeros((k, n_l, width))

    mi, h, hh, jit, hp = (state(counts[k]) for k in ("mi", "h", "hh", "hh", "hp"))
    mi_last, h_last, hh_last, jit_last, hp_last = (
        np.zeros((counts[k], n_l)) for k in ("mi", "h", "hh", "hh", "hp")
    )
    hh_cov, hp_cov = state(counts["hh_pair"], 5), state(counts["hp_pair"], 5)
    bar = tqdm(total=n, unit="pkt", desc="AfterImage features", disable=not progress)
    with bar:
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            _kernel(start, stop, ts, size, ids, lambdas, var_sq, mi, mi_last, h, h_last, hh, hh_last, hh_cov,
                    jit, jit_last, hp, hp_last, hp_cov, out[start:stop])  # fmt: skip
            bar.update(stop - start)
    return out


def features_frame(
    packets: np.ndarray, *, radius: str = "sqrt_var_sq_sum", progress: bool = False
) -> pd.DataFrame:
    """``extract_features`` as a DataFrame of float32 columns named ``schema.FEATURES``."""
    values = extract_features(packets, radius=radius, progress=progress).astype(np.float32)
    return pd.DataFrame(values, columns=list(schema.FEATURES))
