"""Measure the bytes of regular files under a directory, in constant memory.

The walk uses `os.scandir` with an explicit stack of directories (no
recursion, no list of files), never follows symlinks, and counts entries that
vanish or cannot be read mid-scan as `skipped` instead of failing. The total
equals the sum of `find DIR -type f -printf '%s\\n'` on the same tree.
"""

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

# How many top-level subfolders a breakdown names; the rest are summed as one.
TOP_SUBFOLDERS = 20


@dataclass
class TreeSize:
    bytes: int = 0
    files: int = 0
    skipped: int = 0


@dataclass
class RootSize:
    """What one configured path holds."""

    name: str
    path: str
    exists: bool = True
    bytes: int = 0
    files: int = 0
    skipped: int = 0
    note: str | None = None
    subfolders: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        ranked = sorted(self.subfolders.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = [{"name": name, "bytes": size} for name, size in ranked[:TOP_SUBFOLDERS]]
        rest = ranked[TOP_SUBFOLDERS:]
        if rest:
            shown.append(
                {
                    "name": f"({len(rest)} more folders)",
                    "bytes": sum(size for _, size in rest),
                }
            )
        return {
            "name": self.name,
            "path": self.path,
            "exists": self.exists,
            "bytes": self.bytes,
            "files": self.files,
            "skipped": self.skipped,
            "note": self.note,
            "subfolders": shown,
        }


# Subfolders are opened by name with O_NOFOLLOW: a folder swapped for a symlink
# between listing and opening is refused, not followed.
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _scan_fd(
    fd: int, directory: str, size: TreeSize, subfolder: Callable[[str, str], None]
) -> None:
    """Add the files of the open directory `fd`; hand its subfolders to `subfolder`."""
    nbytes = files = skipped = 0
    join = os.path.join
    # Listing by descriptor makes each stat an fstatat() relative to it, as du does.
    with os.scandir(fd) as it:
        while True:
            try:
                entry = next(it)
            except StopIteration:
                break
            except OSError:  # the directory went away while being read
                skipped += 1
                break
            try:
                # d_type answers both questions without a system call.
                if entry.is_file(follow_symlinks=False):
                    nbytes += entry.stat(follow_symlinks=False).st_size
                    files += 1
                elif entry.is_dir(follow_symlinks=False):
                    subfolder(join(directory, entry.name), entry.name)
            except OSError:  # vanished or unreadable between listing and stat
                skipped += 1
    size.bytes += nbytes
    size.files += files
    size.skipped += skipped


def scan_tree(top: str, into: TreeSize | None = None) -> TreeSize:
    """Add up regular-file sizes under directory `top` without following symlinks."""
    size = into if into is not None else TreeSize()
    stack = [top]
    push = stack.append

    def subfolder(path, _name):
        push(path)

    while stack:
        directory = stack.pop()
        try:
            fd = os.open(directory, _OPEN_DIR)
        except OSError:  # vanished, unreadable, or replaced by a symlink
            size.skipped += 1
            continue
        try:
            _scan_fd(fd, directory, size, subfolder)
        except OSError:
            size.skipped += 1
        finally:
            os.close(fd)
    return size


def scan_root(name: str, path: str) -> RootSize:
    """Measure one configured path: a directory (with its top-level folders) or a file."""
    root = RootSize(name=name, path=path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        root.exists = False
        root.note = "does not exist; counted as 0 bytes"
        return root
    except OSError as exc:
        root.exists = False
        root.note = f"cannot be read ({exc.strerror}); counted as 0 bytes"
        return root

    if stat.S_ISREG(st.st_mode):
        root.bytes, root.files = st.st_size, 1
        return root
    if not stat.S_ISDIR(st.st_mode):
        root.note = "not a regular file or directory; counted as 0 bytes"
        return root

    try:
        # The configured path itself may be a symlink (e.g. logs on a volume):
        # it is followed once; nothing below it is.
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        root.note = f"cannot be listed ({exc.strerror}); counted as 0 bytes"
        root.skipped += 1
        return root

    size = TreeSize()

    def subfolder(sub_path, name):
        sub = scan_tree(sub_path)
        size.bytes += sub.bytes
        size.files += sub.files
        size.skipped += sub.skipped
        root.subfolders[name] = sub.bytes

    try:
        _scan_fd(fd, path, size, subfolder)
    except OSError:
        size.skipped += 1
    finally:
        os.close(fd)
    root.bytes, root.files, root.skipped = size.bytes, size.files, size.skipped
    return root
