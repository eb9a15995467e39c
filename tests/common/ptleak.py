# tests/common/ptleak.py - what the passthrough leak tests (054, 058) share:
# rcufs stats of a mount, waiting for RELEASE to settle, open/close cycles
# from several processes, and the daemon's descriptors.
import json
import os
import stat
import subprocess
import time


def stats(rcufs, mnt):
    out = subprocess.run([rcufs, "stats", mnt, "--json"], check=True,
                         capture_output=True).stdout
    return json.loads(out)


def settled(rcufs, mnt):
    """The stats once no open file is tracked: close(2) returns before the
    kernel's RELEASE reaches the daemon."""
    for _ in range(300):
        d = stats(rcufs, mnt)
        if d["passthrough"]["open_files"] == 0:
            return d
        time.sleep(0.1)
    print("still tracked after 30 s:", d["passthrough"]["open_files"])
    return d


def cycles(nfiles, workers, per_worker):
    """@workers processes open and close files f0..f<nfiles-1> of the
    current directory @per_worker times each: the same inodes from several
    processes at once (shared backing ids, RELEASE racing the next OPEN),
    read-only and read-write, with a read or write every 10th open.
    True if every worker finished without error."""
    pids = []
    for w in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                for i in range(per_worker):
                    fd = os.open("f%d" % ((i * 7 + w * 250) % nfiles),
                                 os.O_RDWR if i % 3 else os.O_RDONLY)
                    if i % 10 == 0:
                        if i % 3:
                            os.pwrite(fd, b"x", 0)
                        else:
                            os.pread(fd, 1, 0)
                    os.close(fd)
            except OSError as e:
                print("worker %d, cycle %d: %s" % (w, i, e), flush=True)
                os._exit(1)
            os._exit(0)
        pids.append(pid)
    return all(os.waitpid(p, 0)[1] == 0 for p in pids)


def fds(st):
    """The daemon's descriptors besides directories (its directory-fd
    cache) and pipes (libfuse gives every new worker thread a splice pipe,
    and many opens at once may start workers)."""
    n = 0
    d = "/proc/%d/fd" % st["daemon"]["pid"]
    for name in os.listdir(d):
        try:
            m = os.stat(os.path.join(d, name)).st_mode
        except FileNotFoundError:
            continue
        if not (stat.S_ISDIR(m) or stat.S_ISFIFO(m)):
            n += 1
    return n


def rss(st):
    return st["daemon"]["rss_bytes"]
