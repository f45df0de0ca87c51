"""Environment and command capture: quick, complete enough to rebuild the environment, and
never a secret in what is kept."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shlex
import sys
import time
import types
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from cairn.client.capture.command import capture_command, command_json
from cairn.client.capture.environment import (
    DEFAULT_ENV_ALLOW,
    capture_environment,
    environment_files,
    looks_secret,
    normalize_name,
    requirements_txt,
)

# -- environment -------------------------------------------------------------------------------


def test_the_environment_describes_this_interpreter_and_machine() -> None:
    env = capture_environment()

    assert env.python == ".".join(map(str, sys.version_info[:3]))
    assert env.executable == sys.executable
    assert env.implementation == "CPython"
    assert env.platform and env.machine
    assert env.cpu_count is not None and env.cpu_count >= 1
    if sys.platform == "linux":
        assert env.cpu_model
        assert env.memory_total_mb is not None and env.memory_total_mb > 0
    assert env.packages["pytest"] == importlib.metadata.version("pytest")
    assert env.packages["cairn"] == importlib.metadata.version("cairn")
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in env.packages)
    assert env.warnings == []


def test_packages_match_what_the_metadata_files_say() -> None:
    slow: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        slow.setdefault(normalize_name(dist.metadata["Name"]), dist.version)
    assert capture_environment().packages == slow


def test_packages_take_the_first_distribution_on_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, dist_info, version in (
        (first, "Fake_Pkg-1.0.dist-info", "1.0"),
        (second, "fake.pkg-2.0.dist-info", "2.0"),
    ):
        (folder / dist_info).mkdir(parents=True)
        (folder / dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: Fake.Pkg\nVersion: {version}\n")
    (second / "Legacy_Thing.egg-info").mkdir()
    (second / "Legacy_Thing.egg-info" / "PKG-INFO").write_text(
        "Metadata-Version: 1.0\nName: Legacy_Thing\nVersion: 3.1\n"
    )
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))

    packages = capture_environment().packages

    assert packages["fake-pkg"] == "1.0"
    assert packages["legacy-thing"] == "3.1"


@pytest.mark.parametrize(
    ("name", "normalized"),
    [("Foo_Bar", "foo-bar"), ("zope.interface", "zope-interface"), ("A--b__C..d", "a-b-c-d"), ("numpy", "numpy")],
)
def test_names_are_normalized_as_pep_503_says(name: str, normalized: str) -> None:
    assert normalize_name(name) == normalized


def test_only_allowed_variables_without_secrets_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "Zq3xR9vLm2KpT8wYb4NcH7jD1fGs6AeU0oIiVtB5"  # fixed: a random one may lack digits
    kept = {
        "CUDA_VISIBLE_DEVICES": "0,1",
        "OMP_NUM_THREADS": "4",
        "PYTHONHASHSEED": "0",
        "CAIRN_EXPERIMENT": "baseline",
        "CAIRN_HOME": "/home/someone/.cairn",
        "HF_HOME": "/data/huggingface/cache/with_a_long_folder_name",
    }
    dropped = {
        "CAIRN_TOKEN": "plain",  # the name says token
        "CAIRN_API_KEY": "plain",
        "CAIRN_DB_PASSWORD": "plain",
        "CAIRN_Auth_Header": "plain",  # case does not matter
        "cairn_secret_sauce": "plain",
        "MY_CREDENTIALS_FILE": "/etc/creds",
        "CAIRN_UPLOAD": token,  # the value looks like a token
        "CAIRN_MIRROR": "https://bob:hunter2@example.com/r",  # a password in a URL
        "PATH": "/usr/bin",  # not allowed
        "AWS_SECRET_ACCESS_KEY": "plain",
    }
    for name, value in {**kept, **dropped}.items():
        monkeypatch.setenv(name, value)
    allow = [*DEFAULT_ENV_ALLOW, "HF_HOME", "MY_CREDENTIALS_FILE", "AWS_SECRET_ACCESS_KEY"]

    env = capture_environment(env_allow=allow)

    chosen = {k: v for k, v in env.env_vars.items() if k in kept or k in dropped}
    assert chosen == kept
    document = b"".join(environment_files(env).values()).decode()
    assert token not in document and "hunter2" not in document
    assert sorted(w.split()[2] for w in env.warnings) == ["CAIRN_MIRROR", "CAIRN_UPLOAD"]


@pytest.mark.parametrize(
    "value",
    [
        "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS's example secret access key
        hashlib.sha256(b"x").hexdigest(),
        "postgresql://cairn:s3cret@db.internal:5432/cairn",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0",
    ],
)
def test_secret_looking_values(value: str) -> None:
    assert looks_secret(value)


@pytest.mark.parametrize(
    "value",
    [
        "0,1,2,3",
        "en_US.UTF-8",
        "/home/someone/projects/my_long_experiment_folder_name_v2",
        "max_split_size_mb:128,expandable_segments:True",
        "--xla_gpu_deterministic_ops=true --xla_force_host_platform_device_count=8",
        "https://cairn.example.com:8443/api",
        "ssh://git@github.com/org/repo.git",
        "resnet50_imagenet_2024_baseline_run",
        "ResNet50ImageNetBaselineRun2024",
        "GPU-5b3c0c68-1c4b-3e6e-8f0a-3b2c1e9d7a64",
    ],
)
def test_ordinary_values(value: str) -> None:
    assert not looks_secret(value)


def fake_nvml(**overrides: Any) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    calls: dict[str, Any] = {
        "nvmlInit": lambda: None,
        "nvmlShutdown": lambda: None,
        "nvmlSystemGetDriverVersion": lambda: b"550.54.15",
        "nvmlSystemGetCudaDriverVersion": lambda: 12040,
        "nvmlDeviceGetCount": lambda: 2,
        "nvmlDeviceGetHandleByIndex": lambda i: i,
        "nvmlDeviceGetName": lambda h: "NVIDIA A100-SXM4-80GB",
        "nvmlDeviceGetMemoryInfo": lambda h: types.SimpleNamespace(total=80 * 1024**3),
    }
    for name, call in {**calls, **overrides}.items():
        setattr(module, name, call)
    return module


def test_gpus_come_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml())
    env = capture_environment()
    assert env.gpus == [
        {
            "index": i,
            "name": "NVIDIA A100-SXM4-80GB",
            "memory_total_mb": 81920,
            "driver_version": "550.54.15",
            "cuda_version": "12.4",
        }
        for i in range(2)
    ]
    assert env.warnings == []


def test_nvml_that_does_not_start_is_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_driver() -> None:
        raise RuntimeError("Driver Not Loaded")

    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml(nvmlInit=no_driver))
    env = capture_environment()
    assert env.gpus == []
    assert env.warnings == ["no GPU information: NVML did not start (Driver Not Loaded)"]


def test_no_nvml_is_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import raises ImportError
    env = capture_environment()
    assert env.gpus == [] and env.warnings == []


def test_environment_files() -> None:
    assert requirements_txt({"numpy": "2.0.1", "attrs": "23.1", "Zed": "1"}) == "Zed==1\nattrs==23.1\nnumpy==2.0.1\n"
    env = capture_environment()
    files = environment_files(env)
    assert set(files) == {"requirements.txt", "environment.json"}
    assert files["requirements.txt"].decode() == requirements_txt(env.packages)
    text = files["environment.json"].decode()
    assert json.loads(text) == json.loads(json.dumps(asdict(env)))
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert environment_files(env) == files


def test_capturing_the_environment_is_quick() -> None:
    capture_environment()  # the first call imports psutil
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        env = capture_environment()
        best = min(best, time.perf_counter() - started)
    print(f"\ncapture_environment with {len(env.packages)} packages: {best * 1000:.1f} ms (best of 3)")
    assert best < 1.0


# -- command -------------------------------------------------------------------------------------


def test_the_command_of_a_script_with_config_files(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print(1)\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "base.yaml").write_text("lr: 0.1\n")
    (tmp_path / "extra.TOML").write_text("x = 1\n")
    argv = ["train.py", "--config=conf/base.yaml", "-c", "extra.TOML", "missing.json", "data.csv", "--name", "a b"]

    command = capture_command(argv, cwd=tmp_path)

    assert command.argv == argv
    assert command.cwd == tmp_path
    assert command.entry_script == tmp_path / "train.py"
    assert command.executable == sys.executable
    assert command.config_files == {
        "conf/base.yaml": hashlib.sha256(b"lr: 0.1\n").hexdigest(),
        "extra.TOML": hashlib.sha256(b"x = 1\n").hexdigest(),
    }
    assert shlex.split(command.shell_line) == [Path(sys.executable).name, *argv]
    assert command.warnings == []


@pytest.mark.parametrize("argv", [[""], ["-c"], ["/nowhere/ipykernel_launcher.py", "-f", "kernel.json"]])
def test_no_entry_script_in_a_repl_or_notebook(argv: list[str], tmp_path: Path) -> None:
    command = capture_command(argv, cwd=tmp_path)
    assert command.entry_script is None


def test_a_notebook_kernel_launcher_is_no_entry_script(tmp_path: Path) -> None:
    (tmp_path / "ipykernel_launcher.py").write_text("")
    assert capture_command([str(tmp_path / "ipykernel_launcher.py")], cwd=tmp_path).entry_script is None


def test_the_default_command_is_this_process() -> None:
    command = capture_command()
    assert command.argv == sys.argv
    assert command.cwd == Path.cwd()
    assert shlex.split(command.shell_line)[1:] == sys.orig_argv[1:]
    document = json.loads(command_json(command))
    assert document["argv"] == sys.argv and document["cwd"] == str(Path.cwd())
    assert command_json(command).endswith(b"}\n")


def test_a_deleted_working_directory_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    command = capture_command(["train.py", "conf.yaml"])
    assert command.entry_script is None and command.config_files == {}
    assert len(command.warnings) == 1 and "working directory" in command.warnings[0]
