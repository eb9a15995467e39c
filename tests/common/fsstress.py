"""tests/common/fsstress.py - a seeded random-operation stress, fsstress style.

  fsstress.py run DIR SECS SEED [PROCS]   PROCS processes (default 4) run
        random operations in DIR for SECS seconds; prints one line of
        totals and one per operation ("op: tried ok errno=count ...")
  fsstress.py tree DIR                   a listing of everything below DIR
        with attributes and content hashes, one line per name, for
        comparing a mount with its SOURCE

Operations: create, write (pwrite at a random offset), truncate, rename
(files and directories, within a process's tree or into/out of the shared
directory), link, unlink, mkdir, rmdir, symlink, chmod, utimes (explicit
nanosecond times), chown (as root), setxattr, removexattr, fsync, read,
readdir, stat.  Names come from a small space ("f0".."f11", "d0".."d3",
at most 3 levels under the process's own directory p<N>/ or under
shared/), so operations hit existing objects often and processes collide
in shared/.  Errors (ENOENT, EEXIST, ENOTEMPTY, ...) are expected and
counted, never fatal.

Reproducible: process N draws its operations from random.Random(SEED * 1000
+ N), so a seed gives each process the same sequence of attempts; the
interleaving of the processes, and so which attempts succeed, is up to the
scheduler.  Bounded: it stops at SECS seconds.
"""
import errno
import hashlib
import os
import random
import stat
import sys
import time

OPS = ["create", "write", "truncate", "rename", "link", "unlink", "mkdir",
       "rmdir", "symlink", "chmod", "utimes", "chown", "setxattr",
       "removexattr", "fsync", "read", "readdir", "stat"]
# relative weights: mutations dominate
WEIGHTS = [8, 10, 5, 8, 4, 6, 4, 3, 2, 3, 3, 2, 3, 2, 2, 4, 2, 4]
FILES = ["f%d" % i for i in range(12)]
DIRS = ["d%d" % i for i in range(4)]


def _dir(rnd, me):
    top = "shared" if rnd.random() < 0.15 else me
    parts = [top]
    for _ in range(rnd.randrange(0, 3)):
        parts.append(rnd.choice(DIRS))
    return os.path.join(*parts)


def _file(rnd, me):
    return os.path.join(_dir(rnd, me), rnd.choice(FILES))


def _any(rnd, me):
    if rnd.random() < 0.3:
        return os.path.join(_dir(rnd, me), rnd.choice(DIRS))
    return _file(rnd, me)


def one_op(rnd, me, op):
    if op == "create":
        fd = os.open(_file(rnd, me), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                     rnd.choice([0o644, 0o600, 0o755]))
        try:
            os.write(fd, rnd.randbytes(rnd.randrange(0, 20000)))
        finally:
            os.close(fd)
    elif op == "write":
        fd = os.open(_file(rnd, me), os.O_WRONLY)
        try:
            os.pwrite(fd, rnd.randbytes(rnd.randrange(1, 70000)),
                      rnd.randrange(0, 200000))
        finally:
            os.close(fd)
    elif op == "truncate":
        os.truncate(_file(rnd, me), rnd.randrange(0, 100000))
    elif op == "rename":
        if rnd.random() < 0.3:
            a = os.path.join(_dir(rnd, me), rnd.choice(DIRS))
            b = os.path.join(_dir(rnd, me), rnd.choice(DIRS))
        else:
            a, b = _file(rnd, me), _file(rnd, me)
        os.rename(a, b)
    elif op == "link":
        os.link(_file(rnd, me), _file(rnd, me))
    elif op == "unlink":
        os.unlink(_file(rnd, me))
    elif op == "mkdir":
        os.mkdir(os.path.join(_dir(rnd, me), rnd.choice(DIRS)),
                 rnd.choice([0o755, 0o700]))
    elif op == "rmdir":
        os.rmdir(os.path.join(_dir(rnd, me), rnd.choice(DIRS)))
    elif op == "symlink":
        os.symlink(rnd.choice(FILES + ["../" + f for f in FILES]),
                   _file(rnd, me))
    elif op == "chmod":
        p = _any(rnd, me)
        if not os.path.islink(p):
            os.chmod(p, rnd.choice([0o644, 0o600, 0o640, 0o755, 0o700,
                                    0o2755, 0o1777 if os.path.isdir(p)
                                    else 0o4755]))
    elif op == "utimes":
        p = _any(rnd, me)
        t = rnd.randrange(0, 2 ** 33) * 10 ** 9 + rnd.randrange(10 ** 9)
        os.utime(p, ns=(t, t + rnd.randrange(10 ** 12)),
                 follow_symlinks=False)
    elif op == "chown":
        if os.geteuid() == 0:
            os.chown(_any(rnd, me), rnd.choice([0, 1, 2]),
                     rnd.choice([0, 1, 2]), follow_symlinks=False)
        else:
            os.stat(_any(rnd, me))
    elif op == "setxattr":
        p = _any(rnd, me)
        if not os.path.islink(p):
            os.setxattr(p, "user.s%d" % rnd.randrange(4),
                        rnd.randbytes(rnd.randrange(0, 300)))
    elif op == "removexattr":
        p = _any(rnd, me)
        if not os.path.islink(p):
            os.removexattr(p, "user.s%d" % rnd.randrange(4))
    elif op == "fsync":
        fd = os.open(_file(rnd, me), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    elif op == "read":
        with open(_file(rnd, me), "rb") as f:
            f.read()
    elif op == "readdir":
        os.listdir(_dir(rnd, me))
    elif op == "stat":
        os.lstat(_any(rnd, me))


def worker(top, secs, seed, n, wfd):
    os.chdir(top)
    rnd = random.Random(seed * 1000 + n)
    me = "p%d" % n
    counts = {}
    end = time.monotonic() + secs
    while time.monotonic() < end:
        op = rnd.choices(OPS, WEIGHTS)[0]
        c = counts.setdefault(op, {"tried": 0, "ok": 0})
        c["tried"] += 1
        try:
            one_op(rnd, me, op)
            c["ok"] += 1
        except OSError as e:
            k = errno.errorcode.get(e.errno, str(e.errno))
            c[k] = c.get(k, 0) + 1
    os.write(wfd, repr(counts).encode())
    os.close(wfd)


def run(top, secs, seed, procs):
    for d in ["shared"] + ["p%d" % i for i in range(procs)]:
        os.makedirs(os.path.join(top, d), exist_ok=True)
    kids = []
    for n in range(procs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                worker(top, secs, seed, n, w)
            finally:
                os._exit(0)
        os.close(w)
        kids.append((pid, r))
    total = {}
    for pid, r in kids:
        data = b""
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            data += b
        os.close(r)
        os.waitpid(pid, 0)
        for op, c in eval(data.decode() or "{}").items():
            t = total.setdefault(op, {})
            for k, v in c.items():
                t[k] = t.get(k, 0) + v
    tried = sum(c["tried"] for c in total.values())
    ok = sum(c["ok"] for c in total.values())
    print("fsstress: seed %d, %d processes, %gs: %d operations, %d succeeded"
          % (seed, procs, secs, tried, ok))
    for op in OPS:
        c = total.get(op, {"tried": 0, "ok": 0})
        rest = " ".join("%s=%d" % (k, v) for k, v in sorted(c.items())
                        if k not in ("tried", "ok"))
        print("  %-12s tried %6d ok %6d %s" % (op, c["tried"], c["ok"], rest))


def tree(top):
    """One line per name: path, type and mode, owner, size, nlink, mtime,
    ctime, link target or content md5, xattrs; hard links: the first path
    of the same inode."""
    first = {}
    out = []
    for dirpath, dirs, files in os.walk(top):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            e = [rel, "%o" % st.st_mode, "%d:%d" % (st.st_uid, st.st_gid),
                 "size=%d" % st.st_size, "nlink=%d" % st.st_nlink,
                 "mtime=%d" % st.st_mtime_ns, "ctime=%d" % st.st_ctime_ns,
                 "ino=%d" % st.st_ino]
            if stat.S_ISLNK(st.st_mode):
                e.append("-> " + os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    e.append(hashlib.md5(f.read()).hexdigest())
                key = (st.st_dev, st.st_ino)
                e.append("same-as=" + first.setdefault(key, rel))
            if not stat.S_ISLNK(st.st_mode):
                xs = []
                for x in sorted(os.listxattr(p)):
                    xs.append("%s=%s" % (x, hashlib.md5(
                        os.getxattr(p, x)).hexdigest()[:8]))
                e.append("xattrs[%s]" % ",".join(xs))
            out.append(" ".join(e))
    for line in out:
        print(line)


def main(argv):
    if argv[0] == "run":
        run(argv[1], float(argv[2]), int(argv[3]),
            int(argv[4]) if len(argv) > 4 else 4)
    elif argv[0] == "tree":
        tree(argv[1])
    else:
        print("usage: fsstress.py run DIR SECS SEED [PROCS] | tree DIR",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
