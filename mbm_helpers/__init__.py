"""MBM-IoT helpers: N-BaIoT data, a traffic simulator, the CVAE detector and baselines."""

__version__ = "0.1.0"
