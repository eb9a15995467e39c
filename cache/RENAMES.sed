# Public renames of cache/dcache.h (issue 14), to apply to fs/ at merge:
#   sed -i -f cache/RENAMES.sed $(git ls-files fs)
# then delete this file.  Pure identifier renames.
s/\bdcache_inode_get\b/dc_inode_get/g
s/\bdcache_inode_find\b/dc_inode_find/g
