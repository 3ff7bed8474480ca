"""Simulated IoT traffic for the embedded default sample (see ``mbm_helpers.sample_data``).

- ``profiles``: per-device behaviour parameters (addresses, servers, sizes, rates);
- ``benign``: a device's benign services and streams as packets;
- ``attacks``: the ten Mirai and BASHLITE attacks and the bots' C&C traffic as packets;
- ``capture``: one capture assembled and turned into the 115 N-BaIoT features.
"""

from mbm_helpers.simulator.capture import capture_packets, simulate_file
from mbm_helpers.simulator.profiles import PROFILES, DeviceProfile, profile

__all__ = ["PROFILES", "DeviceProfile", "capture_packets", "profile", "simulate_file"]
