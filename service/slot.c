/*
 * slot.c - an execution slot: its uid and gid, its work root, its cgroup
 * and network namespace, made once at start; the isolation every program
 * started in it gets; the removal of what a run left in its work root.
 * (Its long-lived box is the master's: slotbox.c.)
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/languages.h"
#include "service/slot.h"
#include "service/workdir.h"

/*
 * The slot's work root: <work_root>/slot-<n>, owned by root, mode 0711 so
 * that the slot's uid can reach its own run directory (0700, its own) but
 * list nothing.  Created without following links.
 */
static int open_work_root(struct slot *slot, const struct config *cfg, char *err,
			  size_t errlen)
{
	char name[32];
	int top;
	struct stat st;

	snprintf(name, sizeof name, "slot-%u", slot->index);
	if ((size_t)snprintf(slot->root_path, sizeof slot->root_path, "%s/%s",
			     cfg->work_root, name) >= sizeof slot->root_path) {
		snprintf(err, errlen, "work_root is too long");
		return -1;
	}
	top = open(cfg->work_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0) {
		snprintf(err, errlen, "work root %s: %s", cfg->work_root, strerror(errno));
		return -1;
	}
	if (mkdirat(top, name, 0711) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", slot->root_path, strerror(errno));
		close(top);
		return -1;
	}
	slot->root_fd = openat(top, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(top);
	if (slot->root_fd < 0) {
		snprintf(err, errlen, "open %s: %s", slot->root_path, strerror(errno));
		return -1;
	}
	if (fstat(slot->root_fd, &st) < 0 || st.st_uid != geteuid() ||
	    fchmod(slot->root_fd, 0711) < 0) {
		snprintf(err, errlen, "%s must be a directory owned by runboxd's user",
			 slot->root_path);
		return -1;
	}
	return 0;
}

int slot_open(struct slot *slot, unsigned index, const struct config *cfg,
	      bool cgroup, char *err, size_t errlen)
{
	char name[32];

	memset(slot, 0, sizeof *slot);
	slot->root_fd = -1;
	slot->netns_fd = -1;
	slot->index = index;
	/* Its own uid and gid as root; runboxd's own where it is not root
	   (user namespace or weaker isolation). */
	slot->uid = cfg->weaker || cfg->userns ? geteuid() : cfg->uid_base + index;
	slot->gid = cfg->weaker || cfg->userns ? getegid() : cfg->gid_base + index;
	if (open_work_root(slot, cfg, err, errlen) < 0)
		goto fail;
	/* Joining a namespace per run (or box) costs a fraction of making
	   one. */
	if (cfg->namespaces && !cfg->userns && !cfg->weaker &&
	    (slot->netns_fd = sbx_netns_create(err, errlen)) < 0)
		goto fail;
	snprintf(name, sizeof name, "slot-%u", index);
	if (cgroup && sbx_cgroup_create(&slot->cgroup, name, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	slot_close(slot);
	return -1;
}

void slot_close(struct slot *slot)
{
	sbx_cgroup_destroy(slot->cgroup);
	slot->cgroup = NULL;
	if (slot->root_fd >= 0)
		close(slot->root_fd);
	slot->root_fd = -1;
	if (slot->netns_fd >= 0)
		close(slot->netns_fd);
	slot->netns_fd = -1;
}

/* Read a directory we hold an fd to, from its start, without losing the fd. */
static DIR *dir_stream(int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		errno = saved;
		return NULL;
	}
	rewinddir(d);
	return d;
}

int slot_clear(const struct slot *slot, char *err, size_t errlen)
{
	DIR *d = dir_stream(slot->root_fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "%s: %s", slot->root_path, strerror(errno));
		return -1;
	}
	while ((de = readdir(d))) {
		struct workdir wd = { .root_fd = slot->root_fd, .fd = -1 };
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t len = strlen(de->d_name);
		if (len < sizeof wd.name) {
			memcpy(wd.name, de->d_name, len + 1);
			wd.fd = openat(slot->root_fd, de->d_name,
				       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (wd.fd < 0) {
			/* Only run directories belong here; anything else is
			   unlinked as it is, never followed. */
			if (wd.fd >= 0)
				close(wd.fd);
			if (unlinkat(slot->root_fd, de->d_name, 0) < 0) {
				snprintf(err, errlen, "%s/%s: %s", slot->root_path,
					 de->d_name, strerror(errno));
				rc = -1;
			}
			continue;
		}
		snprintf(wd.path, sizeof wd.path, "%s/%s", slot->root_path, wd.name);
		if (workdir_remove(&wd, err, errlen) < 0) {
			workdir_cleanup(&wd);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}

void slot_isolation(struct sbx_spec *spec, const struct config *cfg,
		    const struct language *lang, const struct slot *slot)
{
	*spec = (struct sbx_spec){
		.set_ids = !cfg->weaker && !cfg->userns, .uid = slot->uid, .gid = slot->gid,
		.rlimit_as = lang ? lang->rlimit_as : true,
		.cgroup = slot->cgroup,
		.seccomp = cfg->seccomp, .root = lang ? &lang->root : &cfg->root,
		.tmp_size = cfg->tmp_size,
	};
	if (cfg->namespaces) {
		spec->box_dir = BOX_DIR;
		spec->namespaces = SBX_NS_ALL | (cfg->userns ? SBX_NS_USER : 0);
		/* Network is off unless the admin allowed it for the language. */
		if (lang && lang->network)
			spec->namespaces &= ~SBX_NS_NET;
		/* The slot's own loopback-only namespace, made once. */
		if (spec->namespaces & SBX_NS_NET && slot->netns_fd >= 0)
			spec->netns_fd_plus1 = slot->netns_fd + 1;
	}
}

