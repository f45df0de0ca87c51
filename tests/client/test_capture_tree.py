"""Code capture as a tree: a dirty git work tree written back file by file hashes like the
original, and every odd repository (detached, unborn, shallow, no git at all) or odd file
(credentials, links, huge, unreadable) degrades to a one-line warning."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from cairn.client.capture import tree as tree_module
from cairn.client.capture.tree import CodeTree, capture_tree, strip_credentials, tree_digest, work_tree_digest


@pytest.fixture(autouse=True)
def isolated_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system or user git config, and no repository above ``tmp_path`` is ever found."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_CONFIG_GLOBAL", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, timeout=60, check=True)
    return done.stdout.decode()


def new_repo(path: Path, files: dict[str, bytes] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    git(path, "config", "commit.gpgsign", "false")
    if files:
        write(path, files)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "first")
    return path.resolve()


def write(root: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)


def captured(tree: CodeTree) -> set[str]:
    return {relative for relative, _ in tree.files}


def write_back(tree: CodeTree, target: Path) -> None:
    """What ``cairn reproduce`` does with a code snapshot, minus the blob store."""
    for relative, absolute in tree.files:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_bytes(absolute.read_bytes())


def contents_digest(tree: CodeTree) -> str:
    return tree_digest([(relative, absolute.read_bytes()) for relative, absolute in tree.files])


BINARY = bytes(range(256)) * 8


def test_a_dirty_repo_written_back_has_the_same_work_tree_digest(tmp_path: Path) -> None:
    repo = new_repo(
        tmp_path / "repo",
        {
            ".gitignore": b"*.log\n",
            "staged.py": b"a = 1\n",
            "unstaged.py": b"b = 1\n",
            "deleted.py": b"gone = True\n",
            "removed.py": b"also gone\n",
            "model.bin": BINARY,
            "src/pkg/mod.py": b"def f():\n    return 1\n",
            "docs/naïve name.md": b"quoted in patches\n",
        },
    )
    write(repo, {"staged.py": b"a = 2\n"})
    git(repo, "add", "staged.py")
    write(repo, {"staged.py": b"a = 3  # staged, then changed again\n", "unstaged.py": b"b = 2\n"})
    (repo / "deleted.py").unlink()
    git(repo, "rm", "-q", "removed.py")
    write(repo, {"added.py": b"new = 1\n"})
    git(repo, "add", "added.py")
    write(
        repo,
        {
            "notes/idea.md": b"# untracked\n",
            "notes/ü space.txt": b"\xff\xfe not utf-8",
            "docs/naïve name.md": b"changed\n",
            "debug.log": b"ignored\n",
            "model.bin": BINARY[::-1] + b"\0tail",
        },
    )

    tree = capture_tree(repo / "src" / "pkg")

    assert tree.kind == "git"
    assert tree.root == repo
    assert tree.meta == {
        "commit": git(repo, "rev-parse", "HEAD").strip(),
        "branch": "main",
        "remote": None,
        "dirty": True,
        "shallow": False,
    }
    assert [relative for relative, _ in tree.files] == sorted(
        [
            ".gitignore",
            "added.py",
            "docs/naïve name.md",
            "model.bin",
            "notes/idea.md",
            "notes/ü space.txt",
            "src/pkg/mod.py",
            "staged.py",
            "unstaged.py",
        ]
    )
    assert all(absolute == repo / relative for relative, absolute in tree.files)
    assert tree.warnings == []

    target = tmp_path / "copy"
    write_back(tree, target)

    assert work_tree_digest(target) == work_tree_digest(repo) == contents_digest(tree)
    assert not (target / "debug.log").exists()
    assert not (target / "deleted.py").exists() and not (target / "removed.py").exists()
    assert (target / "model.bin").read_bytes() == BINARY[::-1] + b"\0tail"
    assert (target / "staged.py").read_bytes() == b"a = 3  # staged, then changed again\n"


def test_the_digest_sees_a_one_byte_difference(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n", "data.bin": BINARY})
    before = work_tree_digest(repo)
    assert work_tree_digest(repo) == before
    write(repo, {"data.bin": BINARY[:-1] + b"\0"})
    assert work_tree_digest(repo) != before
    write(repo, {"data.bin": BINARY})
    assert work_tree_digest(repo) == before
    write(repo, {"b.py": b""})
    assert work_tree_digest(repo) != before


def test_a_file_as_start_means_its_folder(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"train.py": b"print(1)\n"})
    assert capture_tree(repo / "train.py").root == repo
    folder = tmp_path / "plain"
    write(folder, {"train.py": b"print(1)\n"})
    tree = capture_tree(folder / "train.py")
    assert (tree.kind, tree.root, captured(tree)) == ("folder", folder.resolve(), {"train.py"})


def test_detached_head_has_no_branch(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    first = git(repo, "rev-parse", "HEAD").strip()
    write(repo, {"a.py": b"2\n"})
    git(repo, "commit", "-q", "-am", "second")
    git(repo, "checkout", "-q", "--detach", first)

    tree = capture_tree(repo)

    assert tree.kind == "git"
    assert tree.meta["commit"] == first
    assert tree.meta["branch"] is None
    assert not tree.meta["dirty"]
    assert (repo / "a.py").read_bytes() == b"1\n" and captured(tree) == {"a.py"}


def test_a_repo_without_commits_is_captured_with_a_warning(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo")
    write(repo, {".gitignore": b"*.tmp\n", "staged.py": b"s\n", "loose.py": b"l\n", "x.tmp": b"ignored\n"})
    git(repo, "add", "staged.py")

    tree = capture_tree(repo)

    assert tree.kind == "git"
    assert tree.meta["commit"] is None
    assert tree.meta["branch"] == "main"
    assert tree.meta["dirty"]
    assert captured(tree) == {".gitignore", "staged.py", "loose.py"}
    assert len(tree.warnings) == 1 and "no commits yet" in tree.warnings[0]


def test_a_shallow_clone_is_flagged(tmp_path: Path) -> None:
    origin = new_repo(tmp_path / "origin", {"a.py": b"1\n"})
    write(origin, {"a.py": b"2\n"})
    git(origin, "commit", "-q", "-am", "second")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", origin.as_uri(), str(shallow)], check=True, timeout=60)

    tree = capture_tree(shallow)

    assert tree.meta["shallow"] is True
    assert tree.meta["commit"] == git(origin, "rev-parse", "HEAD").strip()
    assert tree.meta["remote"] == origin.as_uri()
    assert not tree.meta["dirty"]
    assert capture_tree(origin).meta["shallow"] is False


def test_a_folder_outside_git_respects_its_gitignore(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    write(
        folder,
        {
            ".gitignore": b"*.log\nbuild/\n!keep.log\n",
            "train.py": b"print(1)\n",
            "keep.log": b"kept\n",
            "run.log": b"ignored\n",
            "build/out.txt": b"ignored\n",
            "pkg/util.py": b"x = 1\n",
            "pkg/util.pyc": b"\0",
            "pkg/__pycache__/util.cpython-311.pyc": b"\0",
            ".hidden/cache": b"x",
            ".venv/lib/site.py": b"x",
            "venv/lib/site.py": b"x",
            "node_modules/a/index.js": b"x",
        },
    )

    tree = capture_tree(folder)

    assert tree.kind == "folder"
    assert tree.root == folder.resolve()
    assert tree.meta == {}
    assert [relative for relative, _ in tree.files] == [".gitignore", "keep.log", "pkg/util.py", "train.py"]
    assert tree.warnings == []
    target = tmp_path / "copy"
    write_back(tree, target)
    assert work_tree_digest(target) == work_tree_digest(folder) == contents_digest(tree)


def test_without_a_git_executable_the_folder_is_captured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    write(repo, {"b.py": b"2\n"})
    monkeypatch.setenv("PATH", "")

    tree = capture_tree(repo)

    assert tree.kind == "folder"
    assert captured(tree) == {"a.py", "b.py"}  # and nothing of .git
    assert len(tree.warnings) == 1 and "git executable not found" in tree.warnings[0]
    assert work_tree_digest(repo) == contents_digest(tree)


def test_files_over_the_limits_are_skipped_with_a_warning(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    write(repo, {"huge.ckpt": b"\0" * 5000, "one.txt": b"1" * 600, "two.txt": b"2" * 600, "three.txt": b"3" * 600})

    tree = capture_tree(repo, max_file_bytes=1000, max_total_bytes=1500)

    assert captured(tree) == {"a.py", "one.txt", "three.txt"}
    assert tree.meta["skipped"] == ["huge.ckpt", "two.txt"]
    assert tree.meta["dirty"]
    too_big, past_total = tree.warnings
    assert "huge.ckpt (4.9 KiB)" in too_big and "1000 B per-file limit" in too_big
    assert "two.txt" in past_total and "1.5 KiB total limit" in past_total
    assert all("\n" not in w for w in tree.warnings)
    # Without limits (the digest's view) nothing is skipped.
    unlimited = capture_tree(repo, max_file_bytes=1 << 62, max_total_bytes=1 << 62)
    assert "skipped" not in unlimited.meta and len(unlimited.files) == 5


def test_untracked_credentials_are_not_captured_but_tracked_ones_are(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n", "conf/.pypirc": b"[pypi]\n", "certs/ca.pem": b"-----BEGIN\n"})
    secrets = [".env", ".env.local", ".netrc", ".git-credentials", "deploy/server.key", "id_rsa", "keys/id_ed25519.pub"]
    write(repo, dict.fromkeys(secrets, b"secret\n"))
    write(repo, {"environment.py": b"x\n", "keys.py": b"y\n", "my.env.py": b"z\n", "pem.txt": b"w\n"})

    tree = capture_tree(repo)

    assert captured(tree) == {
        "a.py",
        "conf/.pypirc",
        "certs/ca.pem",
        "environment.py",
        "keys.py",
        "my.env.py",
        "pem.txt",
    }
    assert tree.warnings == [
        "left out untracked files that may hold credentials (7): "
        ".env, .env.local, .git-credentials, .netrc, deploy/server.key and 2 more"
    ]
    # The digest lists exactly what is captured.
    assert work_tree_digest(repo) == contents_digest(tree)
    # Outside git nothing is tracked: every such file stays out.
    folder = tmp_path / "plain"
    write(folder, {"a.py": b"1\n", ".env": b"TOKEN=x\n", "ca.pem": b"-----BEGIN\n"})
    plain = capture_tree(folder)
    assert captured(plain) == {"a.py"}
    assert plain.warnings == ["left out files that may hold credentials (2): .env, ca.pem"]


@pytest.mark.skipif(os.name != "posix", reason="symbolic links, fifos and modes")
def test_links_special_and_unreadable_files_are_left_out(tmp_path: Path) -> None:
    root = os.geteuid() == 0  # root reads anything
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    write(repo, {"locked.py": b"x\n", "data/real.txt": b"r\n", "closed/c.py": b"3\n"})
    (repo / "link.py").symlink_to(repo / "a.py")
    (repo / "data-link").symlink_to(repo / "data")
    (repo / "locked.py").chmod(0)
    (repo / "closed").chmod(0)
    try:
        tree = capture_tree(repo)
        digest = work_tree_digest(repo)
    finally:
        (repo / "locked.py").chmod(0o644)
        (repo / "closed").chmod(0o755)

    assert "left out symbolic links (2): data-link, link.py" in tree.warnings
    if root:
        assert captured(tree) == {"a.py", "closed/c.py", "data/real.txt", "locked.py"}
    else:
        assert captured(tree) == {"a.py", "data/real.txt"}
        assert "left out unreadable files (1): locked.py (Permission denied)" in tree.warnings
        assert "left out folders that cannot be listed (1): closed (Permission denied)" in tree.warnings
        assert digest == tree_digest([("a.py", b"1\n"), ("data/real.txt", b"r\n")])

    folder = tmp_path / "plain"
    write(folder, {"a.py": b"1\n", "sub/b.py": b"2\n", "closed/c.py": b"3\n", "locked.py": b"x\n"})
    (folder / "link.py").symlink_to(folder / "a.py")
    (folder / "sub-link").symlink_to(folder / "sub")
    os.mkfifo(folder / "pipe")  # git lists no fifo: only a folder capture meets one
    (folder / "closed").chmod(0)
    (folder / "locked.py").chmod(0)
    try:
        plain = capture_tree(folder)
    finally:
        (folder / "closed").chmod(0o755)
        (folder / "locked.py").chmod(0o644)
    assert "left out symbolic links (2): link.py, sub-link" in plain.warnings
    assert "left out special files (not regular files) (1): pipe" in plain.warnings
    if not root:
        assert captured(plain) == {"a.py", "sub/b.py"}
        assert "left out folders that cannot be listed (1): closed (Permission denied)" in plain.warnings
        assert "left out unreadable files (1): locked.py (Permission denied)" in plain.warnings


def test_submodules_and_nested_repositories_are_left_out(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    inner = new_repo(repo / "vendored", {"lib.py": b"x\n"})
    commit = git(inner, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{commit},third_party/sub")
    git(repo, "commit", "-q", "-m", "a submodule")
    write(repo, {"third_party/sub/code.py": b"not ours\n"})

    tree = capture_tree(repo)

    assert captured(tree) == {"a.py"}
    assert "left out submodules (1): third_party/sub" in tree.warnings
    assert "left out nested git repositories (1): vendored" in tree.warnings


def test_a_folder_with_too_many_files_stops_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_module, "_MAX_FOLDER_FILES", 10)
    folder = tmp_path / "home-like"
    write(folder, {f"d{i // 5}/f{i}.txt": b"x" for i in range(30)})

    tree = capture_tree(folder)

    assert len(tree.files) == 10
    assert len(tree.warnings) == 1 and "stopped listing" in tree.warnings[0] and "10 files" in tree.warnings[0]


def test_a_name_that_is_not_utf8_is_left_out(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    try:
        (Path(os.fsdecode(os.fsencode(repo) + b"/bad\xff.py"))).write_bytes(b"x\n")
    except (OSError, UnicodeError):
        pytest.skip("the file system takes UTF-8 names only")

    tree = capture_tree(repo)

    assert captured(tree) == {"a.py"}
    assert tree.warnings == ["left out files whose names are not UTF-8 (1): bad\ufffd.py"]
    assert work_tree_digest(repo) == contents_digest(tree)


@pytest.mark.parametrize(
    ("url", "stripped"),
    [
        ("https://x-access-token:abc123@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_abcdef0123456789@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://user:p%40ss@gitlab.example.com:8443/g/r.git", "https://gitlab.example.com:8443/g/r.git"),
        ("HTTPS://tok@GitHub.com/o/r.git", "https://GitHub.com/o/r.git"),
        ("http://oauth2:tok@[::1]:3000/r", "http://[::1]:3000/r"),
        ("https://github.com/o/r.git?private_token=abc", "https://github.com/o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("  https://github.com/o/r.git\n", "https://github.com/o/r.git"),
        ("ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"),
        ("ssh://git:hunter2@host:2222/r.git", "ssh://git@host:2222/r.git"),
        ("git+ssh://deploy:pw@host/r.git", "git+ssh://deploy@host/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("file:///srv/git/r.git", "file:///srv/git/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
        ("../sibling", "../sibling"),
    ],
)
def test_credentials_are_stripped_from_remote_urls(url: str, stripped: str) -> None:
    assert strip_credentials(url) == stripped


def test_the_remote_url_is_captured_without_credentials(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "repo", {"a.py": b"1\n"})
    git(repo, "remote", "add", "backup", "https://backup.example.com/r.git")
    assert capture_tree(repo).meta["remote"] == "https://backup.example.com/r.git"  # no origin: the first one
    git(repo, "remote", "add", "origin", "https://x-access-token:s3cr3t@github.com/o/r.git")

    tree = capture_tree(repo)

    assert tree.meta["remote"] == "https://github.com/o/r.git"
    assert "s3cr3t" not in repr(tree)


def test_a_missing_folder_gives_an_empty_capture(tmp_path: Path) -> None:
    tree = capture_tree(tmp_path / "nowhere")
    assert (tree.kind, tree.root, tree.files, tree.meta) == ("folder", tmp_path.resolve() / "nowhere", [], {})
    assert len(tree.warnings) == 1 and "not a folder" in tree.warnings[0]
    assert work_tree_digest(tmp_path / "nowhere") == tree_digest([])


def test_capturing_a_5000_file_repo_is_fast(tmp_path: Path) -> None:
    repo = new_repo(tmp_path / "big")
    # fast-import writes one pack, not 5,000 loose objects: seconds faster on a slow disk.
    stream = [b"commit refs/heads/main\ncommitter T <t@example.com> 0 +0000\ndata 10\nmany files\n"]
    for i in range(5000):
        content = f"value = {i}\n".encode()
        stream.append(
            f"M 100644 inline pkg{i // 100}/mod{i % 100}.py\ndata {len(content)}\n".encode() + content + b"\n"
        )
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream), check=True, timeout=60)
    git(repo, "reset", "-q", "--hard")
    write(repo, {"pkg1/mod1.py": b"changed\n", "pkg2/mod2.py": b"changed\n", "new1.py": b"n\n", "new2.py": b"n\n"})
    (repo / "pkg3" / "mod3.py").unlink()

    times = []
    for _ in range(5):
        started = time.perf_counter()
        tree = capture_tree(repo)
        times.append(time.perf_counter() - started)
    best = min(times)
    print(f"\ncapture_tree on 5,000 files: {', '.join(f'{t * 1000:.1f}' for t in times)} ms")

    assert tree.meta["dirty"] and tree.warnings == []
    assert tree.meta["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert len(tree.files) == 5001
    assert "pkg3/mod3.py" not in captured(tree) and "new2.py" in captured(tree)
    assert best < 1.5
