/*
 * root.c - plan the minimal root of a run (struct sbx_root), in the parent.
 *
 * The init of the run's namespaces (child.c, setup_root) may only make raw
 * system calls, so everything it needs is decided here, before the clone:
 * which host paths exist and what they are (a directory or file is bound, a
 * symlink is copied, anything missing is skipped), which directories and
 * mount points to make, the contents of the generated /etc files, and the
 * options of every mount.  The result is a list of struct root_op the init
 * replays in order on an empty tmpfs; the list is the whole of what the
 * program can see of the host.
 *
 * Order matters: mount points are made on the root tmpfs before anything is
 * mounted on or below them; the binds are made read-only when they are
 * created (mount_setattr on the detached clone), so no step of the init can
 * ever write through one to the host; the work directory is moved in last.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"

const char *const sbx_root_devices[] = {
	"null", "zero", "full", "random", "urandom", "tty", NULL,
};

#define DEFAULT_PTYS 16
#define ROOT_TMPFS_OPTS "mode=0755,size=1m,nr_inodes=4096"

static struct root_op *add_op(struct root_plan *rp, enum root_op_kind kind,
			      int step, const char *path)
{
	if (rp->n == rp->cap) {
		size_t cap = rp->cap ? rp->cap * 2 : 64;
		struct root_op *ops = realloc(rp->ops, cap * sizeof *ops);
		if (!ops)
			return NULL;
		rp->ops = ops;
		rp->cap = cap;
	}
	struct root_op *op = &rp->ops[rp->n];
	*op = (struct root_op){ .kind = kind, .step = step };
	/* Relative to the new root: the init builds it from its cwd. */
	while (*path == '/')
		path++;
	if (!(op->path = strdup(path)))
		return NULL;
	rp->n++;
	return op;
}

static int set_str(char **dst, const char *s)
{
	return (*dst = strdup(s)) ? 0 : -1;
}

static bool have_dir(const struct root_plan *rp, const char *rel)
{
	for (size_t i = 0; i < rp->n; i++)
		if (rp->ops[i].kind == ROOT_OP_DIR && !strcmp(rp->ops[i].path, rel))
			return true;
	return false;
}

/* A directory and every ancestor of it, once each. */
static int add_dirs(struct root_plan *rp, const char *path, bool last)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *c = buf + 1;; c++) {
		if (*c != '/' && *c)
			continue;
		char saved = *c;
		if (saved || last) {
			*c = '\0';
			if (!have_dir(rp, buf + 1)) {
				struct root_op *op = add_op(rp, ROOT_OP_DIR,
							    CHILD_STEP_ROOT_DIR, buf);
				if (!op)
					return -1;
				op->mode = 0755;
			}
			*c = saved;
		}
		if (!saved)
			return 0;
	}
}

static int add_file(struct root_plan *rp, const char *path, const char *text,
		    unsigned mode)
{
	struct root_op *op = add_op(rp, ROOT_OP_FILE, CHILD_STEP_ROOT_FILE, path);

	if (!op || set_str(&op->data, text) < 0)
		return -1;
	op->len = strlen(text);
	op->mode = mode;
	return 0;
}

static int add_symlink(struct root_plan *rp, const char *path, const char *target)
{
	struct root_op *op = add_op(rp, ROOT_OP_SYMLINK, CHILD_STEP_ROOT_SYMLINK, path);
	return op && set_str(&op->data, target) == 0 ? 0 : -1;
}

static int add_mount(struct root_plan *rp, const char *path, const char *type,
		     uint64_t flags, const char *opts)
{
	struct root_op *op;

	if (add_dirs(rp, path, true) < 0 ||
	    !(op = add_op(rp, ROOT_OP_MOUNT, CHILD_STEP_ROOT_MOUNT, path)) ||
	    set_str(&op->src, type) < 0 || set_str(&op->data, opts) < 0)
		return -1;
	op->flags = flags;
	return 0;
}

/* The host's src, read-only, at the same path (a file needs a file to be
   mounted on, a directory a directory). */
static int add_bind(struct root_plan *rp, const char *src, bool is_dir, int step,
		    uint64_t attr)
{
	struct root_op *op;
	char *slash = strrchr(src, '/');

	if (slash > src) {
		*slash = '\0';
		int rc = add_dirs(rp, src, true);
		*slash = '/';
		if (rc < 0)
			return -1;
	}
	if (is_dir ? add_dirs(rp, src, true) < 0 : add_file(rp, src, "", 0644) < 0)
		return -1;
	if (!(op = add_op(rp, ROOT_OP_BIND, step, src)) || set_str(&op->src, src) < 0)
		return -1;
	op->flags = attr;
	return 0;
}

/*
 * Where the run's own file system (sbx_spec.workfs_fd_plus1) is attached
 * while the root is built: its directories are bound at the work
 * directory, /tmp and /dev/shm, then this mount is let go of and the
 * directory removed, so the program never sees it.
 */
#define WORKFS_AT "/.workfs"

static int add_subdir(struct root_plan *rp, const char *from, const char *to)
{
	struct root_op *op;

	if (add_dirs(rp, to, true) < 0 ||
	    !(op = add_op(rp, ROOT_OP_SUBDIR, CHILD_STEP_ROOT_WORKFS, to)) ||
	    set_str(&op->src, from + 1) < 0)
		return -1;
	return 0;
}

/* Is path at or below base? */
static bool is_under(const char *path, const char *base)
{
	size_t n = strlen(base);
	if (n == 1)
		return true;
	return !strncmp(path, base, n) && (path[n] == '\0' || path[n] == '/');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The allow-list.  Sorted, so that a directory comes before what lies
 * below it and a path already visible through a bound directory is not
 * bound twice.  A symlink is copied (its target resolves in the new root,
 * where the allow-list must hold it too); a path missing on the host is
 * skipped: one config serves hosts with and without /lib64.
 */
static int plan_binds(struct root_plan *rp, char *const *binds, const char **what)
{
	size_t n = 0;
	char **v;
	int rc = -1;

	for (char *const *b = binds; b && *b; b++)
		n++;
	if (!(v = calloc(n + 1, sizeof *v)))
		return -1;
	for (size_t i = 0; i < n; i++)
		v[i] = binds[i];
	qsort(v, n, sizeof *v, cmp_str);
	for (size_t i = 0; i < n; i++) {
		char path[PATH_MAX], target[PATH_MAX];
		struct stat st;
		bool covered = false;

		*what = "a bound path must be absolute, not \"/\" and without \"..\"";
		if (v[i][0] != '/' || !v[i][1] || strstr(v[i], "/..") ||
		    strlen(v[i]) >= sizeof path) {
			errno = EINVAL;
			goto out;
		}
		snprintf(path, sizeof path, "%s", v[i]);
		for (size_t k = strlen(path); k > 1 && path[k - 1] == '/'; k--)
			path[k - 1] = '\0';
		for (size_t j = 0; j < i && !covered; j++)
			covered = v[j] && is_under(path, v[j]) && strcmp(path, v[j]);
		if (covered)
			continue;
		*what = "lstat of a bound path";
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR) {
				v[i] = NULL; /* covers nothing below it */
				continue;
			}
			goto out;
		}
		*what = "malloc";
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlink(path, target, sizeof target - 1);
			char *slash = strrchr(path, '/');
			*what = "readlink of a bound path";
			if (len < 0)
				goto out;
			target[len] = '\0';
			*what = "malloc";
			if (slash > path) {
				*slash = '\0';
				if (add_dirs(rp, path, true) < 0)
					goto out;
				*slash = '/';
			}
			if (add_symlink(rp, path, target) < 0)
				goto out;
			v[i] = NULL; /* what is below it is elsewhere on the host */
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			if (add_bind(rp, path, S_ISDIR(st.st_mode), CHILD_STEP_ROOT_BIND,
				     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				     MOUNT_ATTR_NODEV) < 0)
				goto out;
		} else {
			*what = "a bound path must be a directory, a file or a symlink";
			errno = EINVAL;
			goto out;
		}
	}
	rc = 0;
out:
	free(v);
	return rc;
}

/* Where the work directory appears in the new root (NULL: nowhere). */
static const char *work_at(const struct sbx_spec *spec)
{
	return spec->box_dir ? spec->box_dir : spec->cwd;
}

/* The identity files, for the program's uid and gid as it sees them. */
static int plan_etc(struct root_plan *rp, const struct sbx_spec *spec)
{
	char passwd[512], group[256];
	unsigned uid = 0, gid = 0;

	if (!(spec->namespaces & SBX_NS_USER) && spec->set_ids) {
		uid = (unsigned)spec->uid;
		gid = (unsigned)spec->gid;
	}
	int n = snprintf(passwd, sizeof passwd, "root:x:0:0:root:/:/usr/sbin/nologin\n");
	if (uid != 0 && uid != 65534)
		n += snprintf(passwd + n, sizeof passwd - (size_t)n,
			      "runbox:x:%u:%u:runbox:%s:/bin/sh\n", uid, gid,
			      work_at(spec) ? work_at(spec) : "/");
	snprintf(passwd + n, sizeof passwd - (size_t)n,
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
	n = snprintf(group, sizeof group, "root:x:0:\n");
	if (gid != 0 && gid != 65534)
		n += snprintf(group + n, sizeof group - (size_t)n, "runbox:x:%u:\n", gid);
	snprintf(group + n, sizeof group - (size_t)n, "nogroup:x:65534:\n");
	return add_dirs(rp, "/etc", true) < 0 ||
		add_file(rp, "/etc/passwd", passwd, 0644) < 0 ||
		add_file(rp, "/etc/group", group, 0644) < 0 ||
		add_file(rp, "/etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
			 "127.0.1.1\trunbox\n", 0644) < 0 ? -1 : 0;
}

/*
 * /dev: the host's own nodes of a short list, bound (read-only mounts do
 * not stop writes to a device; nodev would stop every use, so not that),
 * the usual links, a devpts instance of the run's own and shm.
 */
static int plan_dev(struct root_plan *rp, const struct sbx_spec *spec,
		    const char *tmp_opts)
{
	static const char *const links[][2] = {
		{ "/dev/fd", "/proc/self/fd" }, { "/dev/stdin", "/proc/self/fd/0" },
		{ "/dev/stdout", "/proc/self/fd/1" }, { "/dev/stderr", "/proc/self/fd/2" },
		{ "/dev/ptmx", "pts/ptmx" },
	};
	char opts[96];

	if (add_dirs(rp, "/dev", true) < 0)
		return -1;
	for (const char *const *d = sbx_root_devices; *d; d++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof path, "/dev/%s", *d);
		if (stat(path, &st) < 0 || !S_ISCHR(st.st_mode))
			continue; /* not on this host: not in the run either */
		if (add_bind(rp, path, false, CHILD_STEP_ROOT_DEVICE,
			     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (add_symlink(rp, links[i][0], links[i][1]) < 0)
			return -1;
	snprintf(opts, sizeof opts, "newinstance,ptmxmode=0666,mode=0620,max=%u",
		 spec->root->ptys ? spec->root->ptys : DEFAULT_PTYS);
	if (add_mount(rp, "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, opts) < 0)
		return -1;
	if (spec->workfs_fd_plus1 > 0)
		return add_subdir(rp, WORKFS_AT "/shm", "/dev/shm");
	return add_mount(rp, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts);
}

int root_plan_build(struct root_plan *rp, const struct sbx_spec *spec,
		    const char *tmp_opts, const char **what)
{
	struct root_op *op;

	memset(rp, 0, sizeof *rp);
	snprintf(rp->mnt_opts, sizeof rp->mnt_opts, "%s", ROOT_TMPFS_OPTS);
	if (!spec->root) {
		*what = "SBX_NS_MNT without a root";
		errno = EINVAL;
		return -1;
	}
	*what = "a run's file system needs a cwd or a box_dir";
	if (spec->workfs_fd_plus1 > 0 && !work_at(spec)) {
		errno = EINVAL;
		goto fail;
	}
	*what = "malloc";
	if (spec->workfs_fd_plus1 > 0 &&
	    (add_dirs(rp, WORKFS_AT, true) < 0 ||
	     !add_op(rp, ROOT_OP_WORKFS, CHILD_STEP_ROOT_WORKFS, WORKFS_AT)))
		goto fail;
	if (plan_etc(rp, spec) < 0 || plan_dev(rp, spec, tmp_opts) < 0 ||
	    add_mount(rp, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "") < 0)
		goto fail;
	if (spec->workfs_fd_plus1 > 0 ? add_subdir(rp, WORKFS_AT "/tmp", "/tmp") < 0 :
	    add_mount(rp, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_opts) < 0)
		goto fail;
	if (plan_binds(rp, spec->root->binds, what) < 0)
		goto fail;
	*what = "malloc";
	if (spec->workfs_fd_plus1 > 0) {
		if (add_subdir(rp, WORKFS_AT "/work", work_at(spec)) < 0 ||
		    !add_op(rp, ROOT_OP_DETACH, CHILD_STEP_ROOT_WORKFS, WORKFS_AT))
			goto fail;
	} else if (spec->cwd) {
		if (add_dirs(rp, work_at(spec), true) < 0 ||
		    !(op = add_op(rp, ROOT_OP_WORKDIR, CHILD_STEP_ROOT_WORKDIR,
				  work_at(spec))))
			goto fail;
	} else if (spec->box_dir && add_dirs(rp, spec->box_dir, true) < 0) {
		goto fail;
	}
	return 0;
fail:
	{
		int saved = errno;
		root_plan_free(rp);
		errno = saved;
	}
	return -1;
}

void root_plan_free(struct root_plan *rp)
{
	for (size_t i = 0; i < rp->n; i++) {
		free(rp->ops[i].path);
		free(rp->ops[i].src);
		free(rp->ops[i].data);
	}
	free(rp->ops);
	rp->ops = NULL;
	rp->n = rp->cap = 0;
}
