"""tests/common/escape.py - helpers of the escape tests (generic/220).

  escape.py snapshot DIR OUT     record every object below DIR: contents,
                                 xattrs, listing, then atimes set far in
                                 the past, then the attributes
  escape.py compare DIR OUT      print "outside: unchanged" or each
                                 difference; then OUT is a new snapshot
  escape.py swap DIR A B SECS    exchange names A and B of DIR (renameat2
                                 RENAME_EXCHANGE on a held fd of DIR) in a
                                 loop; prints the count
  escape.py work DIR SECS SEED   create/open/read/write/unlink/rename/
                                 setattr/mkdir/link/symlink/xattr under DIR
                                 (paths and *at() calls on a held directory
                                 fd) in a loop, ignoring errors; prints counts

Reads are caught by atime: with relatime, reading a file or listing a
directory whose atime is older than its mtime moves the atime.  compare
stats the recorded paths before it reads anything itself.
"""
import errno
import hashlib
import json
import os
import random
import sys
import time

import ctypes

from fsx import RENAME_EXCHANGE, _libc


def _attrs(p):
    st = os.lstat(p)
    a = {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid,
         "nlink": st.st_nlink, "size": st.st_size, "ino": st.st_ino,
         "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns,
         "atime": st.st_atime_ns}
    return a


def _content(p):
    st = os.lstat(p)
    if os.path.islink(p):
        return "link:" + os.readlink(p)
    if os.path.isfile(p):
        with open(p, "rb") as f:
            return hashlib.md5(f.read()).hexdigest()
    return ""


def _xattrs(p):
    try:
        names = sorted(os.listxattr(p, follow_symlinks=False))
    except OSError:
        return []
    out = []
    for n in names:
        try:
            out.append([n, os.getxattr(p, n, follow_symlinks=False).hex()])
        except OSError as e:
            out.append([n, errno.errorcode.get(e.errno, str(e.errno))])
    return out


def _walk(top):
    res = []
    for dirpath, dirs, files in os.walk(top):
        for n in sorted(dirs + files):
            res.append(os.path.relpath(os.path.join(dirpath, n), top))
    return sorted(res)


OLD_ATIME = 946684800 * 10**9  # 2000-01-01: relatime moves it on a read


def _attr_pass(top, paths):
    res = {}
    for p in ["."] + paths:
        try:
            res[p] = _attrs(os.path.join(top, p))
        except OSError as e:
            res[p] = errno.errorcode.get(e.errno, str(e.errno))
    return res


def _read_pass(top, paths, snap):
    for p in paths:
        full = os.path.join(top, p)
        try:
            snap["content"][p] = _content(full)
            snap["xattrs"][p] = _xattrs(full)
        except OSError as e:
            snap["content"][p] = errno.errorcode.get(e.errno, str(e.errno))
    snap["listing"] = _walk(top)


def snapshot(top, outf):
    """Contents and listing first (reads), then every atime set far in the
    past (mtime kept), then the attributes."""
    paths = _walk(top)
    snap = {"paths": paths, "content": {}, "xattrs": {}}
    _read_pass(top, paths, snap)
    for p in ["."] + paths:
        full = os.path.join(top, p)
        if not os.path.islink(full):
            os.utime(full, ns=(OLD_ATIME, os.lstat(full).st_mtime_ns))
    snap["attrs"] = _attr_pass(top, paths)
    with open(outf, "w") as f:
        json.dump(snap, f, sort_keys=True)


def compare(top, outf):
    with open(outf) as f:
        before = json.load(f)
    # attributes (atime!) before anything is read again
    after = {"attrs": _attr_pass(top, before["paths"]), "content": {},
             "xattrs": {}}
    _read_pass(top, before["paths"], after)
    diffs = []
    for p, a in before["attrs"].items():
        b = after["attrs"].get(p)
        if a != b:
            if isinstance(a, dict) and isinstance(b, dict):
                ks = [k for k in a if a[k] != b[k]]
                diffs.append("%s: %s changed" % (p, ",".join(ks)))
            else:
                diffs.append("%s: %s -> %s" % (p, a, b))
    for k in ("content", "xattrs"):
        for p, a in before[k].items():
            if after[k].get(p) != a:
                diffs.append("%s: %s changed" % (p, k))
    new = sorted(set(after["listing"]) - set(before["listing"]))
    gone = sorted(set(before["listing"]) - set(after["listing"]))
    for p in new:
        diffs.append("%s: created" % p)
    for p in gone:
        diffs.append("%s: removed" % p)
    if diffs:
        print("outside: CHANGED")
        for d in diffs:
            print("  " + d)
    else:
        print("outside: unchanged")
    # our own reads moved atimes: the next comparison starts from here
    snapshot(top, outf)
    return 1 if diffs else 0


def _exchange_at(dfd, a, b):
    f = _libc.renameat2
    f.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                  ctypes.c_char_p, ctypes.c_uint]
    if f(dfd, os.fsencode(a), dfd, os.fsencode(b), RENAME_EXCHANGE) < 0:
        n = ctypes.get_errno()
        raise OSError(n, os.strerror(n))


def swap(d, a, b, secs):
    """Exchange names a and b of directory d, relative to an fd of d opened
    once: the swapper itself never follows the links it plants."""
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    end = time.monotonic() + float(secs)
    n = 0
    errs = 0
    while time.monotonic() < end:
        try:
            _exchange_at(dfd, a, b)
            n += 1
        except OSError:
            errs += 1
    # an even number of swaps leaves the original layout
    if n % 2:
        _exchange_at(dfd, a, b)
        n += 1
    os.close(dfd)
    print("swaps %d errors %d" % (n, errs))


def work(top, secs, seed):
    rnd = random.Random(int(seed))
    end = time.monotonic() + float(secs)
    counts = {}
    me = "w%d" % os.getpid()

    def p(*parts):
        return os.path.join(top, *parts)

    def op_open_read():
        with open(p("d", "c"), "rb") as f:
            f.read()

    def op_write():
        fd = os.open(p("d", "c"), os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)

    def op_trunc():
        os.truncate(p("d", "t"), rnd.randrange(0, 4))

    def op_create():
        n = p("d", "n-" + me)
        fd = os.open(n, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        os.write(fd, b"new")
        os.close(fd)
        os.unlink(n)

    def op_unlink():
        try:
            os.unlink(p("d", "u"))
        finally:
            fd = os.open(p("d", "u"), os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)

    def op_rename():
        os.rename(p("d", "r1"), p("d", "r2"))
        os.rename(p("d", "r2"), p("d", "r1"))

    def op_chmod():
        os.chmod(p("d", "c"), rnd.choice([0o600, 0o644, 0o640]))

    def op_utime():
        os.utime(p("d", "c"), ns=(rnd.randrange(10**18), rnd.randrange(10**18)))

    def op_chown():
        os.chown(p("d", "c"), rnd.choice([0, 1]), rnd.choice([0, 1]))

    def op_mkdir():
        os.mkdir(p("d", "nd-" + me))
        os.rmdir(p("d", "nd-" + me))

    def op_link():
        os.link(p("d", "c"), p("d", "l-" + me))
        os.unlink(p("d", "l-" + me))

    def op_symlink():
        os.symlink("c", p("d", "s-" + me))
        os.unlink(p("d", "s-" + me))

    def op_xattr():
        os.setxattr(p("d", "c"), "user.esc", b"v")
        os.removexattr(p("d", "c"), "user.esc")

    def op_sub():
        # one level deeper: d/sd is swapped with a symlink too
        fd = os.open(p("d", "sd", "f"), os.O_RDWR | os.O_CREAT, 0o644)
        os.write(fd, b"y")
        os.close(fd)
        os.chmod(p("d", "sd", "f"), 0o600)
        os.unlink(p("d", "sd", "f"))

    def op_at():
        # *at() calls on a held fd of d: the kernel sends d's node id,
        # whatever the name "d" is in SOURCE by now
        dfd = os.open(p("d"), os.O_RDONLY | os.O_DIRECTORY)
        try:
            fd = os.open("c", os.O_RDWR | os.O_APPEND, dir_fd=dfd)
            os.write(fd, b"z")
            os.close(fd)
            fd = os.open("a-" + me, os.O_CREAT | os.O_WRONLY, 0o644,
                         dir_fd=dfd)
            os.close(fd)
            os.chmod("a-" + me, 0o600, dir_fd=dfd)
            os.rename("a-" + me, "b-" + me, src_dir_fd=dfd, dst_dir_fd=dfd)
            os.unlink("b-" + me, dir_fd=dfd)
            os.mkdir("m-" + me, dir_fd=dfd)
            os.rmdir("m-" + me, dir_fd=dfd)
            os.listdir(dfd)
        finally:
            os.close(dfd)

    ops = [op_open_read, op_write, op_trunc, op_create, op_unlink, op_rename,
           op_chmod, op_utime, op_chown, op_mkdir, op_link, op_symlink,
           op_xattr, op_sub, op_at]
    total = 0
    errs = 0
    while time.monotonic() < end:
        fn = rnd.choice(ops)
        try:
            fn()
        except OSError as e:
            errs += 1
            k = fn.__name__[3:] + ":" + errno.errorcode.get(e.errno, str(e.errno))
            counts[k] = counts.get(k, 0) + 1
        total += 1
    print("ops %d errors %d %s" % (total, errs, json.dumps(counts,
                                                          sort_keys=True)))


def main(argv):
    cmd = argv[0]
    if cmd == "snapshot":
        snapshot(argv[1], argv[2])
        return 0
    if cmd == "compare":
        return compare(argv[1], argv[2])
    if cmd == "swap":
        swap(argv[1], argv[2], argv[3], argv[4])
        return 0
    if cmd == "work":
        work(argv[1], argv[2], argv[3])
        return 0
    print("escape.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
