/*
 * denied.c - after execve or chdir failed with EACCES in the child: which
 * directory on the way the run's user may not enter.
 *
 * "execve: Permission denied" alone sends people looking at the program's
 * own mode when the usual cause is a parent directory: a checkout in root's
 * home (0700) or in a `mktemp -d` folder, reached by a slot uid.  The child
 * only reports {step, errno}; here, in the parent, the path is walked again
 * component by component the way the kernel resolves it (symlinks followed,
 * at most 40 of them), checking each directory's mode and owner against the
 * run's uid and gid (the child had no supplementary groups).  ACLs are not
 * read: the mode bits are what almost every such directory has.
 *
 * Nothing below a directory the run's user cannot search is ever looked at,
 * so the answer tells the client nothing that user could not have learnt
 * with lstat().
 *
 * With a mount namespace the run sees only its new root (root.c): the
 * allow-list and the work directory as on the host, their ancestors
 * recreated with mode 0755 on the root's tmpfs, nothing else.  A directory
 * is taken as the run saw it: recreated ones are enterable, anything else
 * does not exist for the run and ends the walk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/internal.h"

#define MAX_LINKS 40 /* the kernel's limit on symlinks in one lookup */

/* Whose permissions count, and what the walk found. */
struct walk {
	const struct sbx_spec *spec;
	uid_t uid;
	gid_t gid;
	bool privileged; /* root with its capabilities: enters everything */
	char blocked[PATH_MAX];
	mode_t mode;
};

enum verdict { ENTER, BLOCKED, UNKNOWN };

/* p is base or below it ("/" is above everything). */
static bool is_under(const char *p, const char *base)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return strncmp(p, base, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

enum view { AS_ON_HOST, RECREATED, ABSENT };

/* How the run's new root shows the host directory dir. */
static enum view mount_view(const struct sbx_spec *spec, const char *dir)
{
	if (!(spec->namespaces & SBX_NS_MNT))
		return AS_ON_HOST;
	if (spec->cwd && is_under(dir, spec->cwd))
		return AS_ON_HOST; /* the work directory is put back as it is */
	for (char *const *b = spec->root ? spec->root->binds : NULL; b && *b; b++)
		if (is_under(dir, *b))
			return AS_ON_HOST;
	/* Made on the root's tmpfs on the way to the work directory or to
	   an allowed path: enterable.  Anything else is not there. */
	if (spec->cwd && is_under(spec->cwd, dir))
		return RECREATED;
	for (char *const *b = spec->root ? spec->root->binds : NULL; b && *b; b++)
		if (is_under(*b, dir))
			return RECREATED;
	return ABSENT;
}

/* The permission bits (of S_IRWXO) that apply to the run's user on st. */
static mode_t may(const struct walk *w, const struct stat *st)
{
	if (st->st_uid == w->uid)
		return (st->st_mode & S_IRWXU) >> 6;
	if (st->st_gid == w->gid)
		return (st->st_mode & S_IRWXG) >> 3;
	return st->st_mode & S_IRWXO;
}

/* May the run's user search dir?  BLOCKED records it. */
static enum verdict check_dir(struct walk *w, const char *dir)
{
	struct stat st;

	switch (mount_view(w->spec, dir)) {
	case RECREATED:
		return ENTER;
	case ABSENT:
		return UNKNOWN;
	case AS_ON_HOST:
		break;
	}
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return UNKNOWN;
	if (w->privileged || may(w, &st) & S_IXOTH)
		return ENTER;
	snprintf(w->blocked, sizeof w->blocked, "%s", dir);
	w->mode = st.st_mode & 07777;
	return BLOCKED;
}

/*
 * Resolve path from the directory start (absolute, free of symlinks) as the
 * kernel would, checking every directory a lookup happens in; with
 * final_dir the last component must be entered too (chdir).
 */
static enum verdict walk_path(struct walk *w, const char *start, const char *path,
			      bool final_dir)
{
	char cur[PATH_MAX], todo[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	int links = 0;

	if (snprintf(cur, sizeof cur, "%s", path[0] == '/' ? "/" : start) >= (int)sizeof cur ||
	    snprintf(todo, sizeof todo, "%s", path) >= (int)sizeof todo)
		return UNKNOWN;
	for (;;) {
		char *name = todo + strspn(todo, "/");
		size_t len = strcspn(name, "/");
		const char *rest = name + len;
		bool last = rest[strspn(rest, "/")] == '\0';
		struct stat st;
		enum verdict v;

		if (len == 0)
			return final_dir ? check_dir(w, cur) : ENTER;
		/* Looking a name up in cur needs search permission on cur. */
		if ((v = check_dir(w, cur)) != ENTER)
			return v;
		if (len == 1 && name[0] == '.') {
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		if (len == 2 && name[0] == '.' && name[1] == '.') {
			char *slash = strrchr(cur, '/');
			slash[slash == cur] = '\0'; /* "/a/b" -> "/a", "/a" -> "/" */
			memmove(todo, rest, strlen(rest) + 1);
			continue;
		}
		if (snprintf(next, sizeof next, "%s%s%.*s", cur, strcmp(cur, "/") ? "/" : "",
			     (int)len, name) >= (int)sizeof next ||
		    lstat(next, &st) < 0)
			return UNKNOWN;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(next, target, sizeof target - 1);
			if (++links > MAX_LINKS || n <= 0)
				return UNKNOWN;
			target[n] = '\0';
			if (target[0] == '/')
				strcpy(cur, "/");
			/* The link's text, then what followed it. */
			if (strlen(target) + strlen(rest) >= sizeof todo)
				return UNKNOWN;
			memmove(todo + n, rest, strlen(rest) + 1);
			memcpy(todo, target, (size_t)n);
			continue;
		}
		if (last)
			return final_dir ? check_dir(w, next) : ENTER;
		if (!S_ISDIR(st.st_mode))
			return UNKNOWN;
		memcpy(cur, next, strlen(next) + 1);
		memmove(todo, rest, strlen(rest) + 1);
	}
}

/*
 * The interpreter of a "#!" script, into interp; false when path is not
 * one.  Only a script the run's user may execute gets as far as its
 * interpreter, and only one it may read is read here.
 */
static bool script_interpreter(const struct walk *w, const char *path, char *interp,
			       size_t len)
{
	char head[256];
	struct stat st;
	ssize_t n;
	int fd;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (!w->privileged && (may(w, &st) & (S_IROTH | S_IXOTH)) != (S_IROTH | S_IXOTH))
		return false;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, head, sizeof head - 1) : -1;
	close(fd);
	if (n < 2 || head[0] != '#' || head[1] != '!')
		return false;
	head[n] = '\0';
	char *s = head + 2 + strspn(head + 2, " \t");
	size_t l = strcspn(s, " \t\n");
	if (l == 0 || l >= len)
		return false;
	memcpy(interp, s, l);
	interp[l] = '\0';
	return true;
}

bool explain_denied(const struct sbx_spec *spec, const char *path, bool is_cwd,
		    char *why, size_t len)
{
	struct walk w = { .spec = spec };
	char start[PATH_MAX], interp[PATH_MAX];
	enum verdict v;

	if (spec->set_ids) {
		w.uid = spec->uid;
		w.gid = spec->gid;
		w.privileged = spec->uid == 0;
	} else if (spec->namespaces & SBX_NS_USER) {
		/* uid 0 inside maps to the caller's uid; no capabilities. */
		w.uid = geteuid();
		w.gid = getegid();
	} else {
		return false; /* the caller's own identity: not ours to explain */
	}
	/* A relative path starts where the child was: in its cwd when
	   execve failed, in the caller's cwd when chdir did (a cwd on the
	   run's own file system has no host path: only absolute ones then). */
	if (path[0] == '/')
		snprintf(start, sizeof start, "/");
	else if (!realpath(!is_cwd && spec->cwd ? spec->cwd : ".", start))
		return false;
	v = walk_path(&w, start, path, is_cwd);
	if (v == BLOCKED) {
		snprintf(why, len, "the run's user (uid %u) cannot enter %s (mode %04o)",
			 (unsigned)w.uid, w.blocked, (unsigned)w.mode);
		return true;
	}
	if (v != ENTER || is_cwd || !script_interpreter(&w, path, interp, sizeof interp))
		return false;
	if (walk_path(&w, start, interp, false) != BLOCKED)
		return false;
	snprintf(why, len, "the run's user (uid %u) cannot enter %s (mode %04o) on the way "
		 "to its interpreter %s", (unsigned)w.uid, w.blocked, (unsigned)w.mode, interp);
	return true;
}
