/*
 * workdir.c - per-run work directories (see workdir.h for the rules).
 *
 * Theory of operation
 *
 * The work directory is reached only through wd->fd, opened once when the
 * directory is made.  Every later operation names an entry relative to an
 * fd we hold, with the flags that stop the kernel from following a symlink
 * or blocking on a FIFO, so nothing the program leaves behind can redirect
 * the service (which runs as root) to a file outside.
 *
 * Removal is the delicate part.  It is an iterative depth-first walk with an
 * explicit stack of open directories (struct rm_frame), because the program
 * controls the depth: recursion could overflow the C stack, and one fd per
 * level could exhaust the fd table.  The stack holds at most RM_MAX_OPEN
 * directories.  When the walk would go deeper, it renames the subdirectory
 * up to the top of the work directory instead (a rename of a directory to
 * one of its ancestors is always allowed) and removes it later from there,
 * so any depth is handled in slices of RM_MAX_OPEN levels.
 *
 * A directory is removed when a pass over it reaches the end: rmdir is tried
 * right away, and if it reports "not empty" (entries that readdir did not
 * return because they were added or renamed in during the pass) the
 * directory is read again.  Entries are classified by d_type (or
 * fstatat(AT_SYMLINK_NOFOLLOW) where the file system does not say); anything
 * that is not a directory is unlinked by name, which removes a symlink
 * itself and never opens a FIFO or device.  Directories are opened with
 * O_DIRECTORY|O_NOFOLLOW, so an entry swapped for a symlink or FIFO fails to
 * open instead of being followed, and is then unlinked.
 *
 * Root normally needs no permission on anything, but the walk does not rely
 * on it: a directory that cannot be opened (EACCES) is made 0700 through an
 * O_PATH fd of its own, and a directory whose entries cannot be unlinked is
 * made 0700 through the fd the walk already holds.
 */
#include "config.h"

#include <sys/mount.h>

#include "service/workdir.h"
#include "service/utf8.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Directories workdir_remove() keeps open at once (fds, and frames). */
#define RM_MAX_OPEN 32

/* Enough for a quoted, shortened file name in an error message. */
#define QUOTED_MAX 100

/* Shared by work directory names and the names of moved-up subtrees. */
static atomic_ulong workdir_counter;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fill the caller's error buffer; errno is preserved for the caller. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		utf8_vformat(err, errlen, fmt, ap);
		va_end(ap);
	}
	errno = saved;
}

/*
 * A file name made safe for an error message: quotes, backslashes and
 * control characters escaped, and cut short (with "...") if long.
 */
static const char *quote_name(const char *name, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (; *name != '\0'; name++) {
		unsigned char c = (unsigned char)*name;
		char esc[5];
		size_t n;

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			n = 2;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 2);
			n = 2;
		} else if (c == '\t') {
			memcpy(esc, "\\t", 2);
			n = 2;
		} else if (c < 0x20 || c == 0x7f) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			n = 4;
		} else {
			esc[0] = (char)c;
			n = 1;
		}
		/* keep room for "..." and the NUL */
		if (o + n + 4 > size) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o] = '\0';
	return buf;
}

/* 16 hex digits that make work directory names hard to guess. */
static void random_hex(char out[17], unsigned long salt)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char bytes[8];
	int i;

	if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t)sizeof(bytes)) {
		/* Only the pool is not ready yet (early boot): the name is
		 * still unique through pid and counter, just guessable. */
		struct timespec ts;
		uint64_t v;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^
		    (uint64_t)salt * 0x9e3779b97f4a7c15u;
		memcpy(bytes, &v, sizeof(bytes));
	}
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[bytes[i] >> 4];
		out[2 * i + 1] = hex[bytes[i] & 15];
	}
	out[16] = '\0';
}

int workdir_create(struct workdir *wd, int root_fd, const char *root_path,
		   uid_t uid, gid_t gid, char *err, size_t errlen)
{
	const char *sep;
	struct stat st;
	size_t rootlen;
	int fd, n, tries;

	wd->root_fd = root_fd;
	wd->fd = -1;
	wd->on_tmpfs = false;
	wd->mnt_fd = -1;
	wd->name[0] = '\0';
	wd->path[0] = '\0';

	rootlen = root_path != NULL ? strlen(root_path) : 0;
	if (rootlen == 0) {
		errno = EINVAL;
		set_err(err, errlen, "cannot create a work directory: the work root path is empty");
		return -1;
	}
	sep = root_path[rootlen - 1] == '/' ? "" : "/";

	for (tries = 0;; tries++) {
		unsigned long count = atomic_fetch_add(&workdir_counter, 1);
		char hex[17];

		random_hex(hex, count);
		snprintf(wd->name, sizeof(wd->name), "run-%ld-%lu-%s",
			 (long)getpid(), count, hex);
		n = snprintf(wd->path, sizeof(wd->path), "%s%s%s", root_path, sep, wd->name);
		if (n < 0 || (size_t)n >= sizeof(wd->path)) {
			errno = ENAMETOOLONG;
			set_err(err, errlen, "cannot create a work directory in %s: the path is too long",
				root_path);
			goto fail;
		}
		if (mkdirat(root_fd, wd->name, 0700) == 0)
			break;
		/* EEXIST can only be a leftover of an earlier process with
		 * the same pid: pick the next name. */
		if (errno != EEXIST || tries == 10) {
			set_err(err, errlen, "cannot create a work directory in %s: mkdirat: %s",
				root_path, strerror(errno));
			goto fail;
		}
	}

	fd = openat(root_fd, wd->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		set_err(err, errlen, "cannot open the new work directory %s: %s",
			wd->path, strerror(errno));
		goto fail_rmdir;
	}
	if (fstat(fd, &st) < 0) {
		set_err(err, errlen, "cannot stat the new work directory %s: %s",
			wd->path, strerror(errno));
		goto fail_close;
	}
	/*
	 * mkdirat made it ours with no group or other bits (umask can only
	 * remove bits).  Anything else means the name was swapped between
	 * mkdirat and openat: leave that directory alone, it is not ours.
	 */
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		errno = EEXIST;
		set_err(err, errlen, "the new work directory %s was replaced before it could be opened",
			wd->path);
		goto fail;
	}
	if (fchown(fd, uid, gid) < 0) {
		set_err(err, errlen, "cannot give the work directory %s to %ld:%ld: fchown: %s",
			wd->path, (long)uid, (long)gid, strerror(errno));
		goto fail_close;
	}
	/* Explicitly, so neither umask nor a setgid work root has a say. */
	if (fchmod(fd, 0700) < 0) {
		set_err(err, errlen, "cannot set the mode of the work directory %s: fchmod: %s",
			wd->path, strerror(errno));
		goto fail_close;
	}
	wd->fd = fd;
	return 0;

fail_close:
	close(fd);
fail_rmdir:
	{
		int saved = errno;

		unlinkat(root_fd, wd->name, AT_REMOVEDIR);
		errno = saved;
	}
fail:
	wd->name[0] = '\0';
	wd->path[0] = '\0';
	return -1;
}

int workdir_create_tmpfs(struct workdir *wd, const char *path, uint64_t size,
			 uid_t uid, gid_t gid, char *err, size_t errlen)
{
	static const char *const shared[] = { "tmp", "shm" };
	char num[32];
	uint64_t inodes = size / (16u << 10);
	int fs, mnt = -1, fd = -1;
	const char *step;

	memset(wd, 0, sizeof *wd);
	wd->root_fd = wd->fd = wd->mnt_fd = -1;
	if (strlen(path) >= sizeof wd->path) {
		errno = ENAMETOOLONG;
		set_err(err, errlen, "cannot make a work file system: the path is too long");
		return -1;
	}
	step = "fsopen(tmpfs)";
	if ((fs = fsopen("tmpfs", FSOPEN_CLOEXEC)) < 0)
		goto fail;
	snprintf(num, sizeof num, "%llu", (unsigned long long)size);
	step = "fsconfig(size)";
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", num, 0) < 0)
		goto fail;
	snprintf(num, sizeof num, "%llu", (unsigned long long)(inodes < 1024 ? 1024 : inodes));
	step = "fsconfig(nr_inodes)";
	if (fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", num, 0) < 0)
		goto fail;
	step = "fsconfig(mode)";
	if (fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0)
		goto fail;
	step = "fsconfig(create)";
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	step = "fsmount";
	if ((mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) < 0)
		goto fail;
	close(fs);
	fs = -1;
	/* An empty file system of our own: nothing here can be a link. */
	step = "mkdirat";
	if (mkdirat(mnt, "work", 0700) < 0)
		goto fail;
	for (size_t i = 0; i < 2; i++) {
		int d;
		if (mkdirat(mnt, shared[i], 0700) < 0 ||
		    (d = openat(mnt, shared[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
				O_CLOEXEC)) < 0)
			goto fail;
		int rc = fchmod(d, 01777);
		close(d);
		if (rc < 0)
			goto fail;
	}
	step = "open(work)";
	if ((fd = openat(mnt, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		goto fail;
	step = "fchown(work)";
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, 0700) < 0)
		goto fail;
	wd->fd = fd;
	wd->mnt_fd = mnt;
	wd->on_tmpfs = true;
	snprintf(wd->path, sizeof wd->path, "%s", path);
	return 0;
fail:
	{
		int saved = errno;
		set_err(err, errlen, "cannot make a work file system of %llu bytes: %s: %s",
			(unsigned long long)size, step, strerror(saved));
		if (fd >= 0)
			close(fd);
		if (mnt >= 0)
			close(mnt);
		if (fs >= 0)
			close(fs);
		errno = saved;
	}
	return -1;
}

int workdir_check_name(const char *name, char *err, size_t errlen)
{
	char q[QUOTED_MAX];
	size_t len, i;

	if (name == NULL || name[0] == '\0') {
		errno = EINVAL;
		set_err(err, errlen, "file name must not be empty");
		return -1;
	}
	len = strlen(name);
	if (len > WORKDIR_NAME_MAX) {
		errno = EINVAL;
		set_err(err, errlen, "file name \"%s\" is %zu bytes long; at most %d are allowed",
			quote_name(name, q, sizeof(q)), len, WORKDIR_NAME_MAX);
		return -1;
	}
	if (strchr(name, '/') != NULL) {
		errno = EINVAL;
		set_err(err, errlen, "file name \"%s\" must not contain '/'",
			quote_name(name, q, sizeof(q)));
		return -1;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		errno = EINVAL;
		set_err(err, errlen, "file name \"%s\" is not allowed: it names a directory, not a file",
			name);
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f) {
			errno = EINVAL;
			set_err(err, errlen, "file name \"%s\" must not contain control characters (byte 0x%02x)",
				quote_name(name, q, sizeof(q)), c);
			return -1;
		}
	}
	return 0;
}

int workdir_check_path(const char *path, unsigned max_depth, char *err, size_t errlen)
{
	char q[QUOTED_MAX], part[WORKDIR_NAME_MAX + 1], why[200];
	const char *p = path, *slash;
	unsigned depth = 0;

	/* No folder: a plain name, in the plain name's words. */
	if (path == NULL || strchr(path, '/') == NULL)
		return workdir_check_name(path, err, errlen);
	if (strlen(path) > WORKDIR_PATH_MAX) {
		errno = EINVAL;
		set_err(err, errlen, "file name \"%s\" is %zu bytes long; at most %d are allowed",
			quote_name(path, q, sizeof(q)), strlen(path), WORKDIR_PATH_MAX);
		return -1;
	}
	quote_name(path, q, sizeof(q));
	if (path[0] == '/') {
		errno = EINVAL;
		set_err(err, errlen, "file name \"%s\" must be relative, not an absolute path", q);
		return -1;
	}
	for (;;) {
		size_t n;
		slash = strchr(p, '/');
		n = slash ? (size_t)(slash - p) : strlen(p);
		if (n == 0) {
			errno = EINVAL;
			set_err(err, errlen, "file name \"%s\" has an empty part (\"//\" or a "
				"'/' at its end)", q);
			return -1;
		}
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
			errno = EINVAL;
			set_err(err, errlen, "file name \"%s\" must not have a \"%.*s\" part",
				q, (int)n, p);
			return -1;
		}
		if (n > WORKDIR_NAME_MAX) {
			errno = EINVAL;
			set_err(err, errlen, "file name \"%s\" has a part of %zu bytes; at most "
				"%d are allowed", q, n, WORKDIR_NAME_MAX);
			return -1;
		}
		memcpy(part, p, n);
		part[n] = '\0';
		if (workdir_check_name(part, why, sizeof(why)) < 0) {
			if (slash || p != path)
				set_err(err, errlen, "file name \"%s\": %s", q, why);
			else
				set_err(err, errlen, "%s", why);
			return -1;
		}
		if (!slash)
			break;
		if (++depth > max_depth) {
			errno = EINVAL;
			set_err(err, errlen, "file name \"%s\" has more than %u folder%s",
				q, max_depth, max_depth == 1 ? "" : "s");
			return -1;
		}
		p = slash + 1;
	}
	return 0;
}

/*
 * The folder that holds path's last part: a new fd of it (the caller
 * closes it) and that part in *leaf.  Each folder is opened from the one
 * before with O_DIRECTORY|O_NOFOLLOW, so a folder swapped for a symlink
 * (or for anything else) is refused, never followed.  With create, a
 * missing folder is made (mode 0777, so that the program, whose uid the
 * service never gives it, may add files to it).  -1 with a sentence.
 */
static int open_parent(struct workdir *wd, const char *path, bool create,
		       const char **leaf, char *err, size_t errlen)
{
	char q[QUOTED_MAX], part[WORKDIR_NAME_MAX + 1];
	const char *p = path, *slash;
	int dir = fcntl(wd->fd, F_DUPFD_CLOEXEC, 3);

	if (dir < 0) {
		set_err(err, errlen, "\"%s\": %s", quote_name(path, q, sizeof(q)),
			strerror(errno));
		return -1;
	}
	while ((slash = strchr(p, '/')) != NULL) {
		size_t n = (size_t)(slash - p);
		bool made = false;
		int next;

		memcpy(part, p, n);
		part[n] = '\0';
		if (create) {
			if (mkdirat(dir, part, 0700) == 0)
				made = true;
			else if (errno != EEXIST)
				goto fail;
		}
		next = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			goto fail;
		/* Only a folder made just now gets its mode: umask aside. */
		if (made && fchmod(next, 0777) < 0) {
			int saved = errno;
			close(next);
			errno = saved;
			goto fail;
		}
		close(dir);
		dir = next;
		p = slash + 1;
	}
	*leaf = p;
	return dir;
fail:
	{
		int saved = errno;
		quote_name(path, q, sizeof(q));
		if (errno == ELOOP || errno == ENOTDIR)
			set_err(err, errlen, "\"%s\": its folder \"%.*s\" is not a folder (links "
				"are not followed)", q, (int)(p - path + strlen(part)), path);
		else if (errno == ENOENT)
			set_err(err, errlen, "\"%s\": its folder \"%.*s\" does not exist", q,
				(int)(p - path + strlen(part)), path);
		else
			set_err(err, errlen, "\"%s\": folder \"%.*s\": %s", q,
				(int)(p - path + strlen(part)), path, strerror(errno));
		close(dir);
		errno = saved;
	}
	return -1;
}

/* Write all len bytes, through short writes and EINTR. */
static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int workdir_write(struct workdir *wd, const char *name, const void *data,
		  size_t len, mode_t mode, char *err, size_t errlen)
{
	char q[QUOTED_MAX];
	const char *step, *leaf;
	int fd, dir;

	if (workdir_check_path(name, WORKDIR_DEPTH_MAX, err, errlen) < 0)
		return -1;
	quote_name(name, q, sizeof(q));
	if (wd->fd < 0) {
		errno = EBADF;
		set_err(err, errlen, "cannot write file \"%s\": the work directory is not open", q);
		return -1;
	}
	if ((mode & ~(mode_t)0777) != 0) {
		errno = EINVAL;
		set_err(err, errlen, "cannot write file \"%s\": mode %04o may hold only permission bits (0777)",
			q, (unsigned)mode);
		return -1;
	}
	if ((dir = open_parent(wd, name, true, &leaf, err, errlen)) < 0)
		return -1;

	/* O_EXCL: whatever already has this name (a symlink, a FIFO, a hard
	 * link to a file outside) makes this fail, and is never followed. */
	fd = openat(dir, leaf,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			set_err(err, errlen, "cannot write file \"%s\": it already exists", q);
		else
			set_err(err, errlen, "cannot create file \"%s\": %s", q, strerror(errno));
		{
			int saved = errno;
			close(dir);
			errno = saved;
		}
		return -1;
	}

	step = "write";
	if (write_all(fd, data, len) < 0)
		goto fail;
	step = "fchmod";
	if (fchmod(fd, mode) < 0)
		goto fail;
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	close(dir);
	return 0;

fail:
	set_err(err, errlen, "cannot write file \"%s\": %s: %s", q, step, strerror(errno));
	{
		int saved = errno;

		if (fd >= 0)
			close(fd);
		/* O_EXCL made the file ours: do not leave half of it. */
		unlinkat(dir, leaf, 0);
		close(dir);
		errno = saved;
	}
	return -1;
}

/*
 * Accept only what workdir_read() may return: a regular file with a single
 * link.  Sets errno and the error sentence otherwise.
 */
static int check_readable(const struct stat *st, const char *q, char *err, size_t errlen)
{
	const char *what;

	if (S_ISREG(st->st_mode)) {
		if (st->st_nlink <= 1)
			return 0;
		/* A hard link may reach a file the program cannot read
		 * itself; we can read anything. */
		errno = EMLINK;
		set_err(err, errlen, "cannot read file \"%s\": it has %ju hard links; only files with one are read back",
			q, (uintmax_t)st->st_nlink);
		return -1;
	}
	if (S_ISLNK(st->st_mode)) {
		errno = ELOOP;
		set_err(err, errlen, "cannot read file \"%s\": it is a symbolic link (links are not followed)", q);
		return -1;
	}
	if (S_ISDIR(st->st_mode)) {
		errno = EISDIR;
		set_err(err, errlen, "cannot read file \"%s\": it is a directory, not a regular file", q);
		return -1;
	}
	if (S_ISFIFO(st->st_mode))
		what = "a FIFO";
	else if (S_ISSOCK(st->st_mode))
		what = "a socket";
	else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		what = "a device";
	else
		what = "of an unknown type";
	errno = EINVAL;
	set_err(err, errlen, "cannot read file \"%s\": it is %s, not a regular file", q, what);
	return -1;
}

int workdir_read(struct workdir *wd, const char *name, size_t cap,
		 char **data, size_t *len, bool *truncated,
		 char *err, size_t errlen)
{
	char q[QUOTED_MAX];
	struct stat st;
	char *buf = NULL;
	size_t size, n = 0;
	const char *step, *leaf;
	int fd, dir;

	*data = NULL;
	*len = 0;
	*truncated = false;
	if (workdir_check_path(name, WORKDIR_DEPTH_MAX, err, errlen) < 0)
		return -1;
	quote_name(name, q, sizeof(q));
	if (wd->fd < 0) {
		errno = EBADF;
		set_err(err, errlen, "cannot read file \"%s\": the work directory is not open", q);
		return -1;
	}
	/* The program may have replaced a folder by a link: refused there. */
	if ((dir = open_parent(wd, name, false, &leaf, err, errlen)) < 0) {
		int saved = errno;
		char why[300];
		snprintf(why, sizeof why, "%s", err && errlen ? err : "");
		set_err(err, errlen, "cannot read file %s", why);
		errno = saved;
		return -1;
	}

	/* Look before opening, so a FIFO or device is never opened. */
	if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			set_err(err, errlen, "cannot read file \"%s\": it does not exist", q);
		else
			set_err(err, errlen, "cannot read file \"%s\": fstatat: %s", q, strerror(errno));
		goto out_dir;
	}
	if (check_readable(&st, q, err, errlen) < 0)
		goto out_dir;

	/* The entry may have changed since: O_NOFOLLOW and O_NONBLOCK keep
	 * the open itself harmless, and the fstat below decides. */
	fd = openat(dir, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	{
		int saved = errno;
		close(dir);
		dir = -1;
		errno = saved;
	}
	if (fd < 0) {
		if (errno == ELOOP)
			set_err(err, errlen, "cannot read file \"%s\": it is a symbolic link (links are not followed)", q);
		else
			set_err(err, errlen, "cannot open file \"%s\": %s", q, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		step = "fstat";
		goto fail;
	}
	if (check_readable(&st, q, err, errlen) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}

	/* Start with what fstat promises, grow if the file is longer. */
	size = cap;
	if ((uintmax_t)st.st_size < (uintmax_t)cap)
		size = (size_t)st.st_size;
	if (size == SIZE_MAX) {
		errno = ENOMEM;
		step = "malloc";
		goto fail;
	}
	buf = malloc(size + 1);
	if (buf == NULL) {
		step = "malloc";
		goto fail;
	}

	step = "read";
	while (n < cap) {
		ssize_t r;

		if (n == size) {
			/* Double, by at least 4 KiB, up to the cap. */
			size_t grow = size > 4096 ? size : 4096;
			size_t bigger = cap - size > grow ? size + grow : cap;
			char *p;

			if (bigger == SIZE_MAX) {
				errno = ENOMEM;
				step = "malloc";
				goto fail;
			}
			p = realloc(buf, bigger + 1);
			if (p == NULL) {
				step = "malloc";
				goto fail;
			}
			buf = p;
			size = bigger;
		}
		r = read(fd, buf + n, size - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n == cap) {
		/* Anything beyond the cap?  One byte says. */
		char probe;
		ssize_t r;

		do
			r = read(fd, &probe, 1);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			goto fail;
		*truncated = r > 0;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	*len = n;
	return 0;

fail:
	set_err(err, errlen, "cannot read file \"%s\": %s: %s", q, step, strerror(errno));
	{
		int saved = errno;

		close(fd);
		free(buf);
		errno = saved;
	}
	return -1;

out_dir:
	{
		int saved = errno;

		close(dir);
		errno = saved;
	}
	return -1;
}

/* ---- removal ---------------------------------------------------------- */

/* One open directory of the removal walk. */
struct rm_frame {
	DIR *dir;
	int fd;            /* dirfd(dir) */
	int parent_fd;     /* the directory that holds this one */
	bool saw_entries;  /* the current pass found something to remove */
	bool unlocked;     /* already made 0700 through fd */
	int idle_passes;   /* passes in a row that found nothing, yet rmdir
			      said "not empty" */
	char name[NAME_MAX + 1]; /* its name in parent_fd */
};

struct rm_walk {
	struct rm_frame frames[RM_MAX_OPEN]; /* frames[0]: the work dir */
	int depth;        /* frames in use */
	int top_fd;       /* the work directory, where deep subtrees go */
	dev_t dev;        /* its file system: the walk never leaves it */
	char *err;
	size_t errlen;
};

/*
 * Make the directory name in parent_fd searchable and readable again.  It
 * could not be opened, so its own fd is an O_PATH one, and fchmod does not
 * take those: chmod goes through /proc/self/fd, which reaches exactly the
 * inode that fd holds (it is not a path lookup that a swapped name could
 * redirect).
 */
static int unlock_dir(int parent_fd, const char *name)
{
	char proc[64];
	int fd, r, saved;

	fd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = chmod(proc, 0700);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/*
 * Make the directory of frame f searchable and writable (0700) through the
 * fd we hold, once: an entry in it could not be reached or removed.
 * Returns true if this is new, so the failed step is worth retrying.
 */
static bool rm_unlock_frame(struct rm_frame *f)
{
	if (f->unlocked)
		return false;
	f->unlocked = true;
	return fchmod(f->fd, 0700) == 0;
}

/*
 * Report a failure on the entry name of the directory frames[depth - 1]:
 * depth 1 is the work directory, depth 0 means name is the work directory.
 */
static int rm_fail(struct rm_walk *w, const char *step, const char *name)
{
	char q[QUOTED_MAX];

	quote_name(name, q, sizeof(q));
	if (w->depth == 0)
		set_err(w->err, w->errlen, "cannot remove the work directory \"%s\": %s: %s",
			q, step, strerror(errno));
	else if (w->depth == 1)
		set_err(w->err, w->errlen, "cannot remove \"%s\" in the work directory: %s: %s",
			q, step, strerror(errno));
	else
		set_err(w->err, w->errlen,
			"cannot remove \"%s\" %d directories below the work directory: %s: %s",
			q, w->depth - 1, step, strerror(errno));
	return -1;
}

/*
 * Move the directory name in f up to the top of the work directory under a
 * fresh name, to be removed from there.  RENAME_NOREPLACE keeps the
 * program's own entries safe from being replaced; file systems without
 * renameat2 flags get a plain renameat after checking the name is free.
 */
static int rm_move_up(struct rm_walk *w, struct rm_frame *f, const char *name)
{
	bool unlocked = false;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		char fresh[64];
		struct stat st;

		snprintf(fresh, sizeof(fresh), "deep-%ld-%lu", (long)getpid(),
			 atomic_fetch_add(&workdir_counter, 1));
		if (renameat2(f->fd, name, w->top_fd, fresh, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno == EEXIST)
			continue;
		if (errno == ENOENT)
			return 0; /* already gone */
		if ((errno == EACCES || errno == EPERM) && !unlocked) {
			/* Both directories must be writable, and so must
			 * the one that moves (its ".." changes). */
			unlocked = true;
			rm_unlock_frame(f);
			rm_unlock_frame(&w->frames[0]);
			unlock_dir(f->fd, name);
			continue;
		}
		if (errno != EINVAL && errno != ENOSYS)
			return rm_fail(w, "renameat2 (moving it up)", name);
		if (fstatat(w->top_fd, fresh, &st, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		if (renameat(f->fd, name, w->top_fd, fresh) == 0 || errno == ENOENT)
			return 0;
		return rm_fail(w, "renameat (moving it up)", name);
	}
	errno = EEXIST;
	return rm_fail(w, "renameat2 (moving it up)", name);
}

/*
 * Start walking the subdirectory name of f: push a frame for it, or move it
 * up when the stack is full.  Returns 1 if it was handled (pushed, moved or
 * found gone), 0 if it turned out not to be a directory (the caller
 * unlinks it), -1 on error.
 */
static int rm_enter(struct rm_walk *w, struct rm_frame *f, const char *name)
{
	struct rm_frame *child;
	struct statx stx;
	bool unlocked = false;
	DIR *dir;
	int fd;

	if (w->depth == RM_MAX_OPEN)
		return rm_move_up(w, f, name) < 0 ? -1 : 1;

	for (;;) {
		fd = openat(f->fd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0)
			break;
		if (errno == ENOTDIR || errno == ELOOP)
			return 0; /* replaced by a non-directory */
		if (errno == ENOENT)
			return 1;
		if (errno == EACCES && !unlocked) {
			/* Either this directory is not searchable or the
			 * subdirectory is not readable: fix both. */
			unlocked = true;
			rm_unlock_frame(f);
			if (unlock_dir(f->fd, name) == 0)
				continue;
			errno = EACCES;
		}
		if ((errno == EMFILE || errno == ENFILE) && w->depth > 1)
			return rm_move_up(w, f, name) < 0 ? -1 : 1;
		return rm_fail(w, "openat", name);
	}

	/*
	 * Never descend into another mount (a bind mount of "/" would be the
	 * worst case): the device must match, and the directory must not be
	 * the root of a mount, which catches bind mounts of the same file
	 * system too.
	 */
	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0) {
		rm_fail(w, "statx", name);
		close(fd);
		return -1;
	}
	if (makedev(stx.stx_dev_major, stx.stx_dev_minor) != w->dev ||
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT &
	     stx.stx_attributes) != 0) {
		close(fd);
		errno = EXDEV;
		return rm_fail(w, "it is a mount point, not descending", name);
	}

	dir = fdopendir(fd);
	if (dir == NULL) {
		rm_fail(w, "fdopendir", name);
		close(fd);
		return -1;
	}
	child = &w->frames[w->depth++];
	child->dir = dir;
	child->fd = fd;
	child->parent_fd = f->fd;
	child->saw_entries = false;
	child->unlocked = false;
	child->idle_passes = 0;
	snprintf(child->name, sizeof(child->name), "%s", name);
	return 1;
}

/* Remove one entry of f: unlink it, or start walking it. */
static int rm_entry(struct rm_walk *w, struct rm_frame *f, const struct dirent *ent)
{
	const char *name = ent->d_name;
	bool is_dir = ent->d_type == DT_DIR;
	int tries, r;

	if (ent->d_type == DT_UNKNOWN) {
		struct stat st;

		while (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				return 0;
			if (errno == EACCES && rm_unlock_frame(f))
				continue;
			return rm_fail(w, "fstatat", name);
		}
		is_dir = S_ISDIR(st.st_mode);
	}

	/* A few tries: the entry may change type under us (only if some
	 * process of the run survived, but then we still must not fail
	 * unsafely). */
	for (tries = 0; tries < 4; tries++) {
		if (is_dir) {
			r = rm_enter(w, f, name);
			if (r != 0)
				return r < 0 ? -1 : 0;
			is_dir = false;
			continue;
		}
		if (unlinkat(f->fd, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno == EISDIR) {
			is_dir = true;
			continue;
		}
		if ((errno == EACCES || errno == EPERM) && rm_unlock_frame(f))
			continue; /* it was not writable, or sticky */
		return rm_fail(w, "unlinkat", name);
	}
	errno = EAGAIN;
	return rm_fail(w, "it keeps changing type", name);
}

/* Report a failure on the innermost open directory itself. */
static int rm_fail_dir(struct rm_walk *w, const char *step)
{
	struct rm_frame *f = &w->frames[w->depth - 1];

	/* as seen from its parent */
	w->depth--;
	rm_fail(w, step, f->name);
	w->depth++;
	return -1;
}

/*
 * The end of a pass over the innermost open directory: remove it if it is
 * empty, or read it again.
 */
static int rm_end_of_pass(struct rm_walk *w)
{
	struct rm_frame *f = &w->frames[w->depth - 1];
	struct rm_frame *parent = w->depth > 1 ? &w->frames[w->depth - 2] : NULL;

	for (;;) {
		if (unlinkat(f->parent_fd, f->name, AT_REMOVEDIR) == 0 || errno == ENOENT) {
			closedir(f->dir);
			f->dir = NULL;
			w->depth--;
			return 0;
		}
		if (errno == ENOTEMPTY || errno == EEXIST) {
			/* New entries appeared during the pass (subtrees
			 * moved up, or a readdir that missed some): read it
			 * again, as long as passes find something. */
			if (f->saw_entries)
				f->idle_passes = 0;
			else if (++f->idle_passes > 3)
				break;
			f->saw_entries = false;
			rewinddir(f->dir);
			return 0;
		}
		/* The parent is not writable: fix it through its fd, which
		 * we hold (but never touch the work root, which we do not
		 * own). */
		if ((errno == EACCES || errno == EPERM) && parent != NULL &&
		    rm_unlock_frame(parent))
			continue;
		break;
	}
	return rm_fail_dir(w, "rmdir");
}

int workdir_remove(struct workdir *wd, char *err, size_t errlen)
{
	struct rm_walk *w;
	struct stat st;
	int fd, rc = -1;

	if (wd->on_tmpfs) {
		/* Nothing to walk: dropping the mount frees the tree. */
		workdir_cleanup(wd);
		return 0;
	}
	if (wd->fd < 0)
		return 0;

	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		set_err(err, errlen, "cannot remove the work directory %s: %s",
			wd->path, strerror(errno));
		goto out;
	}
	w->err = err;
	w->errlen = errlen;
	w->top_fd = wd->fd;

	if (fstat(wd->fd, &st) < 0) {
		set_err(err, errlen, "cannot remove the work directory %s: fstat: %s",
			wd->path, strerror(errno));
		goto out;
	}
	w->dev = st.st_dev;

	/* A DIR of our own on a duplicate: closedir must not close wd->fd
	 * under the walk, which renames into it. */
	fd = fcntl(wd->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		set_err(err, errlen, "cannot remove the work directory %s: dup: %s",
			wd->path, strerror(errno));
		goto out;
	}
	w->frames[0].dir = fdopendir(fd);
	if (w->frames[0].dir == NULL) {
		set_err(err, errlen, "cannot remove the work directory %s: fdopendir: %s",
			wd->path, strerror(errno));
		close(fd);
		goto out;
	}
	/* The duplicate shares wd->fd's offset, which may not be at the
	 * start. */
	rewinddir(w->frames[0].dir);
	w->frames[0].fd = fd;
	w->frames[0].parent_fd = wd->root_fd;
	snprintf(w->frames[0].name, sizeof(w->frames[0].name), "%s", wd->name);
	w->depth = 1;

	while (w->depth > 0) {
		struct rm_frame *f = &w->frames[w->depth - 1];
		struct dirent *ent;

		errno = 0;
		ent = readdir(f->dir);
		if (ent == NULL) {
			if (errno != 0) {
				rm_fail_dir(w, "readdir");
				goto out;
			}
			if (rm_end_of_pass(w) < 0)
				goto out;
			continue;
		}
		if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
			continue;
		f->saw_entries = true;
		if (rm_entry(w, f, ent) < 0)
			goto out;
	}
	rc = 0;

out:
	{
		int saved = errno;

		if (w != NULL) {
			while (w->depth > 0)
				closedir(w->frames[--w->depth].dir);
			free(w);
		}
		close(wd->fd);
		wd->fd = -1;
		errno = saved;
	}
	return rc;
}

void workdir_cleanup(struct workdir *wd)
{
	if (wd->fd >= 0) {
		close(wd->fd);
		wd->fd = -1;
	}
	if (wd->on_tmpfs && wd->mnt_fd >= 0) {
		close(wd->mnt_fd);
		wd->mnt_fd = -1;
	}
}
