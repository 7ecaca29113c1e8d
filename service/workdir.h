/*
 * workdir.h - per-run work directories.
 *
 * Each run gets a fresh directory: as root, on a tmpfs of its own
 * (workdir_create_tmpfs, sized by disk_bytes, never on the host's disk);
 * otherwise inside its slot's work root (workdir_create).  The service
 * writes the request's files into it, the program runs with it as its cwd
 * (owned by the run's uid), the service reads back the files the program
 * produced, and finally removes the whole tree (for a tmpfs: drops it).
 *
 * While the program runs, everything inside the directory is hostile: it may
 * be replaced by symlinks (to "/" or to anything else), FIFOs, hard links to
 * files outside, directories with no permissions, nests thousands deep.
 * So the rules are:
 *  - every access is relative to the directory's fd (openat, unlinkat...),
 *    never by path, and never follows a symlink (O_NOFOLLOW, unlinkat of the
 *    link itself);
 *  - no FIFO or device inside is ever opened (file types are checked before
 *    opening, and directories are opened only with O_DIRECTORY);
 *  - nothing inside is ever chowned: the only chown is of the work
 *    directory itself, through its own fd, when it is created;
 *  - removal never descends into another file system (a mount point);
 *  - every fd is O_CLOEXEC, and removal keeps a bounded number open.
 *
 * Every function that can fail returns -1 and writes a sentence naming the
 * step and the cause into err (when err is not NULL and errlen > 0), with
 * errno set to the cause.
 */
#ifndef RUNBOX_WORKDIR_H
#define RUNBOX_WORKDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest file name workdir_check_name() accepts (NAME_MAX). */
#define WORKDIR_NAME_MAX 255
/* The longest name with folders, and the most folders, any call takes
   (a request's own bounds, from the config, are at most these). */
#define WORKDIR_PATH_MAX 1024
#define WORKDIR_DEPTH_MAX 32

struct workdir {
	int root_fd;     /* the slot's work root (not owned) */
	int fd;          /* the work directory itself, O_DIRECTORY|O_NOFOLLOW;
			    -1 when not open */
	char name[64];   /* its name inside the root */
	char path[4096]; /* absolute path, for the program's cwd */
	bool on_tmpfs;   /* workdir_create_tmpfs: fd is "work" on mnt_fd */
	int mnt_fd;      /* then: the detached tmpfs (fsmount), owned */
};

/*
 * A fresh work directory on a file system of its own: a new tmpfs of
 * size bytes (and a cap on inodes, one per 16 KiB, at least 1024), made
 * detached (fsopen/fsmount, nosuid, nodev): it has no path on the host and
 * nothing outside can reach it.  Its root (root's, 0755) holds "work"
 * (uid:gid, 0700: wd->fd), "tmp" and "shm" (1777), which the sandbox
 * mounts at the run's box_dir (path is a name for messages only), /tmp and /dev/shm
 * (sbx_spec.workfs_fd_plus1 = 1 + wd->mnt_fd): all of a run's files share
 * the one quota.  workdir_remove() closes both fds; the kernel frees the
 * whole tree when the last mount of it is gone.  Needs CAP_SYS_ADMIN.
 */
int workdir_create_tmpfs(struct workdir *wd, const char *path, uint64_t size,
			 uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * Make a fresh directory "run-<pid>-<counter>-<random hex>" in root_fd
 * (whose path is root_path) with mode 0700, open it, check that it is the
 * directory we just made, and give it to uid:gid with mode 0700.
 * root_path should be absolute: wd->path is root_path + "/" + wd->name.
 * wd->fd is -1 until this succeeds; on failure nothing is left behind and
 * wd->name is empty.
 */
int workdir_create(struct workdir *wd, int root_fd, const char *root_path,
		   uid_t uid, gid_t gid, char *err, size_t errlen);

/*
 * Check that name is a plain file name: not empty, at most
 * WORKDIR_NAME_MAX bytes, no '/', not "." or "..", no control characters
 * (bytes below 0x20, and 0x7f).  A C string cannot carry a NUL, so a
 * caller holding a counted string (e.g. from JSON) must reject embedded
 * NULs itself.  errno = EINVAL on failure.
 */
int workdir_check_name(const char *name, char *err, size_t errlen);

/*
 * Check a name that may hold folders ("pkg/util.py"): parts separated by
 * single '/', each one a name workdir_check_name() accepts (so no "."
 * or ".." part, no empty part: no leading, doubled or trailing '/'), at
 * most max_depth folders and WORKDIR_PATH_MAX bytes.  errno = EINVAL.
 */
int workdir_check_path(const char *path, unsigned max_depth, char *err, size_t errlen);

/*
 * Create the file name (workdir_check_path(): it may hold folders, made as
 * needed, mode 0777, never through a link) in the work directory with
 * exactly len bytes of data and exactly the given mode (umask does not apply).  mode may only hold
 * permission bits (0777): a setuid file written by root would be a gift to
 * the program.  Fails without touching anything if the name already exists
 * as anything (file, symlink, FIFO, hard link...): errno = EEXIST.
 * A partly written file is removed.
 */
int workdir_write(struct workdir *wd, const char *name, const void *data,
		  size_t len, mode_t mode, char *err, size_t errlen);

/*
 * Read back up to cap bytes of the regular file name (which may hold
 * folders: each opened without following a link; a folder replaced by a
 * link or a file is refused with ELOOP or ENOTDIR).  On success *data is
 * malloc'd and NUL-terminated (it may contain NULs), *len is its length and
 * *truncated says whether the file holds more than cap bytes.
 * Refused: a missing file (errno = ENOENT), a symlink (ELOOP, never
 * followed), a directory (EISDIR), a FIFO, socket or device (EINVAL,
 * never opened), and a regular file with more than one link (EMLINK: it
 * may be a hard link to a file the program could not read itself).
 */
int workdir_read(struct workdir *wd, const char *name, size_t cap,
		 char **data, size_t *len, bool *truncated,
		 char *err, size_t errlen);

/*
 * Remove everything inside the work directory, then the directory itself,
 * and close wd->fd.  Survives hostile content: symlinks (removed, never
 * followed), FIFOs and devices (unlinked, never opened), directories
 * without permissions, nests of any depth (the fds kept open are bounded:
 * too deep a subdirectory is moved up to the top of the work directory and
 * removed from there), any number of entries, any names.  Refuses to
 * descend into a mount point.  Returns 0, or -1 with a sentence; either
 * way wd->fd is closed afterwards, and a second call is a no-op.
 */
int workdir_remove(struct workdir *wd, char *err, size_t errlen);

/* Close the work directory's fd without removing anything (error paths). */
void workdir_cleanup(struct workdir *wd);

#endif
