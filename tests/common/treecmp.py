"""tests/common/treecmp.py - compare two trees (SOURCE and a mount of it)
entry by entry: type, mode, size, link count, owner, mtime, symlink target
and file contents.  Prints "identical (N entries)" or the first
differences, one per line (paths relative to the roots).

  python3 treecmp.py A B
"""
import hashlib
import os
import stat
import sys


def describe(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            v = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode),
                 st.st_nlink, st.st_uid, st.st_gid, st.st_mtime_ns]
            if stat.S_ISLNK(st.st_mode):
                v.append(os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                v.append(st.st_size)
                with open(p, "rb") as f:
                    v.append(hashlib.sha1(f.read()).hexdigest())
            out[rel] = v
    return out


def main(a, b):
    da, db = describe(a), describe(b)
    diffs = []
    for k in sorted(set(da) | set(db)):
        if da.get(k) != db.get(k):
            diffs.append("%s: %s vs %s" % (k, da.get(k), db.get(k)))
    if diffs:
        print("DIFFERENT: %d entries" % len(diffs))
        for x in diffs[:20]:
            print("  " + x)
    else:
        print("identical (%d entries)" % len(da))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
