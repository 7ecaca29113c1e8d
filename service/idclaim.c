/*
 * idclaim.c - the sandbox uids and gids one runboxd takes on this host.
 *
 * Every slot runs its programs as uid_base + i and gid_base + i.  Two
 * instances with overlapping ranges would share RLIMIT_NPROC (counted per
 * uid) and kill each other's runs at the end of a run, so an instance takes
 * each of its ids with a lock file, LOCK_DIR/uid-<n>.lock and gid-<n>.lock,
 * held with flock() by runboxd and its workers until the last of them exits
 * (a dead instance's locks are free again).  The files say who holds them,
 * so a refused instance can name the other one.  Then /proc is searched
 * for a process already running as one of the ids: a run of an older
 * runboxd, which took no lock, or a leftover.
 *
 * LOCK_DIR is the same for every instance on purpose: instances that could
 * each pick their own directory would not see each other.  It is not
 * /run/runbox: systemd removes that (RuntimeDirectory=) when the service
 * stops, with the locks of any other instance in it.
 *
 * What this cannot see: an instance whose /run/lock is not this one's (a
 * container with its own /run) and processes in other PID namespaces.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/idclaim.h"

#define PROCESS_RECHECKS 30    /* looks again ... */
#define PROCESS_RECHECK_MS 100 /* ... this often: 3 s in all */

#define LOCK_DIR "/run/lock/runbox"

static void name_of(char *out, size_t len, unsigned i, const struct id_claim *c)
{
	if (i < c->n)
		snprintf(out, len, "uid-%u.lock", (unsigned)c->uid_base + i);
	else
		snprintf(out, len, "gid-%u.lock", (unsigned)c->gid_base + (i - c->n));
}

static int open_dir(char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (mkdir("/run/lock", 0755) < 0 && errno != EEXIST)
		goto fail;
	if (mkdir(LOCK_DIR, 0700) < 0 && errno != EEXIST)
		goto fail;
	if ((fd = open(LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		goto fail;
	/* Only root may make or hold these locks: anyone else could hold
	   one to keep runboxd from starting. */
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 0077)) {
		snprintf(err, errlen, "%s must be a directory of root's, mode 0700, to "
			 "hold the sandbox id locks", LOCK_DIR);
		close(fd);
		return -1;
	}
	return fd;
fail:
	snprintf(err, errlen, "cannot make %s for the sandbox id locks: %s", LOCK_DIR,
		 strerror(errno));
	return -1;
}

/* Hold one lock file: its fd, -1 with err set. */
static int hold(int dir, const char *name, const char *owner, const char *what,
		char *err, size_t errlen)
{
	for (;;) {
		struct stat a, b;
		int fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			snprintf(err, errlen, "%s/%s: %s", LOCK_DIR, name, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			char who[512] = "";
			int e = errno;
			ssize_t n = pread(fd, who, sizeof who - 1, 0);
			close(fd);
			if (e != EWOULDBLOCK) {
				snprintf(err, errlen, "%s/%s: flock: %s", LOCK_DIR, name,
					 strerror(e));
				return -1;
			}
			who[n > 0 ? n : 0] = '\0';
			who[strcspn(who, "\n")] = '\0';
			snprintf(err, errlen, "sandbox %s is taken by another runboxd (%s; lock "
				 "%s/%s): give this one ids of its own with sandbox.uid_base "
				 "and sandbox.gid_base", what, *who ? who : "holder unknown",
				 LOCK_DIR, name);
			return -1;
		}
		/* The file we locked may have been removed by its previous
		   holder in between: then it no longer guards anything. */
		if (fstat(fd, &a) == 0 && fstatat(dir, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			if (ftruncate(fd, 0) < 0 ||
			    pwrite(fd, owner, strlen(owner), 0) != (ssize_t)strlen(owner)) {
				snprintf(err, errlen, "%s/%s: %s", LOCK_DIR, name, strerror(errno));
				close(fd);
				return -1;
			}
			return fd;
		}
		close(fd);
	}
}

/* A "Uid:" or "Gid:" line of /proc/<pid>/status: is any of its four ids in
   [base, base + n)?  The one found, or -1. */
static long in_range(const char *line, unsigned long base, unsigned n)
{
	char *p = strchr(line, ':');
	for (int k = 0; p && k < 4; k++) {
		char *end;
		unsigned long id = strtoul(p + 1, &end, 10);
		if (end == p + 1)
			break;
		if (id >= base && id - base < n)
			return (long)id;
		p = end;
	}
	return -1;
}

/* A process running as one of the ids already: 0, or -1 with err. */
static int check_processes(const struct id_claim *c, char *err, size_t errlen)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int rc = 0;

	if (!d)
		return 0; /* nothing to see: the locks alone must do */
	while (rc == 0 && (de = readdir(d))) {
		char path[300], line[256], comm[64] = "?";
		const char *kind = NULL;
		long id = -1;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof path, "/proc/%s/status", de->d_name);
		if (!(f = fopen(path, "re")))
			continue;
		while (id < 0 && fgets(line, sizeof line, f)) {
			if (!strncmp(line, "Name:", 5))
				sscanf(line + 5, " %63[^\n]", comm);
			else if (!strncmp(line, "State:", 6) && strpbrk(line + 6, "ZX"))
				break; /* a zombie, or dead: nothing runs */
			else if (!strncmp(line, "Uid:", 4) &&
				 (id = in_range(line, c->uid_base, c->n)) >= 0)
				kind = "uid";
			else if (!strncmp(line, "Gid:", 4) &&
				 (id = in_range(line, c->gid_base, c->n)) >= 0)
				kind = "gid";
		}
		fclose(f);
		if (id >= 0) {
			snprintf(err, errlen, "sandbox %s %ld is in use already by process %s (%s), "
				 "a run of another runboxd or a leftover: give this one ids of "
				 "its own with sandbox.uid_base and sandbox.gid_base, or end "
				 "that process", kind, id, de->d_name, comm);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

int ids_claim(struct id_claim *c, uid_t uid_base, gid_t gid_base, unsigned n,
	      const char *config_path, char *err, size_t errlen)
{
	char owner[PATH_MAX + 128], name[64], what[32];
	struct stat ns;

	memset(c, 0, sizeof *c);
	c->dir_fd = -1;
	c->uid_base = uid_base;
	c->gid_base = gid_base;
	if ((c->dir_fd = open_dir(err, errlen)) < 0)
		return -1;
	if (!(c->fds = malloc(2 * n * sizeof *c->fds))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	snprintf(owner, sizeof owner, "pid %d in pid namespace %llu, config %s\n",
		 (int)getpid(),
		 stat("/proc/self/ns/pid", &ns) == 0 ? (unsigned long long)ns.st_ino : 0ULL,
		 config_path);
	c->n = n;
	for (unsigned i = 0; i < 2 * n; i++)
		c->fds[i] = -1;
	for (unsigned i = 0; i < 2 * n; i++) {
		name_of(name, sizeof name, i, c);
		snprintf(what, sizeof what, "%s %u", i < n ? "uid" : "gid",
			 i < n ? (unsigned)uid_base + i : (unsigned)gid_base + (i - n));
		if ((c->fds[i] = hold(c->dir_fd, name, owner, what, err, errlen)) < 0)
			goto fail;
	}
	/* A leftover still being killed (the last instance's run, ended a
	   moment ago) is gone within a moment: look again for a while before
	   refusing.  A zombie holds nothing and is not counted. */
	for (int tries = 0; check_processes(c, err, errlen) < 0; tries++) {
		struct timespec pause = { 0, PROCESS_RECHECK_MS * 1000000L };
		if (tries >= PROCESS_RECHECKS)
			goto fail;
		nanosleep(&pause, NULL);
	}
	return 0;
fail:
	ids_release(c);
	return -1;
}

void ids_release(struct id_claim *c)
{
	char name[64];

	for (unsigned i = 0; c->fds && i < 2 * c->n; i++) {
		if (c->fds[i] < 0)
			continue;
		/* Removed while still held, so that nobody locks a file that
		   is about to go. */
		name_of(name, sizeof name, i, c);
		unlinkat(c->dir_fd, name, 0);
		close(c->fds[i]);
	}
	free(c->fds);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	memset(c, 0, sizeof *c);
	c->dir_fd = -1;
}
