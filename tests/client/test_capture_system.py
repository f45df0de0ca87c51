"""System metrics: sane readings without a GPU, NVML failing or faked, and the sampling thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from cairn.client.capture.system import MB, SystemSampler

BASE_KEYS = {
    "system/cpu_percent",
    "system/memory_rss_mb",
    "system/memory_used_percent",
    "system/net_sent_mb",
    "system/net_recv_mb",
}
DELTA_KEYS = ["system/disk_read_mb", "system/disk_write_mb", "system/net_sent_mb", "system/net_recv_mb"]


class NVMLError(Exception):
    pass


def fake_nvml(*, init_error: str | None = None, gpus: int = 2) -> ModuleType:
    """A stand-in for nvidia-ml-py's ``pynvml``: GPU i is i*10 % busy, uses (i+1) GiB of 8 GiB,
    at 60+i °C; GPU 1 cannot report its temperature."""
    module = ModuleType("pynvml")
    calls: dict[str, int] = {"init": 0, "shutdown": 0}

    def nvmlInit() -> None:
        calls["init"] += 1
        if init_error:
            raise NVMLError(init_error)

    def nvmlShutdown() -> None:
        calls["shutdown"] += 1

    def nvmlDeviceGetTemperature(handle: int, sensor: int) -> int:
        assert sensor == module.NVML_TEMPERATURE_GPU
        if handle == 1:
            raise NVMLError("Not Supported")
        return 60 + handle

    module.__dict__.update(
        calls=calls,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=nvmlInit,
        nvmlShutdown=nvmlShutdown,
        nvmlDeviceGetCount=lambda: gpus,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=h * 10, memory=5),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=(h + 1) * 1024 * MB, total=8 * 1024 * MB, free=0),
        nvmlDeviceGetTemperature=nvmlDeviceGetTemperature,
    )
    return module


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes ``import pynvml`` fail even where nvidia-ml-py is installed.
    monkeypatch.setitem(sys.modules, "pynvml", None)


@pytest.mark.usefixtures("no_nvml")
def test_a_reading_without_gpu_is_sane(tmp_path: Path) -> None:
    sampler = SystemSampler()
    (tmp_path / "data.bin").write_bytes(b"x" * MB)
    sum(i * i for i in range(200_000))  # some CPU time
    reading = sampler.sample()

    assert BASE_KEYS <= reading.keys()
    assert all(key.startswith("system/") for key in reading)
    assert all(isinstance(value, float) for value in reading.values())
    assert not [key for key in reading if key.startswith("system/gpu")]
    assert reading["system/cpu_percent"] >= 0
    assert reading["system/memory_rss_mb"] > 1
    assert 0 < reading["system/memory_used_percent"] <= 100
    if sys.platform == "linux":
        assert {"system/disk_read_mb", "system/disk_write_mb"} <= reading.keys()
    for _ in range(3):
        reading = sampler.sample()
        assert all(reading[key] >= 0 for key in DELTA_KEYS if key in reading)
    assert sampler.gpu_unavailable_reason is not None
    assert "nvidia-ml-py is not installed" in sampler.gpu_unavailable_reason


@pytest.mark.usefixtures("no_nvml")
def test_summary_has_peak_wall_and_cpu_time() -> None:
    sampler = SystemSampler()
    ballast = b"x" * (64 * MB)  # written, so its pages are resident
    with_ballast = sampler.sample()["system/memory_rss_mb"]
    del ballast
    now = sampler.sample()["system/memory_rss_mb"]
    summary = sampler.summary()

    assert set(summary) == {"system/peak_rss_mb", "system/wall_time_s", "system/cpu_time_s"}
    assert summary["system/peak_rss_mb"] >= max(with_ballast, now)
    assert with_ballast > 50
    assert summary["system/wall_time_s"] > 0
    assert summary["system/cpu_time_s"] > 0


def test_nvml_failing_to_start_turns_gpus_off_for_good(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(init_error="Driver Not Loaded\n(second line)")
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemSampler()
    assert sampler.gpu_unavailable_reason is None  # NVML is only tried when sampling starts

    for _ in range(3):
        reading = sampler.sample()
        assert not [key for key in reading if key.startswith("system/gpu")]
        assert BASE_KEYS <= reading.keys()
    assert nvml.calls["init"] == 1
    assert sampler.gpu_unavailable_reason == "NVML could not start: NVMLError: Driver Not Loaded (second line)"


def test_gpu_metrics_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml(gpus=2)
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemSampler(interval_s=60)
    sampler.start(lambda reading: None)
    assert sampler.gpu_unavailable_reason is None
    reading = sampler.sample()
    sampler.stop()

    gpu = {key: value for key, value in reading.items() if key.startswith("system/gpu")}
    assert gpu == {
        "system/gpu.0.utilization_percent": 0.0,
        "system/gpu.0.memory_used_mb": 1024.0,
        "system/gpu.0.memory_percent": 12.5,
        "system/gpu.0.temperature_c": 60.0,
        "system/gpu.1.utilization_percent": 10.0,
        "system/gpu.1.memory_used_mb": 2048.0,
        "system/gpu.1.memory_percent": 25.0,
        # no temperature: that query failed on GPU 1, the others still count
    }
    assert nvml.calls == {"init": 1, "shutdown": 1}


def test_gpu_sampling_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = fake_nvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = SystemSampler(gpu=False)
    assert not [key for key in sampler.sample() if key.startswith("system/gpu")]
    assert nvml.calls["init"] == 0
    assert sampler.gpu_unavailable_reason == "GPU sampling turned off"


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        SystemSampler(interval_s=0)


@pytest.mark.usefixtures("no_nvml")
def test_another_process_by_pid() -> None:
    script = "import sys, time; print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"  # Python is up: RSS is real
        sampler = SystemSampler(pid=child.pid)
        reading = sampler.sample()
        summary = sampler.summary()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert reading["system/memory_rss_mb"] > 1
    assert summary["system/peak_rss_mb"] >= reading["system/memory_rss_mb"]


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.usefixtures("no_nvml")
def test_thread_emits_every_interval_and_stops_at_once() -> None:
    readings: list[dict[str, float]] = []
    sampler = SystemSampler(interval_s=0.05)
    started = time.monotonic()
    sampler.start(readings.append)
    try:
        assert not readings  # the first reading comes after one interval
        wait_for(lambda: len(readings) >= 3)
    finally:
        before_stop = time.monotonic()
        sampler.stop()
    assert time.monotonic() - before_stop < 1.0
    assert time.monotonic() - started >= 3 * 0.05
    assert all(BASE_KEYS <= reading.keys() for reading in readings)
    assert not [t for t in threading.enumerate() if t.name == "cairn-system-metrics"]
    count = len(readings)
    time.sleep(0.15)
    assert len(readings) == count


@pytest.mark.usefixtures("no_nvml")
def test_a_failing_emit_warns_once_and_sampling_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    emitted: list[dict[str, float]] = []

    def emit(reading: dict[str, float]) -> None:
        emitted.append(reading)
        if len(emitted) <= 3:
            raise RuntimeError("store is down")

    sampler = SystemSampler(interval_s=0.02)
    sampler.start(emit)
    try:
        wait_for(lambda: len(emitted) >= 6)
    finally:
        sampler.stop()
    err = capsys.readouterr().err
    assert err.count("cairn: warning: ") == 1
    assert "system metrics: RuntimeError: store is down" in err


@pytest.mark.usefixtures("no_nvml")
def test_start_twice_is_an_error() -> None:
    sampler = SystemSampler(interval_s=60)
    sampler.start(lambda reading: None)
    try:
        with pytest.raises(RuntimeError, match="already started"):
            sampler.start(lambda reading: None)
    finally:
        sampler.stop()
    sampler.stop()  # stopping again is harmless
