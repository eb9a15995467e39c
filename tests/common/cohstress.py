"""tests/common/cohstress.py - seeded coherence stress: direct changes in
SOURCE racing reads (and some writes) through the mount.

  python3 cohstress.py SOURCE MNT SECS SEED FIGURES

Processes (all seeded from SEED, so the sequence of operations of each is
reproducible; their interleaving is not):
  direct writers (2)  random changes made directly in SOURCE: create,
                      unlink, mkdir, rm -rf of subtrees, rename of files and
                      directories (also over existing targets), exchange
                      (renameat2 RENAME_EXCHANGE), chmod, truncate, same-size
                      rewrite, symlink retarget (ln -sfn), hard links, xattr
                      set/remove
  mount writer (1)    the same kinds of change made through the mount
  path readers (2)    lstat, open/read, readdir, readlink, getxattr of
                      random names through the mount, each compared with
                      the same call on SOURCE right after it
  cwd reader (1)      chdir into a mount directory and look up relative
                      names, compared with SOURCE through an fd on the same
                      directory

Every change is logged with its start and end time (CLOCK_MONOTONIC, shared
by all processes), the paths it touched and the inode numbers of the
objects it touched (hard links share attributes).  A disagreement between
the mount and SOURCE is "stale" when no change to the name (itself, an
ancestor, a descendant, or its inode) overlaps [mount call start - 100 ms,
SOURCE call end]; its staleness is the mount call's start minus the end of
the last change that did touch it.  The cwd reader, whose directory may
move, instead re-polls a disagreement until the mount and SOURCE agree and
reports how long that took.

After SECS the writers stop; the mount is compared with SOURCE
(treecmp.describe) until identical, for at most 1 s.

Stdout (deterministic): the verdicts.  FIGURES: op counts, staleness
figures, ESTALE counts, the first disagreements in detail.
"""
import bisect
import errno
import json
import os
import random
import shutil
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsx import renameat2, RENAME_EXCHANGE  # noqa: E402
import treecmp  # noqa: E402

WINDOW = 0.100  # a change may take this long to show
BOUND = 2.0  # fail when a disagreement lasts longer than this

TOP = ["d0", "d1", "d2", "d3"]
SUB = ["s0", "s1"]
NAMES = ["n0", "n1", "n2", "n3", "n4"]
DIRS = [""] + TOP + [t + "/" + s for t in TOP for s in SUB]
# every name the processes use: directories' own names and plain names
PATHS = sorted(set([d for d in DIRS if d] +
                   [(d + "/" if d else "") + n for d in DIRS for n in NAMES]))
XATTR = "user.k"


def rnd_path(r):
    return r.choice(PATHS)


def rnd_content(r):
    return bytes(r.choice(b"abcdefgh") for _ in range(r.randint(0, 300)))


def populate(src, seed):
    r = random.Random(seed)
    for d in DIRS:
        if d:
            os.makedirs(os.path.join(src, d), exist_ok=True)
    for d in DIRS:
        for n in NAMES:
            p = os.path.join(src, d, n)
            k = r.random()
            if k < 0.5:
                with open(p, "wb") as f:
                    f.write(rnd_content(r))
            elif k < 0.65:
                os.symlink("t%d" % r.randint(0, 9), p)


def inos_under(p):
    """Inode numbers of p and (a directory) everything below it."""
    out = []
    try:
        st = os.lstat(p)
    except OSError:
        return out
    out.append(st.st_ino)
    if stat.S_ISDIR(st.st_mode):
        for d, dirs, files in os.walk(p):
            for n in dirs + files:
                try:
                    out.append(os.lstat(os.path.join(d, n)).st_ino)
                except OSError:
                    pass
    return out


OPS = ["create", "create", "unlink", "mkdir", "rmrf", "rename", "rename",
       "rename_dir", "exchange", "chmod", "truncate", "rewrite", "rewrite",
       "symlink", "link", "setxattr", "rmxattr"]


def one_change(r, root, src, counts):
    """One random change below root (SOURCE or the mount); returns the
    relative paths it touches (SOURCE inode numbers are looked up by the
    caller)."""
    op = r.choice(OPS)
    a, b = rnd_path(r), rnd_path(r)
    pa, pb = os.path.join(root, a), os.path.join(root, b)
    touched = [a]
    try:
        if op == "create":
            # mkdir -p first: keeps the name space populated
            os.makedirs(os.path.dirname(pa), exist_ok=True)
            with open(pa, "wb") as f:
                f.write(rnd_content(r))
        elif op == "unlink":
            os.unlink(pa)
        elif op == "mkdir":
            os.makedirs(pa)
        elif op == "rmrf":
            if os.path.isdir(pa) and not os.path.islink(pa):
                shutil.rmtree(pa)
                os.mkdir(pa)  # keep the name space populated
                with open(os.path.join(pa, r.choice(NAMES)), "wb") as f:
                    f.write(rnd_content(r))
            else:
                os.unlink(pa)
        elif op in ("rename", "rename_dir"):
            if op == "rename_dir":
                a = r.choice(DIRS[1:])
                pa = os.path.join(root, a)
            touched = [a, b]
            os.rename(pa, pb)
        elif op == "exchange":
            touched = [a, b]
            renameat2(pa, pb, RENAME_EXCHANGE)
        elif op == "chmod":
            m = r.choice([0o644, 0o600, 0o755, 0o640])
            if os.path.islink(pa):
                raise OSError(errno.ELOOP, "symlink")
            os.chmod(pa, m)
        elif op == "truncate":
            os.truncate(pa, r.randint(0, 400))
        elif op == "rewrite":
            # same size, new bytes, in place
            with open(pa, "r+b") as f:
                n = len(f.read())
                f.seek(0)
                f.write(bytes(r.choice(b"ABCDEFGH") for _ in range(n)))
        elif op == "symlink":
            tmp = pa + ".tmp%d" % r.randint(0, 1 << 30)
            os.symlink("t%d" % r.randint(0, 99), tmp)
            try:
                os.rename(tmp, pa)
            except OSError:
                os.unlink(tmp)
                raise
        elif op == "link":
            touched = [a, b]
            os.link(pa, pb)
        elif op == "setxattr":
            os.setxattr(pa, XATTR, b"v%d" % r.randint(0, 999),
                        follow_symlinks=False)
        elif op == "rmxattr":
            os.removexattr(pa, XATTR, follow_symlinks=False)
        counts[op] = counts.get(op, 0) + 1
    except OSError as e:
        counts["failed"] = counts.get("failed", 0) + 1
        if e.errno == errno.EIO:
            counts["EIO"] = counts.get("EIO", 0) + 1
        if e.errno == errno.ESTALE:
            counts["ESTALE"] = counts.get("ESTALE", 0) + 1
    return touched


def writer(kind, idx, src, mnt, seed, t_end, out):
    r = random.Random("%d/%s/%d" % (seed, kind, idx))
    root = src if kind == "direct" else mnt
    counts = {}
    log = []
    pause = 0.0 if kind == "direct" else 0.002
    while time.monotonic() < t_end:
        # inode numbers of what the change may touch, before and after
        a_hint = r.getstate()
        t0 = time.monotonic()
        touched = one_change(r, root, src, counts)
        t1 = time.monotonic()
        inos = []
        for p in touched:
            inos += inos_under(os.path.join(src, p))
        log.append((t0, t1, touched, inos))
        del a_hint
        if pause:
            time.sleep(pause)
    with open(out, "w") as f:
        json.dump({"counts": counts, "log": log}, f)


# ---- observations ----

def err(e):
    return "E" + errno.errorcode.get(e.errno, str(e.errno))


def obs_lstat(p):
    try:
        st = os.lstat(p)
    except OSError as e:
        return err(e), None
    v = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_nlink,
         st.st_uid]
    if not stat.S_ISDIR(st.st_mode):
        v += [st.st_size, st.st_mtime_ns]
    return v, st.st_ino


def obs_read(p):
    try:
        with open(p, "rb", buffering=0) as f:
            return f.read(100000).hex()
    except OSError as e:
        return err(e)


def obs_list(p):
    try:
        return sorted(os.listdir(p))
    except OSError as e:
        return err(e)


def obs_link(p):
    try:
        return os.readlink(p)
    except OSError as e:
        return err(e)


def obs_xattr(p):
    try:
        return os.getxattr(p, XATTR, follow_symlinks=False).decode()
    except OSError as e:
        return err(e)


KINDS = {"lstat": lambda p: obs_lstat(p)[0], "read": obs_read,
         "readdir": obs_list, "readlink": obs_link, "getxattr": obs_xattr}


def count_err(counts, v):
    if isinstance(v, str) and v in ("EEIO", "EESTALE"):
        counts[v[1:]] = counts.get(v[1:], 0) + 1


def path_reader(idx, src, mnt, seed, t_end, out):
    r = random.Random("%d/reader/%d" % (seed, idx))
    counts, bad = {}, []
    while time.monotonic() < t_end:
        rel = rnd_path(r)
        kind = r.choice(list(KINDS))
        t0 = time.monotonic()
        vm = KINDS[kind](os.path.join(mnt, rel))
        t1 = time.monotonic()
        vs = KINDS[kind](os.path.join(src, rel))
        ino = obs_lstat(os.path.join(src, rel))[1]
        t2 = time.monotonic()
        counts[kind] = counts.get(kind, 0) + 1
        count_err(counts, vm)
        if vm != vs:
            bad.append((t0, t1, t2, rel, ino, kind, str(vm)[:120],
                        str(vs)[:120]))
    with open(out, "w") as f:
        json.dump({"counts": counts, "bad": bad}, f)


def cwd_reader(src, mnt, seed, t_end, out):
    """chdir into a mount directory, compare relative lookups with an fd
    on the same SOURCE directory; re-poll a disagreement until it ends."""
    r = random.Random("%d/cwd" % seed)
    counts, waits = {}, []
    while time.monotonic() < t_end:
        d = r.choice(DIRS[1:])
        try:
            os.chdir(os.path.join(mnt, d))
            fd = os.open(os.path.join(src, d), os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            counts["chdir " + err(e)] = counts.get("chdir " + err(e), 0) + 1
            os.chdir("/")
            continue
        try:
            try:
                same = os.stat(".").st_ino == os.fstat(fd).st_ino
            except OSError as e:
                count_err(counts, err(e))
                continue
            if not same:
                counts["moved"] = counts.get("moved", 0) + 1
                continue
            counts["chdir"] = counts.get("chdir", 0) + 1
            for _ in range(20):
                n = r.choice(NAMES + SUB)

                def both():
                    try:
                        st = os.lstat(n)
                        vm = (stat.S_IFMT(st.st_mode), st.st_ino)
                    except OSError as e:
                        vm = err(e)
                    try:
                        st = os.lstat(n, dir_fd=fd)
                        vs = (stat.S_IFMT(st.st_mode), st.st_ino)
                    except OSError as e:
                        vs = err(e)
                    return vm, vs
                vm, vs = both()
                counts["lookup"] = counts.get("lookup", 0) + 1
                count_err(counts, vm)
                if vm == "EESTALE":
                    break  # documented: cwd moved in SOURCE
                if vm != vs:
                    first = "%s vs %s" % (vm, vs)
                    t0 = time.monotonic()
                    # a cwd moved or removed in SOURCE: the mount says
                    # ESTALE (documented), counted above
                    while (vm != vs and vm != "EESTALE" and
                           time.monotonic() - t0 < 3):
                        time.sleep(0.002)
                        vm, vs = both()
                    count_err(counts, vm)
                    waits.append((time.monotonic() - t0, d, n, str(vm),
                                  str(vs), first))
        finally:
            os.close(fd)
            os.chdir("/")
    with open(out, "w") as f:
        json.dump({"counts": counts, "waits": waits}, f)


def touches(change, rel, ino):
    t0, t1, paths, inos = change
    if ino is not None and ino in inos:
        return True
    for q in paths:
        if q == rel or rel.startswith(q + "/") or q.startswith(rel + "/"):
            return True
    return False


def main(src, mnt, secs, seed, figures):
    fig = open(figures, "a")
    tmp = tempfile.mkdtemp(prefix="cohstress.")
    populate(src, seed)
    # the mount caches everything first
    treecmp.describe(mnt)
    t_start = time.monotonic()
    t_end = t_start + secs
    procs = []

    def spawn(fn, *args):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                fn(*args)
            except BaseException as e:  # a crash of the process
                sys.stderr.write("%s: %r\n" % (fn.__name__, e))
                code = 1
            os._exit(code)
        procs.append((pid, fn.__name__))

    outs = {}
    for i in range(2):
        outs["direct%d" % i] = os.path.join(tmp, "direct%d" % i)
        spawn(writer, "direct", i, src, mnt, seed, t_end,
              outs["direct%d" % i])
    outs["mountw"] = os.path.join(tmp, "mountw")
    spawn(writer, "mount", 0, src, mnt, seed, t_end, outs["mountw"])
    for i in range(2):
        outs["reader%d" % i] = os.path.join(tmp, "reader%d" % i)
        spawn(path_reader, i, src, mnt, seed, t_end, outs["reader%d" % i])
    outs["cwd"] = os.path.join(tmp, "cwd")
    spawn(cwd_reader, src, mnt, seed, t_end, outs["cwd"])
    crashed = 0
    for pid, name in procs:
        _, status = os.waitpid(pid, 0)
        if status:
            crashed += 1
    t_stop = time.monotonic()
    # settle: identical within 1 s
    t0 = time.monotonic()
    while True:
        t_try = time.monotonic()
        try:
            same = treecmp.describe(src) == treecmp.describe(mnt)
        except OSError:
            same = False
        if same or time.monotonic() - t0 > 1.0:
            break
        time.sleep(0.01)
    settle_ms = (t_try - t0) * 1000
    t_settled = time.monotonic()
    res = {}
    for k, p in outs.items():
        try:
            with open(p) as f:
                res[k] = json.load(f)
        except (OSError, ValueError):
            res[k] = {}
    shutil.rmtree(tmp, ignore_errors=True)
    changes = []
    fig.write("cohstress: seed %d, %.1f s, %s\n" % (seed, secs, src))
    for k in ("direct0", "direct1", "mountw"):
        changes += res[k].get("log", [])
        fig.write("  %s ops: %s\n" % (k, json.dumps(
            res[k].get("counts", {}), sort_keys=True)))
    changes.sort(key=lambda c: c[1])
    eio = estale = 0
    for k in ("direct0", "direct1", "mountw", "reader0", "reader1", "cwd"):
        c = res[k].get("counts", {})
        eio += c.get("EIO", 0) + c.get("EEIO", 0)
        estale += c.get("ESTALE", 0)
        if k.startswith("reader") or k == "cwd":
            fig.write("  %s: %s\n" % (k, json.dumps(c, sort_keys=True)))
    # classify the path readers' disagreements
    bad = res["reader0"].get("bad", []) + res["reader1"].get("bad", [])
    nstale, worst, racy, examples = 0, 0.0, 0, []
    estale_racy = {}
    ends = [c[1] for c in changes]  # sorted
    longest = max([c[1] - c[0] for c in changes] or [0])
    for t0m, t1m, t2s, rel, ino, kind, vm, vs in bad:
        last = t_start
        excused = False
        # changes that end in [t0m - WINDOW, ...) and start by t2s
        i = bisect.bisect_left(ends, t0m - WINDOW)
        j = bisect.bisect_right(ends, t2s + longest)
        for c in changes[i:j]:
            if c[0] <= t2s and touches(c, rel, ino):
                excused = True
                break
        # else the last change touching it ended before t0m - WINDOW
        for c in (changes[k] for k in range(i - 1, -1, -1)):
            if excused:
                break
            if touches(c, rel, ino):
                last = c[1]
                break
        if excused:
            racy += 1
            if vm == "EESTALE":
                estale_racy[vs] = estale_racy.get(vs, 0) + 1
            continue
        nstale += 1
        st = t0m - last
        worst = max(worst, st)
        if len(examples) < 10:
            examples.append("    %s %s: mount %s, SOURCE %s, %.0f ms after "
                            "the last change" % (kind, rel, vm, vs, st * 1000))
    fig.write("  path disagreements: %d during changes, %d stale "
              "(> %d ms after the last change), worst %.0f ms\n" % (
                  racy, nstale, WINDOW * 1000, worst * 1000))
    for x in examples:
        fig.write(x + "\n")
    fig.write("  path readers' ESTALE during changes, by what SOURCE "
              "said: %s\n" % json.dumps(estale_racy, sort_keys=True))
    waits = res["cwd"].get("waits", [])
    wworst = max([w[0] for w in waits] or [0])
    fig.write("  cwd disagreements: %d, longest %.0f ms\n" % (
        len(waits), wworst * 1000))
    for w in sorted(waits, reverse=True)[:5]:
        fig.write("    %.0f ms %s/%s: first mount/SOURCE %s; last mount %s, "
                  "SOURCE %s\n" % (w[0] * 1000, w[1], w[2], w[5], w[3],
                                    w[4]))
    fig.write("  ESTALE seen: %d, EIO: %d, crashed processes: %d\n" % (
        estale, eio, crashed))
    fig.write("  settle: %s after %.0f ms\n" % (
        "identical" if same else "DIFFERENT", settle_ms))
    fig.write("  phases: processes ended %.1f s after the deadline, "
              "analysis %.1f s\n" % (t_stop - t_end,
                                     time.monotonic() - t_settled))
    if not same:
        da, db = treecmp.describe(src), treecmp.describe(mnt)
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                fig.write("    %s: SOURCE %s mount %s\n" % (
                    k, da.get(k), db.get(k)))
    fig.close()
    print("crashed processes: %d" % crashed)
    print("EIO: %d" % eio)
    print("mount identical to SOURCE within 1 s: %s" % same)
    print("disagreements lasting over %g s: %d" % (BOUND, sum(
        1 for w in waits if w[0] > BOUND) + (1 if worst > BOUND else 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3]),
                  int(sys.argv[4]), sys.argv[5]))
