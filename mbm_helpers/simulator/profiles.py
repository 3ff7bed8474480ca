"""Per-device behaviour parameters: addresses, cloud servers, message sizes, rates.

Each of the nine N-BaIoT devices gets a :class:`DeviceProfile` built from a few traffic
sources that mirror what such a device really does on its switch port:

- :class:`Service`: a request/response exchange repeated in time (cloud keep-alives, DNS,
  NTP, ARP, HTTPS telemetry with a TCP handshake per report);
- :class:`Stream`: a media stream sent in video frames or audio chunks, with the peer's TCP
  ACKs or RTCP reports coming back, continuous or in sessions (a doorbell's video when rung).

Sizes are Ethernet frame lengths as a switch-port capture reports them (at least 60 bytes).
The doorbell and thermostat parameters were tuned so that the extracted features land in the
ranges of the real N-BaIoT rows (see ``benchmarks/CALIBRATION.md``); the other devices follow
public descriptions of such products. Devices of one type share a template but get their own
addresses, servers and rates, so two cameras are alike but not identical.
"""

from __future__ import annotations

from dataclasses import dataclass

from mbm_helpers import schema
from mbm_helpers.packets import PROTO_ARP, PROTO_TCP, PROTO_UDP

#: The lab LAN: gateway (router, DNS and NTP relay) and the phone/NVR that views streams.
GATEWAY_IP = "192.168.1.1"
GATEWAY_MAC = "00:1d:aa:3c:51:02"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
NVR_IP = "192.168.1.50"
NVR_MAC = "3c:a0:67:11:20:05"
PHONE_IP = "192.168.1.61"
PHONE_MAC = "a4:d1:d2:6e:0b:37"

#: Frame sizes of a few fixed packets (Ethernet frames as captured on the switch port).
TCP_SYN = 74  # SYN with MSS, SACK, timestamps, window scale (Linux connect())
TCP_ACK = 66  # bare ACK with timestamps option
TCP_ACK_BARE = 60  # bare ACK without options, padded to the Ethernet minimum
ARP_FRAME = 60


@dataclass(frozen=True)
class Step:
    """One packet of an exchange: direction, frame size range and delay after the previous packet.

    ``delay`` is in seconds; ``rtt`` adds that many round-trip times of the service.
    """

    outbound: bool
    size: tuple[int, int]
    delay: float = 0.0
    rtt: float = 0.0


def tcp_exchange(request: tuple[int, int], response: tuple[int, int]) -> tuple[Step, ...]:
    """A short TCP connection: handshake, one request, one response, orderly close (10 packets)."""
    return (
        Step(True, (TCP_SYN, TCP_SYN)),
        Step(False, (TCP_SYN, TCP_SYN), rtt=1.0),
        Step(True, (TCP_ACK, TCP_ACK), delay=0.0002),
        Step(True, request, delay=0.001),
        Step(False, (TCP_ACK, TCP_ACK), rtt=1.0),
        Step(False, response, delay=0.02),
        Step(True, (TCP_ACK, TCP_ACK), delay=0.0003),
        Step(True, (TCP_ACK, TCP_ACK), delay=0.05),  # FIN
        Step(False, (TCP_ACK, TCP_ACK), rtt=1.0),  # FIN-ACK
        Step(True, (TCP_ACK, TCP_ACK), delay=0.0003),
    )


def request_response(request: tuple[int, int], response: tuple[int, int]) -> tuple[Step, ...]:
    """One request and its reply (UDP, or data on an open TCP connection)."""
    return (Step(True, request), Step(False, response, rtt=1.0))


@dataclass(frozen=True)
class Service:
    """A request/response exchange the device repeats (keep-alive, telemetry, DNS, NTP, ARP).

    ``period`` is the mean time between exchanges; ``jitter`` the relative standard deviation of
    that period (``None``: exponential gaps, i.e. a Poisson process). ``persistent`` keeps one
    device port for every exchange (a long-lived connection); otherwise each exchange takes the
    next ephemeral port. ``also`` lists further servers the same exchange goes to at the same
    moment (from the same port), as a P2P client refreshes all its relays at once.
    """

    name: str
    server_ip: str
    server_port: int
    proto: int
    steps: tuple[Step, ...]
    period: float
    jitter: float | None = 0.02
    persistent: bool = True
    rtt: float = 0.04
    server_mac: str = GATEWAY_MAC
    #: More servers sent the same exchange at the same moment, one after another (P2P relays).
    also: tuple[str, ...] = ()
    #: Chance that each server packet (reply) is seen at all (UDP keep-alives go unanswered).
    reply_prob: float = 1.0


@dataclass(frozen=True)
class Stream:
    """A media stream from the device to a peer, sent frame by frame.

    Each frame (every ``1/fps`` s) carries ``frame_bytes`` on average (lognormal, relative spread
    ``frame_spread``; every ``gop``-th frame is a key frame ``key_factor`` times larger) and is cut
    into packets of at most ``max_frame`` bytes sent back to back. The peer answers with one
    ``ack_size`` packet per ``ack_every`` data packets (TCP) or a report every ``report_period``
    seconds (RTCP over UDP). With ``on_mean`` > 0 the stream runs in sessions of exponential
    length ``on_mean`` separated by exponential pauses of mean ``off_mean``.
    """

    name: str
    peer_ip: str
    peer_port: int
    device_port: int
    proto: int
    fps: float
    frame_bytes: float
    frame_spread: float = 0.3
    gop: int = 0
    key_factor: float = 1.0
    max_frame: int = 1434
    header: int = 66
    ack_every: int = 0
    ack_size: int = TCP_ACK
    report_period: float = 0.0
    report_size: int = 110
    on_mean: float = 0.0
    off_mean: float = 0.0
    peer_mac: str = GATEWAY_MAC


@dataclass(frozen=True)
class DeviceProfile:
    """Everything the simulator needs to know about one device."""

    device: schema.Device
    ip: str
    mac: str
    services: tuple[Service, ...]
    streams: tuple[Stream, ...] = ()
    #: Packet rate the device's CPU and uplink sustain in a flood, relative to a doorbell.
    power: float = 1.0
    #: Mirai and BASHLITE scan rates (SYN packets per second, retransmissions included).
    mirai_scan_pps: float = 150.0
    gafgyt_scan_pps: float = 65.0
    #: Command-and-control servers of the two botnets.
    mirai_cnc: str = "185.62.190.17"
    gafgyt_cnc: str = "89.248.167.131"
    #: Victim of the floods.
    target_ip: str = "192.168.1.200"
    capture_start: float = 1.5060e9


def _infra(dns_period: float, ntp_period: float, arp_period: float) -> tuple[Service, ...]:
    """DNS look-ups, NTP and ARP with the gateway: every device does these."""
    return (
        Service(
            "dns",
            GATEWAY_IP,
            53,
            PROTO_UDP,
            request_response((74, 92), (90, 250)),
            period=dns_period,
            jitter=None,
            persistent=False,
            rtt=0.01,
        ),
        Service(
            "ntp",
            GATEWAY_IP,
            123,
            PROTO_UDP,
            request_response((90, 90), (90, 90)),
            period=ntp_period,
            jitter=0.01,
            persistent=True,
            rtt=0.01,
        ),
        Service(
            "arp",
            GATEWAY_IP,
            0,
            PROTO_ARP,
            request_response((ARP_FRAME, ARP_FRAME), (ARP_FRAME, ARP_FRAME)),
            period=arp_period,
            jitter=0.05,
            persistent=True,
            rtt=0.002,
        ),
    )


def _doorbell(
    d: schema.Device, ip: str, mac: str, relays: tuple[str, ...], period: float, cloud: str, **kw
) -> DeviceProfile:
    """Mostly idle: UDP keep-alives to P2P relays, a TCP cloud link, video bursts when rung."""
    keepalives = Service(
        "p2p-keepalive",
        relays[0],
        32100,
        PROTO_UDP,
        request_response((102, 102), (102, 102)),
        period=period,
        jitter=0.0005,
        rtt=0.08,
        also=relays[1:],
        reply_prob=0.03,
    )
    cloud_link = Service(
        "cloud-tcp-keepalive",
        cloud,
        443,
        PROTO_TCP,
        request_response((TCP_ACK_BARE, TCP_ACK_BARE), (TCP_ACK_BARE, TCP_ACK_BARE)),
        period=period / 2.0,
        jitter=0.01,
        rtt=0.08,
        reply_prob=0.05,
    )
    ring = Stream(
        "ring-video",
        relays[0],
        32100,
        16000,
        PROTO_UDP,
        fps=10,
        frame_bytes=1500,
        gop=10,
        key_factor=4,
        max_frame=1242,
        header=60,
        report_period=5.0,
        report_size=102,
        on_mean=6.0,
        off_mean=21600.0,
    )
    return DeviceProfile(d, ip, mac, (keepalives, cloud_link, *_infra(600, 1024, 300)), (ring,), **kw)


def _camera(
    d: schema.Device,
    ip: str,
    mac: str,
    *,
    fps: float,
    frame_bytes: float,
    tcp: bool,
    peer: str,
    on_mean: float,
    off_mean: float,
    cloud: str,
    **kw,
) -> DeviceProfile:
    """Video to an NVR (RTSP over TCP) or to a viewer via a P2P relay (RTP over UDP)."""
    peer_mac = NVR_MAC if peer == NVR_IP else (PHONE_MAC if peer == PHONE_IP else GATEWAY_MAC)
    if tcp:
        video = Stream(
            "rtsp-video",
            peer,
            50512,
            554,
            PROTO_TCP,
            fps=fps,
            frame_bytes=frame_bytes,
            gop=int(2 * fps),
            key_factor=5,
            max_frame=1514,
            header=66,
            ack_every=2,
            on_mean=on_mean,
            off_mean=off_mean,
            peer_mac=peer_mac,
        )
    else:
        video = Stream(
            "rtp-video",
            peer,
            41000,
            6970,
            PROTO_UDP,
            fps=fps,
            frame_bytes=frame_bytes,
            gop=int(2 * fps),
            key_factor=5,
            max_frame=1370,
            header=54,
            report_period=5.0,
            on_mean=on_mean,
            off_mean=off_mean,
            peer_mac=peer_mac,
        )
    services = (
        Service(
            "cloud-status",
            cloud,
            443,
            PROTO_TCP,
            tcp_exchange((180, 420), (120, 360)),
            period=30.0,
            jitter=0.05,
            persistent=False,
            rtt=0.09,
        ),
        Service(
            "ssdp-notify",
            "239.255.255.250",
            1900,
            PROTO_UDP,
            (Step(True, (330, 360)), Step(True, (330, 360), 0.1)),
            period=90.0,
            jitter=0.02,
            server_mac="01:00:5e:7f:ff:fa",
        ),
        *_infra(300, 1024, 240),
    )
    return DeviceProfile(d, ip, mac, services, (video,), **kw)


def _build() -> dict[str, DeviceProfile]:
    dev = {d.id: d for d in schema.DEVICES}
    profiles = [
        _doorbell(
            dev[1],
            "192.168.1.11",
            "ec:1a:59:2b:11:4d",
            ("47.88.12.170", "52.74.33.201", "120.24.66.19", "54.179.2.76", "8.209.73.14"),
            period=39.0,
            cloud="52.28.108.61",
            power=1.0,
            mirai_scan_pps=157.0,
            gafgyt_scan_pps=65.0,
            capture_start=1.50601e9,
        ),
        DeviceProfile(
            dev[2],
            "192.168.1.12",
            "44:61:32:a9:0c:17",
            (
                # one long-lived TLS connection: sensor reports and pushed settings, ACKed late
                Service(
                    "telemetry",
                    "52.2.120.44",
                    443,
                    PROTO_TCP,
                    (
                        Step(True, (110, 600)),
                        Step(False, (60, 460), delay=0.25, rtt=1.0),
                        Step(True, (TCP_ACK_BARE, TCP_ACK_BARE), delay=0.2),
                    ),
                    period=26.0,
                    jitter=0.6,
                    rtt=0.07,
                ),
                Service(
                    "weather",
                    "34.199.8.230",
                    443,
                    PROTO_TCP,
                    tcp_exchange((260, 420), (380, 900)),
                    period=900.0,
                    jitter=0.1,
                    persistent=False,
                    rtt=0.09,
                ),
                *_infra(900, 1024, 300),
            ),
            power=0.8,
            mirai_scan_pps=133.0,
            gafgyt_scan_pps=60.0,
            capture_start=1.50611e9,
        ),
        _doorbell(
            dev[3],
            "192.168.1.13",
            "00:12:17:5a:e0:93",
            ("119.23.151.7", "47.91.88.208", "39.108.12.90"),
            period=30.0,
            cloud="120.77.31.42",
            power=0.9,
            mirai_scan_pps=0.0,
            gafgyt_scan_pps=58.0,
            capture_start=1.50621e9,
        ),
        DeviceProfile(
            dev[4],
            "192.168.1.14",
            "00:17:88:71:3e:c2",
            (
                Service(
                    "cloud-keepalive",
                    "54.93.50.186",
                    443,
                    PROTO_TCP,
                    request_response((120, 140), (100, 120)) + (Step(True, (TCP_ACK, TCP_ACK), 0.0004),),
                    period=20.0,
                    jitter=0.02,
                    rtt=0.05,
                ),
                *_infra(600, 1024, 300),
            ),
            (
                Stream(
                    "audio",
                    PHONE_IP,
                    40002,
                    5002,
                    PROTO_UDP,
                    fps=25,
                    frame_bytes=160,
                    frame_spread=0.05,
                    max_frame=1370,
                    header=54,
                    report_period=5.0,
                    peer_mac=PHONE_MAC,
                ),
                Stream(
                    "video",
                    PHONE_IP,
                    40000,
                    5000,
                    PROTO_UDP,
                    fps=10,
                    frame_bytes=3200,
                    gop=20,
                    key_factor=4,
                    max_frame=1370,
                    header=54,
                    report_period=5.0,
                    peer_mac=PHONE_MAC,
                ),
            ),
            power=1.2,
            mirai_scan_pps=170.0,
            gafgyt_scan_pps=70.0,
            capture_start=1.50631e9,
        ),
        _camera(
            dev[5],
            "192.168.1.15",
            "00:2a:2a:8b:14:61",
            fps=15,
            frame_bytes=9000,
            tcp=True,
            peer=NVR_IP,
            on_mean=0.0,
            off_mean=0.0,
            cloud="47.254.11.80",
            power=1.6,
            mirai_scan_pps=190.0,
            gafgyt_scan_pps=75.0,
            capture_start=1.50641e9,
        ),
        _camera(
            dev[6],
            "192.168.1.16",
            "00:2a:2a:8b:19:a4",
            fps=12,
            frame_bytes=11000,
            tcp=True,
            peer=NVR_IP,
            on_mean=0.0,
            off_mean=0.0,
            cloud="47.254.11.81",
            power=1.7,
            mirai_scan_pps=200.0,
            gafgyt_scan_pps=78.0,
            capture_start=1.50651e9,
        ),
        _camera(
            dev[7],
            "192.168.1.17",
            "00:16:6c:d4:70:2e",
            fps=20,
            frame_bytes=6500,
            tcp=True,
            peer="54.148.210.7",
            on_mean=240.0,
            off_mean=60.0,
            cloud="54.148.210.9",
            power=1.5,
            mirai_scan_pps=0.0,
            gafgyt_scan_pps=72.0,
            capture_start=1.50661e9,
        ),
        _camera(
            dev[8],
            "192.168.1.18",
            "e8:ab:fa:30:5c:01",
            fps=10,
            frame_bytes=5200,
            tcp=False,
            peer=PHONE_IP,
            on_mean=300.0,
            off_mean=40.0,
            cloud="115.28.204.52",
            power=1.3,
            mirai_scan_pps=165.0,
            gafgyt_scan_pps=68.0,
            capture_start=1.50671e9,
        ),
        _camera(
            dev[9],
            "192.168.1.19",
            "e8:ab:fa:30:61:9e",
            fps=12,
            frame_bytes=4700,
            tcp=False,
            peer=PHONE_IP,
            on_mean=200.0,
            off_mean=60.0,
            cloud="115.28.204.53",
            power=1.3,
            mirai_scan_pps=160.0,
            gafgyt_scan_pps=66.0,
            capture_start=1.50681e9,
        ),
    ]
    return {p.device.name: p for p in profiles}


#: Device folder name -> profile, in schema order.
PROFILES: dict[str, DeviceProfile] = _build()


def profile(name_or_id: str | int) -> DeviceProfile:
    """The profile of a device given by folder name or id (``ValueError`` if unknown)."""
    try:
        return PROFILES[schema.device(name_or_id).name]
    except KeyError as err:
        raise ValueError(str(err.args[0])) from None
