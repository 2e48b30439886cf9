"""The storage walk: byte-exact against `find`, no symlinks, vanishing entries."""

import os
import shutil
import subprocess

import pytest

from costs import storage

# Tests that check against `find` start a process of their own.
find_oracle = pytest.mark.external


def find_total(path) -> int:
    """The oracle: the sum of regular-file sizes `find -type f` reports."""
    out = subprocess.run(
        ["find", str(path), "-type", "f", "-printf", "%s\\n"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sum(int(line) for line in out.split())


@pytest.fixture
def tree(tmp_path):
    """A tree with nested folders, empty files, symlinks and a FIFO."""
    top = tmp_path / "tree"
    (top / "a" / "deep" / "er").mkdir(parents=True)
    (top / "b").mkdir()
    (top / "empty-dir").mkdir()
    (top / "root.txt").write_bytes(b"x" * 1234)
    (top / "a" / "one.bin").write_bytes(os.urandom(5000))
    (top / "a" / "deep" / "er" / "two.bin").write_bytes(b"y" * 70001)
    (top / "a" / "zero").write_bytes(b"")
    (top / "b" / "three").write_bytes(b"z" * 17)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"o" * 999_999)
    # Symlinks to a big file and to a big folder must not be followed.
    (top / "link-to-file").symlink_to(outside / "big")
    (top / "b" / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (top / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(top / "b" / "fifo")
    return top


@find_oracle
def test_scan_tree_matches_find_and_ignores_symlinks(tree):
    size = storage.scan_tree(str(tree))

    assert size.bytes == find_total(tree) == 1234 + 5000 + 70001 + 17
    assert size.files == 5
    assert size.skipped == 0


@find_oracle
def test_scan_root_breaks_down_by_top_level_folder(tree):
    root = storage.scan_root("data", str(tree)).as_dict()

    assert root["bytes"] == find_total(tree)
    folders = {f["name"]: f["bytes"] for f in root["subfolders"]}
    assert folders == {"a": 75001, "b": 17, "empty-dir": 0}
    assert root["subfolders"][0]["name"] == "a"  # largest first
    assert root["exists"] is True and root["note"] is None


@find_oracle
def test_scan_root_caps_the_named_folders(tmp_path):
    for i in range(storage.TOP_SUBFOLDERS + 5):
        (tmp_path / f"d{i:02}").mkdir()
        (tmp_path / f"d{i:02}" / "f").write_bytes(b"x" * (i + 1))

    root = storage.scan_root("many", str(tmp_path)).as_dict()

    assert len(root["subfolders"]) == storage.TOP_SUBFOLDERS + 1
    assert root["subfolders"][-1] == {"name": "(5 more folders)", "bytes": 1 + 2 + 3 + 4 + 5}
    assert sum(f["bytes"] for f in root["subfolders"]) == root["bytes"] == find_total(tmp_path)


def test_missing_path_is_zero_bytes_with_a_note(tmp_path):
    root = storage.scan_root("gone", str(tmp_path / "nope")).as_dict()

    assert root["bytes"] == 0 and root["exists"] is False
    assert "does not exist" in root["note"]


def test_a_file_root_counts_its_size(tmp_path):
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"d" * 4096)

    root = storage.scan_root("database", str(path))

    assert (root.bytes, root.files) == (4096, 1)


@find_oracle
def test_entries_that_vanish_mid_scan_are_skipped(tree, monkeypatch):
    """Delete a file and a folder after the walk listed them but before it reached them."""
    real_scandir = os.scandir
    victims = {"file": tree / "a" / "one.bin", "dir": tree / "a" / "deep"}

    class Vanishing:
        def __init__(self, fd):
            self.it = real_scandir(fd)
            self.path = os.readlink(f"/proc/self/fd/{fd}")
            self.first = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.it.close()

        def __iter__(self):
            return self

        def __next__(self):
            entry = next(self.it)  # the kernel has handed over the whole listing now
            if self.first and self.path == str(tree / "a"):
                self.first = False
                victims["file"].unlink()
                shutil.rmtree(victims["dir"])
            return entry

    def scandir(path="."):
        # The walk lists directories by descriptor; anything else is left alone.
        if isinstance(path, int):
            return Vanishing(path)
        return real_scandir(path)

    monkeypatch.setattr(storage.os, "scandir", scandir)
    size = storage.scan_tree(str(tree))
    monkeypatch.undo()

    # The vanished file's stat fails (or its entry is gone) and the folder
    # cannot be opened: each counts as skipped, never an error.
    assert size.skipped == 2
    assert size.bytes == find_total(tree) == 1234 + 17


def test_a_folder_replaced_by_a_symlink_is_not_followed(tree, tmp_path):
    """The walk opens folders with O_NOFOLLOW, so a swap to a symlink is refused."""
    swapped = tmp_path / "swapped"
    swapped.symlink_to(tmp_path / "outside", target_is_directory=True)

    size = storage.scan_tree(str(swapped))

    assert (size.bytes, size.files, size.skipped) == (0, 0, 1)


@find_oracle
def test_a_configured_root_that_is_a_symlink_is_followed_once(tree, tmp_path):
    link = tmp_path / "logs-link"
    link.symlink_to(tree, target_is_directory=True)

    assert storage.scan_root("logs", str(link)).bytes == find_total(tree)
