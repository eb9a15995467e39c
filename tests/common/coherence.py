"""tests/common/coherence.py - changes made directly in SOURCE, seen through
the mount.

Each kind of change first makes the mount cache the old state (lookups,
negative lookups, attributes, contents, listings), then changes SOURCE
directly, then polls the mount until it shows the new state.  It prints
"KIND: visible" when that happened within the deadline and
"KIND: STALE after N ms (...)" otherwise; the measured latencies (ms) go
to a figures file as "latency KIND MS" lines.

On the plain oracle the mount *is* SOURCE and every change is visible at
once, which is what makes the golden output the same everywhere.
"""
import os
import shutil
import sys
import time

from fsx import renameat2, RENAME_EXCHANGE


class Checker:
    def __init__(self, src, mnt, deadline_ms, figures):
        self.src, self.mnt = src, mnt
        self.deadline = deadline_ms / 1000.0
        self.figures = figures
        self.lat = {}

    def s(self, *p):
        return os.path.join(self.src, *p)

    def m(self, *p):
        return os.path.join(self.mnt, *p)

    def wait(self, kind, pred, what):
        """Poll pred() (through the mount) until true or the deadline."""
        t0 = time.monotonic()
        last = None
        while True:
            t_try = time.monotonic()
            try:
                if pred():
                    break
            except OSError as e:
                last = e
            el = t_try - t0  # a check that began in time may succeed
            if el > self.deadline:
                print("%s: STALE after %d ms (%s%s)" % (
                    kind, el * 1000, what,
                    "; last error %s" % last.strerror if last else ""))
                self.figures.write("latency %s stale\n" % kind)
                return
            time.sleep(0.0005)
        # the latency is when the check that succeeded began: a check of
        # 1,000 names takes longer than the change takes to show
        ms = (t_try - t0) * 1000
        check_ms = (time.monotonic() - t_try) * 1000
        self.lat.setdefault(kind, []).append(ms)
        self.figures.write("latency %s %.3f (successful check took %.1f ms)"
                           "\n" % (kind, ms, check_ms))
        print("%s: visible" % kind)


def settle(fn, what):
    """Set-up through the mount: the state just made in SOURCE reaches the
    mount asynchronously (that is what the test measures), so poll for it
    (up to 5 s) before caching it.  Returns fn()'s value."""
    t0 = time.monotonic()
    while True:
        try:
            return fn()
        except (OSError, AssertionError):
            if time.monotonic() - t0 > 5:
                raise AssertionError("set-up: %s never showed" % what)
            time.sleep(0.001)


def see(p):
    return settle(lambda: os.lstat(p), p)


def exists(p):
    try:
        os.lstat(p)
        return True
    except FileNotFoundError:
        return False


def gone(p):
    return not exists(p)


def size(p):
    return os.lstat(p).st_size


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


def kind_create_file(c):
    gone(c.m("cf"))  # a cached negative entry
    os.listdir(c.m())
    write(c.s("cf"), b"x")
    c.wait("create file", lambda: exists(c.m("cf")) and
           "cf" in os.listdir(c.m()), "new name missing")


def kind_create_dir(c):
    gone(c.m("cd"))
    mt = os.lstat(c.m()).st_mtime_ns
    os.mkdir(c.s("cd"))
    c.wait("create dir", lambda: exists(c.m("cd")) and
           os.lstat(c.m()).st_mtime_ns != mt, "new dir missing")


def kind_unlink(c):
    write(c.s("uf"), b"x")
    see(c.m("uf"))
    os.unlink(c.s("uf"))
    c.wait("unlink", lambda: gone(c.m("uf")) and
           "uf" not in os.listdir(c.m()), "removed name still there")


def kind_rmdir(c):
    os.mkdir(c.s("rd"))
    see(c.m("rd"))
    os.listdir(c.m("rd"))
    os.rmdir(c.s("rd"))
    c.wait("rmdir", lambda: gone(c.m("rd")), "removed dir still there")


def kind_rename_file(c):
    write(c.s("ra"), b"abc")
    see(c.m("ra"))
    gone(c.m("rb"))
    os.rename(c.s("ra"), c.s("rb"))
    c.wait("rename file", lambda: gone(c.m("ra")) and size(c.m("rb")) == 3,
           "old name present or new one missing")


def kind_rename_dir(c):
    os.makedirs(c.s("rda", "sub"))
    write(c.s("rda", "sub", "x"), b"12345")
    see(c.m("rda", "sub", "x"))
    gone(c.m("rdb"))
    os.rename(c.s("rda"), c.s("rdb"))
    c.wait("rename dir", lambda: gone(c.m("rda")) and
           size(c.m("rdb", "sub", "x")) == 5, "subtree not moved")


def kind_rename_over(c):
    write(c.s("oa"), b"a" * 7)
    write(c.s("ob"), b"b" * 3)
    see(c.m("oa"))
    see(c.m("ob"))
    read(c.m("ob"))
    os.rename(c.s("oa"), c.s("ob"))
    c.wait("rename over target", lambda: gone(c.m("oa")) and
           size(c.m("ob")) == 7 and read(c.m("ob")) == b"a" * 7,
           "target not replaced")


def kind_exchange(c):
    write(c.s("xa"), b"a" * 2)
    os.mkdir(c.s("xb"))
    see(c.m("xa"))
    see(c.m("xb"))
    renameat2(c.s("xa"), c.s("xb"), RENAME_EXCHANGE)
    c.wait("rename exchange", lambda: os.path.isdir(c.m("xa")) and
           size(c.m("xb")) == 2, "not exchanged")


def kind_chmod(c):
    write(c.s("cm"), b"")
    os.chmod(c.s("cm"), 0o644)
    see(c.m("cm"))
    os.chmod(c.s("cm"), 0o600)
    c.wait("chmod", lambda: os.lstat(c.m("cm")).st_mode & 0o777 == 0o600,
           "old mode")


def kind_chown(c):
    if os.geteuid() != 0:
        print("chown: visible")  # needs root; keep the output the same
        return
    write(c.s("co"), b"")
    see(c.m("co"))
    os.chown(c.s("co"), 65534, 65534)
    c.wait("chown", lambda: os.lstat(c.m("co")).st_uid == 65534,
           "old owner")


def kind_utimes(c):
    write(c.s("ut"), b"")
    see(c.m("ut"))
    os.utime(c.s("ut"), (1000000000, 1000000000))
    c.wait("utimes", lambda: os.lstat(c.m("ut")).st_mtime == 1000000000,
           "old mtime")


def kind_truncate(c):
    write(c.s("tr"), b"x" * 100)
    see(c.m("tr"))
    os.truncate(c.s("tr"), 10)
    c.wait("truncate", lambda: size(c.m("tr")) == 10, "old size")


def kind_rewrite(c):
    write(c.s("rw"), b"aaaa")
    def old():
        assert read(c.m("rw")) == b"aaaa"
    settle(old, "rw's content")
    with open(c.s("rw"), "r+b") as f:
        f.write(b"bbbb")
    c.wait("rewrite same size", lambda: read(c.m("rw")) == b"bbbb",
           "old content")


def kind_symlink_retarget(c):
    os.symlink("one", c.s("sl"))
    settle(lambda: os.readlink(c.m("sl")), "sl")
    os.symlink("two", c.s("sl.tmp"))
    os.rename(c.s("sl.tmp"), c.s("sl"))  # what ln -sfn does
    c.wait("symlink retarget", lambda: os.readlink(c.m("sl")) == "two",
           "old target")


def kind_hardlink(c):
    write(c.s("hl"), b"")
    see(c.m("hl"))
    os.link(c.s("hl"), c.s("hl2"))
    c.wait("hard link add", lambda: os.lstat(c.m("hl")).st_nlink == 2 and
           exists(c.m("hl2")), "old link count")
    os.unlink(c.s("hl2"))
    c.wait("hard link remove", lambda: os.lstat(c.m("hl")).st_nlink == 1
           and gone(c.m("hl2")), "old link count")


def kind_xattr(c):
    write(c.s("xt"), b"")
    try:
        os.setxattr(c.s("xt"), "user.probe", b"1")
        os.removexattr(c.s("xt"), "user.probe")
    except OSError:
        print("xattr set: visible\nxattr remove: visible")
        return
    os.listxattr(c.m("xt"))
    os.setxattr(c.s("xt"), "user.k", b"v")
    c.wait("xattr set", lambda: os.getxattr(c.m("xt"), "user.k") == b"v",
           "attribute missing")
    os.removexattr(c.s("xt"), "user.k")

    def removed():
        try:
            os.getxattr(c.m("xt"), "user.k")
            return False
        except OSError:
            return True
    c.wait("xattr remove", removed, "attribute still there")


def kind_bulk_replace(c, n=1000):
    os.mkdir(c.s("repo"))
    for i in range(n):
        write(c.s("repo", "f%04d" % i), b"old")
    for i in range(n):
        see(c.m("repo", "f%04d" % i))
    t0 = time.monotonic()
    for i in range(n):  # like git checkout: write a temp, rename over
        write(c.s("repo", ".tmp"), b"new content")
        os.rename(c.s("repo", ".tmp"), c.s("repo", "f%04d" % i))
    c.figures.write("bulk-replace change took %.1f ms\n" %
                    ((time.monotonic() - t0) * 1000))

    def all_new():
        return all(size(c.m("repo", "f%04d" % i)) == 11 for i in range(n))
    c.wait("checkout of %d files" % n, all_new, "some files old")


def kind_rm_rf(c, dirs=100, per=99):
    os.mkdir(c.s("big"))
    for d in range(dirs):
        os.mkdir(c.s("big", "d%03d" % d))
        for f in range(per):
            write(c.s("big", "d%03d" % d, "f%02d" % f), b"")
    n = 0
    see(c.m("big", "d%03d" % (dirs - 1), "f%02d" % (per - 1)))
    for root, ds, fs in os.walk(c.m("big")):
        for x in ds + fs:
            os.lstat(os.path.join(root, x))
            n += 1
    shutil.rmtree(c.s("big"))
    c.wait("rm -rf of %d entries" % n, lambda: gone(c.m("big")) and
           gone(c.m("big", "d000", "f00")), "subtree still there")


ALL = [kind_create_file, kind_create_dir, kind_unlink, kind_rmdir,
       kind_rename_file, kind_rename_dir, kind_rename_over, kind_exchange,
       kind_chmod, kind_chown, kind_utimes, kind_truncate, kind_rewrite,
       kind_symlink_retarget, kind_hardlink, kind_xattr, kind_bulk_replace,
       kind_rm_rf]
# What a second client of a network filesystem changes (tests/generic/400):
# every kind above but the exchange (GlusterFS has no RENAME_EXCHANGE) and
# the two bulk ones (minutes over a network filesystem).
NETWORK = [kind_create_file, kind_create_dir, kind_unlink, kind_rmdir,
           kind_rename_file, kind_rename_dir, kind_rename_over, kind_chmod,
           kind_chown, kind_utimes, kind_truncate, kind_rewrite,
           kind_symlink_retarget, kind_hardlink, kind_xattr]
QUICK = [kind_create_file, kind_unlink, kind_rename_dir, kind_chmod,
         kind_rewrite, kind_symlink_retarget, kind_hardlink]


def main(argv):
    src, mnt, deadline_ms, figures = argv[1], argv[2], float(argv[3]), argv[4]
    sets = {"quick": QUICK, "network": NETWORK, "all": ALL}
    kinds = sets[argv[5]] if len(argv) > 5 else ALL
    rounds = int(os.environ.get("COHERENCE_ROUNDS", "1"))
    with open(figures, "a") as f:
        c = Checker(src, mnt, deadline_ms, f)
        for r in range(rounds):
            for k in kinds:
                k(c)
            if r + 1 < rounds:
                for x in os.listdir(src):
                    p = os.path.join(src, x)
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p)
                    else:
                        os.unlink(p)
                sys.stdout = open(os.devnull, "w")  # one round's output
                # a mount with a staleness bound shows the clean-up only
                # after it: the next round starts from an equal state
                time.sleep(float(os.environ.get("COHERENCE_ROUND_PAUSE",
                                                "0")))
        for k, v in c.lat.items():
            v.sort()
            f.write("summary %s: n=%d min=%.2f median=%.2f p90=%.2f "
                    "max=%.2f ms\n" % (k, len(v), v[0], v[len(v) // 2],
                                        v[(len(v) * 9) // 10], v[-1]))


if __name__ == "__main__":
    main(sys.argv)
