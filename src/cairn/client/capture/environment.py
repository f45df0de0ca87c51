"""The environment a run ran in: Python, installed packages, the machine, GPUs, chosen variables.

:func:`capture_environment` is quick (a few tens of milliseconds: package names and versions
come from the metadata folders' names, no subprocess) and never raises: what it cannot read is
left empty and said in :attr:`Environment.warnings`. :func:`environment_files` turns the result
into ``requirements.txt`` and ``environment.json``.

Environment variables are captured only from an allow-list (:data:`DEFAULT_ENV_ALLOW` and any
``CAIRN_*``), and even then never one whose name speaks of a key, token, secret, password,
credential or auth, nor one whose value looks like a secret (a long, random-looking string, or
a URL with a password in it).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import string
import sys
import warnings as _warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

#: Variables that change what a run computes or how fast: devices, threads, hashing, locale.
DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_LAUNCH_BLOCKING",
    "CUBLAS_WORKSPACE_CONFIG",
    "NVIDIA_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "PYTHONHASHSEED",
    "PYTHONOPTIMIZE",
    "TF_CPP_MIN_LOG_LEVEL",
    "TF_DETERMINISTIC_OPS",
    "TF_ENABLE_ONEDNN_OPTS",
    "XLA_FLAGS",
    "JAX_PLATFORMS",
    "JAX_ENABLE_X64",
    "WORLD_SIZE",
    "RANK",
    "LOCAL_RANK",
    "LANG",
    "LC_ALL",
)
#: Cairn's own credentials: never captured, whatever the name rule below would say (it says the
#: same today; this list keeps them out should that rule ever change).
NEVER_CAPTURED = frozenset({"CAIRN_TOKEN", "CAIRN_ADMIN_PASSWORD"})
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
# The parts of a value checked for randomness (``/`` is base64, and stays in).
_VALUE_PARTS = re.compile(r"[\s:@?&=,;]+")
_URL_PASSWORD = re.compile(r"://[^/@\s:]*:[^/@\s]+@")
T = TypeVar("T")


@dataclass(frozen=True)
class Environment:
    """What :func:`capture_environment` found. Sizes are in MB meaning MiB (2**20 bytes)."""

    python: str
    executable: str
    implementation: str
    #: Distribution name (PEP 503 normalised: lowercase, runs of ``-_.`` as one ``-``) → version.
    packages: dict[str, str]
    platform: str
    machine: str
    cpu_model: str | None
    cpu_count: int | None
    memory_total_mb: int | None
    #: One dict per GPU: ``index``, ``name``, ``memory_total_mb``, ``driver_version``, ``cuda_version``.
    gpus: list[dict[str, Any]]
    env_vars: dict[str, str]
    warnings: list[str] = field(default_factory=list)


def capture_environment(*, env_allow: Sequence[str] = DEFAULT_ENV_ALLOW) -> Environment:
    """Describe this interpreter, its packages and the machine; never raises."""
    warnings: list[str] = []
    return Environment(
        python=platform.python_version(),
        executable=sys.executable,
        implementation=platform.python_implementation(),
        packages=_guarded(_packages, {}, warnings, "installed packages"),
        platform=_guarded(platform.platform, "", warnings, "platform"),
        machine=platform.machine(),
        cpu_model=_guarded(_cpu_model, None, warnings, "CPU model"),
        cpu_count=os.cpu_count(),
        memory_total_mb=_guarded(_memory_total_mb, None, warnings, "memory size"),
        gpus=_guarded(lambda: _gpus(warnings), [], warnings, "GPUs"),
        env_vars=_guarded(lambda: _env_vars(env_allow, os.environ, warnings), {}, warnings, "environment variables"),
        warnings=warnings,
    )


def requirements_txt(packages: Mapping[str, str]) -> str:
    """``name==version`` lines sorted by name, for ``pip install -r``."""
    return "".join(f"{name}=={version}\n" for name, version in sorted(packages.items()))


def environment_files(env: Environment) -> dict[str, bytes]:
    """``requirements.txt`` and ``environment.json`` (canonical: sorted keys, indent 2, final newline)."""
    document = json.dumps(asdict(env), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    return {"requirements.txt": requirements_txt(env.packages).encode(), "environment.json": document.encode()}


def normalize_name(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Foo_Bar.baz`` → ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def looks_secret(value: str) -> bool:
    """Whether a value may be a credential: a URL with a password, or a run of 20 characters or
    more with letters and digits that is hex of 32 or more, or as random as a token: a Shannon
    entropy per character above what 99.9% of random alphanumeric strings of its length reach
    (about ``0.8 * log2(length) + 0.1`` bits). Words, paths and identifiers stay below."""
    if _URL_PASSWORD.search(value):
        return True
    for part in _VALUE_PARTS.split(value):
        if len(part) < 20 or not (any(c.isdigit() for c in part) and any(c.isalpha() for c in part)):
            continue
        if len(part) >= 32 and all(c in string.hexdigits for c in part):
            return True
        counts = Counter(part).values()
        entropy = -sum(n / len(part) * math.log2(n / len(part)) for n in counts)
        if entropy >= 0.8 * math.log2(min(len(part), 64)) + 0.1:
            return True
    return False


def _guarded(read: Callable[[], T], fallback: T, warnings: list[str], what: str) -> T:
    try:
        result = read()
    except Exception as exc:  # an odd machine must not stop the run
        warnings.append(f"cannot read the {what}: {exc!r}")
        return fallback
    return result


def _packages() -> dict[str, str]:
    packages: dict[str, str] = {}
    for dist in importlib.metadata.distributions():  # in sys.path order: the first one wins
        name_version = _from_folder_name(dist)
        if name_version is None:
            # Slow path (parses the METADATA file): egg-info folders, custom finders.
            name, version = dist.metadata["Name"], dist.version
            if not name or not version:
                continue
            name_version = normalize_name(name), version
        packages.setdefault(*name_version)
    return packages


def _from_folder_name(dist: importlib.metadata.Distribution) -> tuple[str, str] | None:
    """Name and version from ``{name}-{version}.dist-info``, as the wheel spec names it: reading
    every METADATA file costs ~0.6 ms a package, the folder name nothing. ``_path`` is the
    folder of a :class:`importlib.metadata.PathDistribution` (private but there since 3.8;
    anything else takes the slow path)."""
    path = getattr(dist, "_path", None)
    if not isinstance(path, Path) or path.suffix != ".dist-info":
        return None
    name, dash, version = path.name[: -len(".dist-info")].partition("-")
    if not dash or not name or not version or "-" in version:
        return None
    return normalize_name(name), version


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_total_mb() -> int | None:
    try:
        psutil = importlib.import_module("psutil")
    except ImportError:
        pass
    else:
        return int(psutil.virtual_memory().total) // (1 << 20)
    try:
        with open("/proc/meminfo", encoding="ascii", errors="replace") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024  # in kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _gpus(warnings: list[str]) -> list[dict[str, Any]]:
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # the old ``pynvml`` package warns it is deprecated
            nvml = importlib.import_module("pynvml")
    except ImportError:
        return []
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded...
        warnings.append(f"no GPU information: NVML did not start ({exc})")
        return []
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
        try:
            cuda_int = int(nvml.nvmlSystemGetCudaDriverVersion())
            cuda: str | None = f"{cuda_int // 1000}.{cuda_int % 1000 // 10}"
        except Exception:
            cuda = None
        gpus = []
        for index in range(int(nvml.nvmlDeviceGetCount())):
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
            gpus.append(
                {
                    "index": index,
                    "name": _text(nvml.nvmlDeviceGetName(handle)),
                    "memory_total_mb": int(nvml.nvmlDeviceGetMemoryInfo(handle).total) // (1 << 20),
                    "driver_version": driver,
                    "cuda_version": cuda,
                }
            )
        return gpus
    except Exception as exc:
        warnings.append(f"no GPU information: NVML failed ({exc})")
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass


def _text(value: object) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _env_vars(allow: Sequence[str], environ: Mapping[str, str], warnings: list[str]) -> dict[str, str]:
    allowed = set(allow)
    chosen: dict[str, str] = {}
    for name in sorted(environ):
        if name in NEVER_CAPTURED or not (name in allowed or name.startswith("CAIRN_")) or _SECRET_NAME.search(name):
            continue
        value = environ[name]
        if looks_secret(value):
            warnings.append(f"environment variable {name} is left out: its value looks like a secret")
            continue
        chosen[name] = value
    return chosen
