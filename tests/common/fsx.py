"""tests/common/fsx.py - helpers for the python3 snippets of tests/generic.

Every helper prints deterministic text: "ok" or an errno name, never an
inode number, a time or an absolute path.
"""
import ctypes
import ctypes.util
import errno
import os
import sys

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                    use_errno=True)

AT_FDCWD = -100
RENAME_NOREPLACE = 1 << 0
RENAME_EXCHANGE = 1 << 1
RENAME_WHITEOUT = 1 << 2
XATTR_CREATE = 1
XATTR_REPLACE = 2


def ename(e):
    """errno name of an OSError (or an int)."""
    n = e if isinstance(e, int) else e.errno
    return errno.errorcode.get(n, str(n))


def attempt(label, fn, *args, **kw):
    """Call fn; print 'label: ok' (or 'label: <result>' when show is set)
    or 'label: ENAME'.  Returns the result, or None on error."""
    show = kw.pop("show", False)
    try:
        r = fn(*args, **kw)
    except OSError as e:
        print("%s: %s" % (label, ename(e)))
        return None
    if show:
        print("%s: %s" % (label, r))
    else:
        print("%s: ok" % label)
    return r if r is not None else True


def _check(r):
    if r < 0:
        n = ctypes.get_errno()
        raise OSError(n, os.strerror(n))
    return r


def _b(p):
    return p if isinstance(p, bytes) else os.fsencode(p)


def renameat2(old, new, flags=0):
    _libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p,
                                ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return _check(_libc.renameat2(AT_FDCWD, _b(old), AT_FDCWD, _b(new),
                                  flags))


def getxattr_buf(path, name, size):
    """getxattr(2) with an explicit buffer size (0 = ask for the size).
    Returns the size for size 0, else the value."""
    _libc.getxattr.argtypes = [ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_void_p, ctypes.c_size_t]
    _libc.getxattr.restype = ctypes.c_ssize_t
    if size == 0:
        return _check(_libc.getxattr(_b(path), _b(name), None, 0))
    buf = ctypes.create_string_buffer(size)
    n = _check(_libc.getxattr(_b(path), _b(name), buf, size))
    return buf.raw[:n]


def listxattr_buf(path, size):
    """listxattr(2) with an explicit buffer size (0 = ask for the size)."""
    _libc.listxattr.argtypes = [ctypes.c_char_p, ctypes.c_void_p,
                                ctypes.c_size_t]
    _libc.listxattr.restype = ctypes.c_ssize_t
    if size == 0:
        return _check(_libc.listxattr(_b(path), None, 0))
    buf = ctypes.create_string_buffer(size)
    n = _check(_libc.listxattr(_b(path), buf, size))
    return buf.raw[:n]


def out(*a):
    print(*a)
    sys.stdout.flush()


_OPEN_FLAGS = {
    "rdonly": os.O_RDONLY, "wronly": os.O_WRONLY, "rdwr": os.O_RDWR,
    "creat": os.O_CREAT, "excl": os.O_EXCL, "trunc": os.O_TRUNC,
    "append": os.O_APPEND, "directory": os.O_DIRECTORY,
    "nofollow": os.O_NOFOLLOW, "path": getattr(os, "O_PATH", 0),
}


def _open_close(path, flags, mode=0o644):
    f = 0
    for w in flags.split("|"):
        f |= _OPEN_FLAGS[w]
    os.close(os.open(path, f, mode))


def _rename2(old, new, flags):
    f = 0
    for w in flags.split("|"):
        f |= {"noreplace": RENAME_NOREPLACE, "exchange": RENAME_EXCHANGE,
              "whiteout": RENAME_WHITEOUT, "0": 0}[w]
    return renameat2(old, new, f)


def _with_fd(path, flags, fn):
    fd = os.open(path, flags)
    try:
        return fn(fd)
    finally:
        os.close(fd)


def _utime(p, how):
    if how == "now":
        os.utime(p)
    else:
        os.utime(p, (int(how), int(how)))


_OPS = {
    "unlink": os.unlink, "rmdir": os.rmdir, "rename": os.rename,
    "link": os.link, "symlink": os.symlink, "readlink": os.readlink,
    "mkdir": lambda p, m="755": os.mkdir(p, int(m, 8)),
    "open": _open_close, "renameat2": _rename2,
    "truncate": lambda p, n: os.truncate(p, int(n)),
    "chmod": lambda p, m: os.chmod(p, int(m, 8)),
    "stat": os.stat, "lstat": os.lstat,
    "access": lambda p, m: os.access(p, int(m)) or _raise_access(),
    "listdir": os.listdir,
    "mkfifo": os.mkfifo,
    "chown": lambda p, u, g: os.chown(p, int(u), int(g)),
    "lchown": lambda p, u, g: os.lchown(p, int(u), int(g)),
    "utime": _utime,
    "read": lambda p: _with_fd(p, os.O_RDONLY, lambda fd: os.read(fd, 1)),
    "write": lambda p: _with_fd(p, os.O_WRONLY | os.O_APPEND,
                                lambda fd: os.write(fd, b"w")),
    "ftruncate": lambda p, n: _with_fd(p, os.O_WRONLY,
                                       lambda fd: os.ftruncate(fd, int(n))),
    "fallocate": lambda p, n: _with_fd(
        p, os.O_WRONLY, lambda fd: os.posix_fallocate(fd, 0, int(n))),
    "otrunc": lambda p: os.close(os.open(p, os.O_WRONLY | os.O_TRUNC)),
    "create": lambda p, m: os.close(os.open(p, os.O_CREAT | os.O_EXCL |
                                            os.O_WRONLY, int(m, 8))),
    "getxattr": lambda p, n: os.getxattr(p, n),
    "setxattr": lambda p, n, v: os.setxattr(p, n, v.encode()),
}


def _raise_access():
    raise OSError(ctypes.get_errno() or errno.EACCES, "access")


def main(argv):
    """fsx.py OP ARGS...: run one operation, print 'OP ARGS: ok|ENAME'."""
    op, args = argv[0], argv[1:]
    label = " ".join([op] + args)
    r = attempt(label, _OPS[op], *args)
    return 0 if r is not None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
