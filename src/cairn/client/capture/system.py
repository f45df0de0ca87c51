"""System metrics sampled while a run lives: CPU, memory, disk and network I/O, and GPUs.

A :class:`SystemSampler` takes one reading per call of :meth:`~SystemSampler.sample`, or one per
interval on a daemon thread between :meth:`~SystemSampler.start` and :meth:`~SystemSampler.stop`,
and hands each to a callback (the run logs it like any metrics). Every key starts with
``system/``. Sizes are in MB meaning MiB (2**20 bytes); counters (disk, network, CPU %) are
deltas since the previous reading, so the first reading covers the time since the sampler was
created.

GPUs are read through NVML (the ``pynvml`` module of the optional ``nvidia-ml-py`` package).
When it is not installed or NVML cannot start (no NVIDIA driver), GPU sampling is off for the
sampler's lifetime and :attr:`~SystemSampler.gpu_unavailable_reason` says why; nothing raises.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil  # type: ignore[import-untyped]  # psutil ships no type information

from cairn.client.writer import warn

MB = 1024 * 1024
_JOIN_TIMEOUT_S = 1.0


class SystemSampler:
    """Readings of one process (this one by default) and of the machine it runs on.

    ``pid`` picks another process to watch; its children are counted with it. ``gpu=False``
    skips NVML altogether.
    """

    def __init__(self, *, interval_s: float = 10.0, pid: int | None = None, gpu: bool = True):
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, not {interval_s!r}")
        self.interval_s = interval_s
        self._pid = os.getpid() if pid is None else pid
        self._process = psutil.Process(self._pid)
        self._created = time.monotonic()
        self._stopped: float | None = None  # the wall time ends here once stopped
        #: Why GPU metrics are not sampled (NVML missing or failing); None while they are, or
        #: before the first :meth:`sample` or :meth:`start` has tried NVML.
        self.gpu_unavailable_reason: str | None = None if gpu else "GPU sampling turned off"
        self._gpu_wanted = gpu
        self._nvml: Any = None  # the pynvml module once nvmlInit succeeded
        self._gpu_handles: list[Any] = []
        self._peak_rss = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._warned = False
        # Prime the counters so the first reading is a delta over the sampler's lifetime.
        self._cpu_percent()
        self._disk = self._disk_counters()
        self._net = self._net_counters()
        # A script may start several runs in one process: each run's CPU time starts here.
        self._cpu_time_at_start = self._cpu_time_s() or 0.0

    # -- one reading ------------------------------------------------------------------------

    def sample(self) -> dict[str, float]:
        """One reading. Keys whose source is unavailable on this platform are left out."""
        with self._lock:
            reading: dict[str, float] = {}
            cpu = self._cpu_percent()
            if cpu is not None:
                reading["system/cpu_percent"] = cpu
            rss = self._rss_bytes()
            if rss is not None:
                self._peak_rss = max(self._peak_rss, rss)
                reading["system/memory_rss_mb"] = rss / MB
            reading["system/memory_used_percent"] = float(psutil.virtual_memory().percent)
            disk = self._disk_counters()
            if disk is not None and self._disk is not None:
                reading["system/disk_read_mb"] = max(0, disk[0] - self._disk[0]) / MB
                reading["system/disk_write_mb"] = max(0, disk[1] - self._disk[1]) / MB
            self._disk = disk
            net = self._net_counters()
            if net is not None and self._net is not None:
                reading["system/net_sent_mb"] = max(0, net[0] - self._net[0]) / MB
                reading["system/net_recv_mb"] = max(0, net[1] - self._net[1]) / MB
            self._net = net
            reading.update(self._gpu_reading())
            return reading

    def summary(self) -> dict[str, float]:
        """Totals for the run: peak memory of the process, and the wall-clock and CPU time (with
        children) since the sampler was made."""
        with self._lock:
            rss = self._rss_bytes()
            peak = max(self._peak_rss, rss or 0, self._os_peak_rss_bytes())
            self._peak_rss = peak
            result = {
                "system/peak_rss_mb": peak / MB,
                "system/wall_time_s": (self._stopped or time.monotonic()) - self._created,
            }
            cpu_time = self._cpu_time_s()
            if cpu_time is not None:
                result["system/cpu_time_s"] = max(0.0, cpu_time - self._cpu_time_at_start)
            return result

    # -- the sampling thread ----------------------------------------------------------------

    def start(self, emit: Callable[[dict[str, float]], None]) -> None:
        """Call ``emit(self.sample())`` every ``interval_s`` on a daemon thread, the first time
        one interval from now, until :meth:`stop`. Errors in sampling or in ``emit`` are
        reported once on stderr and never stop the thread."""
        if self._thread is not None:
            raise RuntimeError("this SystemSampler is already started")
        with self._lock:
            self._ensure_gpu()  # here, so gpu_unavailable_reason is known when start returns
        self._stopped = None
        self._stop_event = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(emit, self._stop_event), name="cairn-system-metrics", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (at once, unless ``emit`` is busy: then wait for it a moment) and
        release NVML. The sampler can be started again."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopped = time.monotonic()
        self._stop_event.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(_JOIN_TIMEOUT_S)
        with self._lock:
            self._shutdown_gpu()

    def _loop(self, emit: Callable[[dict[str, float]], None], stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            try:
                emit(self.sample())
            except Exception as exc:  # a failing reading or callback must not end the thread
                if not self._warned:
                    self._warned = True
                    warn(
                        f"system metrics: {type(exc).__name__}: {exc} "
                        "(sampling goes on; further errors are not reported)"
                    )

    # -- the process and the machine ---------------------------------------------------------

    def _family(self) -> list[Any]:
        """The process and its live descendants (those that vanish meanwhile are skipped)."""
        try:
            return [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return [self._process]

    def _cpu_percent(self) -> float | None:
        try:
            return float(self._process.cpu_percent(interval=None))
        except psutil.Error:
            return None

    def _rss_bytes(self) -> int | None:
        total: int | None = None
        for process in self._family():
            try:
                total = (total or 0) + process.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _os_peak_rss_bytes(self) -> int:
        """The kernel's high-water mark: it sees peaks between readings that sampling misses."""
        if self._pid != os.getpid():
            return 0
        try:
            import resource
        except ImportError:  # Windows: psutil reports the peak working set instead
            try:
                return int(getattr(self._process.memory_info(), "peak_wset", 0))
            except psutil.Error:
                return 0
        # Linux reports KiB, macOS bytes. RUSAGE_CHILDREN is the largest waited-for child.
        unit = 1 if sys.platform == "darwin" else 1024
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        return int((own + children) * unit)

    def _cpu_time_s(self) -> float | None:
        """User and system time of the process, of its live descendants, and of the children
        they have waited for (a child's time moves there when it is reaped: never counted twice)."""
        total: float | None = None
        for process in self._family():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            total = (total or 0.0) + times.user + times.system
            total += getattr(times, "children_user", 0.0) + getattr(times, "children_system", 0.0)
        return total

    def _disk_counters(self) -> tuple[int, int] | None:
        # Bytes that reached storage (not the page cache); absent on macOS.
        if not hasattr(self._process, "io_counters"):
            return None
        try:
            io = self._process.io_counters()
        except (psutil.Error, OSError, NotImplementedError):
            return None
        return int(io.read_bytes), int(io.write_bytes)

    def _net_counters(self) -> tuple[int, int] | None:
        try:
            net = psutil.net_io_counters()
        except (psutil.Error, OSError):
            return None
        if net is None:  # no network interfaces
            return None
        return int(net.bytes_sent), int(net.bytes_recv)

    # -- GPUs through NVML ------------------------------------------------------------------

    def _ensure_gpu(self) -> None:
        """Start NVML once; on any failure, turn GPU sampling off for good and say why."""
        if not self._gpu_wanted or self._nvml is not None:
            return
        try:
            nvml = importlib.import_module("pynvml")
        except ModuleNotFoundError:
            self._disable_gpu("nvidia-ml-py is not installed (pip install nvidia-ml-py)")
            return
        except Exception as exc:
            self._disable_gpu(f"pynvml could not be imported: {_one_line(exc)}")
            return
        try:
            nvml.nvmlInit()
        except Exception as exc:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...
            self._disable_gpu(f"NVML could not start: {_one_line(exc)}")
            return
        try:
            self._gpu_handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
        except Exception as exc:
            self._disable_gpu(f"NVML could not list the GPUs: {_one_line(exc)}")
            _quietly(nvml.nvmlShutdown)
            return
        self._nvml = nvml
        self.gpu_unavailable_reason = None if self._gpu_handles else "NVML found no GPU"

    def _disable_gpu(self, reason: str) -> None:
        self._gpu_wanted = False
        self._gpu_handles = []
        self.gpu_unavailable_reason = reason

    def _shutdown_gpu(self) -> None:
        nvml, self._nvml = self._nvml, None
        self._gpu_handles = []
        if nvml is not None:
            _quietly(nvml.nvmlShutdown)

    def _gpu_reading(self) -> dict[str, float]:
        self._ensure_gpu()
        nvml = self._nvml
        reading: dict[str, float] = {}
        for i, handle in enumerate(self._gpu_handles):
            prefix = f"system/gpu.{i}."
            # Each query may be unsupported on a given card: skip that key, keep the others.
            with contextlib.suppress(Exception):
                reading[prefix + "utilization_percent"] = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
            with contextlib.suppress(Exception):
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
                reading[prefix + "memory_used_mb"] = memory.used / MB
                if memory.total:
                    reading[prefix + "memory_percent"] = 100.0 * memory.used / memory.total
            with contextlib.suppress(Exception):
                temperature = nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU)
                reading[prefix + "temperature_c"] = float(temperature)
        return reading


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        call()
