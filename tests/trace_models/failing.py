"""Trace targets that misbehave: raise (reporting what the sandbox looks like), sleep, return a non-model."""

import os
import socket
import time


def probe():
    env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")}
    try:
        socket.create_connection(("93.184.216.34", 80), timeout=1)
        net = "open"
    except OSError as e:
        net = f"blocked ({type(e).__name__})"
    print("user code printing to stdout must not corrupt the protocol")
    return env, net


def build():
    env, net = probe()
    raise RuntimeError(f"no weights here env={env} net={net}")


def build_slowly():
    time.sleep(60)


def not_a_model():
    return 42


def build_hungry():
    hog = bytearray(600 * 2**20)
    hog[::4096] = b"\x01" * len(range(0, len(hog), 4096))  # touch every page: resident
    time.sleep(30)
    return hog
