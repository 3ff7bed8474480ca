"""The N-BaIoT schema: feature names, devices, device types, botnets and attacks.

Every other module takes these names from here, so there is one place to read
what the dataset looks like (facts from Meidan et al., 2018).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Decay factors (lambda) of the damped statistics, in file order.
DECAY_FACTORS: tuple[float, ...] = (5.0, 3.0, 1.0, 0.1, 0.01)
#: How each decay factor is spelled in the column names.
WINDOW_NAMES: tuple[str, ...] = ("L5", "L3", "L1", "L0.1", "L0.01")

_ONE_D_STATS = ("weight", "mean", "variance")
_TWO_D_STATS = ("weight", "mean", "std", "magnitude", "radius", "covariance", "pcc")

#: Feature groups in file order: name prefix -> statistics per window.
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "MI_dir": _ONE_D_STATS,  # outbound packet sizes per source MAC-IP
    "H": _ONE_D_STATS,  # packet sizes per source IP
    "HH": _TWO_D_STATS,  # channel source IP -> destination IP
    "HH_jit": _ONE_D_STATS,  # inter-arrival times on the channel
    "HpHp": _TWO_D_STATS,  # socket srcIP:port -> dstIP:port
}


def _feature_names() -> tuple[str, ...]:
    return tuple(
        f"{group}_{window}_{stat}"
        for group, stats in FEATURE_GROUPS.items()
        for window in WINDOW_NAMES
        for stat in stats
    )


#: The 115 feature columns, in the order every N-BaIoT CSV has them.
FEATURES: tuple[str, ...] = _feature_names()
N_FEATURES = len(FEATURES)
assert N_FEATURES == 115


def feature_group(name: str) -> str:
    """The group (``MI_dir``, ``H``, ``HH``, ``HH_jit``, ``HpHp``) of a feature column."""
    for group in sorted(FEATURE_GROUPS, key=len, reverse=True):
        if name.startswith(group + "_L"):
            return group
    raise KeyError(f"{name!r} is not an N-BaIoT feature name")


@dataclass(frozen=True)
class Device:
    """One N-BaIoT device: its numeric id, folder name and device type."""

    id: int
    name: str
    type: str
    has_mirai: bool = True


DEVICES: tuple[Device, ...] = (
    Device(1, "Danmini_Doorbell", "doorbell"),
    Device(2, "Ecobee_Thermostat", "thermostat"),
    Device(3, "Ennio_Doorbell", "doorbell", has_mirai=False),
    Device(4, "Philips_B120N10_Baby_Monitor", "baby_monitor"),
    Device(5, "Provision_PT_737E_Security_Camera", "security_camera"),
    Device(6, "Provision_PT_838_Security_Camera", "security_camera"),
    Device(7, "Samsung_SNH_1011_N_Webcam", "webcam", has_mirai=False),
    Device(8, "SimpleHome_XCS7_1002_WHT_Security_Camera", "security_camera"),
    Device(9, "SimpleHome_XCS7_1003_WHT_Security_Camera", "security_camera"),
)
DEVICE_NAMES: tuple[str, ...] = tuple(d.name for d in DEVICES)
DEVICE_TYPES: tuple[str, ...] = tuple(dict.fromkeys(d.type for d in DEVICES))
DEVICES_WITHOUT_MIRAI: tuple[str, ...] = tuple(d.name for d in DEVICES if not d.has_mirai)

BOTNETS: tuple[str, ...] = ("benign", "gafgyt", "mirai")
#: Attack files per botnet, as named inside each botnet's archive.
ATTACK_FILES: dict[str, tuple[str, ...]] = {
    "gafgyt": ("combo", "junk", "scan", "tcp", "udp"),
    "mirai": ("ack", "scan", "syn", "udp", "udpplain"),
}
#: The ten attacks, as ``<botnet>_<attack>`` labels.
ATTACKS: tuple[str, ...] = tuple(f"{b}_{a}" for b, files in ATTACK_FILES.items() for a in files)
#: Every value of the ``attack`` column: ``benign`` plus the ten attacks.
CLASSES: tuple[str, ...] = ("benign", *ATTACKS)
#: Readable names for figures: BASHLITE is the family gafgyt belongs to.
BOTNET_DISPLAY = {"benign": "benign", "gafgyt": "BASHLITE", "mirai": "Mirai"}

#: Non-feature columns of the tidy table the loader returns.
LABEL_COLUMNS: tuple[str, ...] = ("device", "device_type", "botnet", "attack", "row")


def device(name_or_id: str | int) -> Device:
    """Look a device up by folder name or numeric id; unknown ones raise ``KeyError``."""
    for d in DEVICES:
        if name_or_id in (d.id, d.name) or str(name_or_id) == str(d.id):
            return d
    raise KeyError(
        f"unknown N-BaIoT device {name_or_id!r}; expected one of ids 1-9 or {', '.join(DEVICE_NAMES)}"
    )


def attack_label(botnet: str, attack_file: str | None = None) -> str:
    """The ``attack`` label for a botnet and attack file name (``benign`` for benign rows)."""
    if botnet == "benign":
        return "benign"
    if botnet not in ATTACK_FILES or attack_file not in ATTACK_FILES[botnet]:
        raise KeyError(f"unknown N-BaIoT attack {botnet!r}/{attack_file!r}")
    return f"{botnet}_{attack_file}"


def files_of(device_name: str) -> list[tuple[str, str]]:
    """The (botnet, attack label) pairs one device has files for, benign first."""
    d = device(device_name)
    return [("benign", "benign")] + [
        (b, f"{b}_{a}")
        for b, files in ATTACK_FILES.items()
        if b != "mirai" or d.has_mirai
        for a in files
    ]

#: Rows per file in the official N-BaIoT release, by device id then ``attack`` label.
OFFICIAL_ROW_COUNTS: dict[int, dict[str, int]] = {
    device_id: dict(zip(CLASSES, counts, strict=False))
    for device_id, counts in {
        1: (49548, 59718, 29068, 29849, 92141, 105874, 102195, 107685, 122573, 237665, 81982),
        2: (13113, 53012, 30312, 27494, 95021, 104791, 113285, 43192, 116807, 151481, 87368),
        3: (39100, 53014, 29797, 28120, 101536, 103933),
        4: (175240, 58152, 28349, 27859, 92581, 105782, 91123, 103621, 118128, 217034, 80808),
        5: (62154, 61380, 30898, 29297, 104510, 104011, 60554, 96781, 65746, 156248, 56681),
        6: (98514, 57530, 29068, 28397, 89387, 104658, 57997, 97096, 61851, 158608, 53785),
        7: (52150, 58669, 28305, 27698, 97783, 110617),
        8: (46585, 54283, 28579, 27825, 88816, 103720, 111480, 45930, 125715, 151879, 78244),
        9: (19528, 59398, 27413, 28572, 98075, 102980, 107187, 43674, 122479, 157084, 84436),
    }.items()
}
