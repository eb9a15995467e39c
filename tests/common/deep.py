"""tests/common/deep.py ROOT DEPTH - a chain of directories deeper than
PATH_MAX (200-byte names) under ROOT, reached only with *at() calls on
directory fds: created, listed, statted, renamed and removed.  Prints one
line per result, the same on every filesystem that has no depth limit."""
import errno
import os
import stat
import sys

root, depth = sys.argv[1], int(sys.argv[2])


def nm(i, tag="d"):
    return (tag + chr(ord("a") + i % 26)) * 100  # 200 bytes


def short(n):
    return "%s*%d" % (n[:2], len(n)) if len(n) > 20 else n


def en(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def opendir(name, at):
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=at)


def walk(names):
    """fds of every level, opened one by one from ROOT."""
    fds = [os.open(root, os.O_RDONLY | os.O_DIRECTORY)]
    for n in names:
        fds.append(opendir(n, fds[-1]))
    return fds


def show(names, label):
    fds = walk(names)
    total = len(root) + sum(len(n) + 1 for n in names)
    print("%s: depth %d, path %s PATH_MAX" %
          (label, len(names), "over" if total > 4096 else "within"))
    for i, fd in enumerate(fds):
        st = os.fstat(fd)
        ents = sorted(short(e) for e in os.listdir(fd))
        print(("  %2d: %s nlink %d %s" %
               (i, stat.filemode(st.st_mode), st.st_nlink,
                " ".join(ents))).rstrip())
    for fd in fds:
        os.close(fd)


def rmtree(at, name):
    fd = opendir(name, at)
    for e in os.listdir(fd):
        if stat.S_ISDIR(os.lstat(e, dir_fd=fd).st_mode):
            rmtree(fd, e)
        else:
            os.unlink(e, dir_fd=fd)
    os.close(fd)
    os.rmdir(name, dir_fd=at)


names = [nm(i) for i in range(depth)]
print("== mkdir %d levels of 200-byte names" % depth)
fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
for i, n in enumerate(names):
    os.mkdir(n, 0o750 if i % 2 else 0o755, dir_fd=fd)
    nfd = opendir(n, fd)
    os.close(fd)
    fd = nfd
f = os.open("file", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640, dir_fd=fd)
os.write(f, b"at the bottom\n")
os.close(f)
os.symlink("file", "link", dir_fd=fd)
os.link("file", "hard", src_dir_fd=fd, dst_dir_fd=fd)
os.close(fd)
show(names, "created")

print("== stat and read at the bottom")
fds = walk(names)
bottom = fds[-1]
for e in ("file", "link", "hard", "missing"):
    try:
        st = os.lstat(e, dir_fd=bottom)
        print("  %s: %s size %d nlink %d" %
              (e, stat.filemode(st.st_mode), st.st_size, st.st_nlink))
    except OSError as x:
        print("  %s: %s" % (e, en(x)))
f = os.open("link", os.O_RDONLY, dir_fd=bottom)
print("  read through the link:", os.read(f, 100).decode().strip())
os.close(f)
print("  readlink:", os.readlink("link", dir_fd=bottom))
try:
    os.stat(os.path.join(root, *names, "file"))
    print("  by full path: ok")
except OSError as x:
    print("  by full path:", en(x))
for fd in fds:
    os.close(fd)

print("== rename a middle level and the bottom file; mkdir below")
mid = depth // 2
fds = walk(names[:mid])
os.rename(names[mid], nm(mid, "r"), src_dir_fd=fds[-1], dst_dir_fd=fds[-1])
for fd in fds:
    os.close(fd)
names[mid] = nm(mid, "r")
fds = walk(names)
os.rename("file", "renamed", src_dir_fd=fds[-1], dst_dir_fd=fds[-1])
# across levels: the hard link moves two levels up
os.rename("hard", "moved-up", src_dir_fd=fds[-1], dst_dir_fd=fds[-3])
os.mkdir(nm(depth), dir_fd=fds[-1])
for fd in fds:
    os.close(fd)
names.append(nm(depth))
show(names, "renamed")

print("== a directory moved from deep to shallow and back")
fds = walk(names)
os.rename(names[-1], "shallow", src_dir_fd=fds[-2], dst_dir_fd=fds[0])
print("  shallow at the top:", "shallow" in os.listdir(fds[0]))
os.mkdir("inside", dir_fd=opendir("shallow", fds[0]))
os.rename("shallow", names[-1], src_dir_fd=fds[0], dst_dir_fd=fds[-2])
print("  back below:", sorted(os.listdir(opendir(names[-1], fds[-2]))))
for fd in fds:
    os.close(fd)

print("== remove everything")
rmtree(os.open(root, os.O_RDONLY | os.O_DIRECTORY), names[0])
print("  left:", sorted(os.listdir(root)))
