/*
 * slot.h - one execution slot: who runs the program, where its work
 * directories live, its cgroup and network namespace, and the isolation
 * every program started in it gets (runs, compile steps, version probes,
 * and what /health describes).
 */
#ifndef RUNBOX_SLOT_H
#define RUNBOX_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "sandbox/sandbox.h"
#include "service/settings.h"

struct box_client;
struct language;

/*
 * Where a run with namespaces sees its work directory, which is also its
 * HOME, TMPDIR and starting directory: one fixed path, the same for every
 * run and slot, so nothing the program can read (pwd, the environment,
 * /proc/self/mountinfo, df) names the host's work root, runboxd's runtime
 * directory or the slot.
 */
#define BOX_DIR "/box"

struct slot {
	unsigned index;
	uid_t uid;
	gid_t gid;
	int root_fd;          /* the slot's work root, O_DIRECTORY */
	struct sbx_cgroup *cgroup; /* NULL without cgroups */
	int netns_fd;         /* the slot's network namespace, or -1 */
	struct box_client *boxes; /* this worker's way to the slots' boxes
				     (slotbox.h); NULL: runs build their
				     own isolation (the master, userns) */
	char root_path[1024];
};

/* Make slot index: its identity, its work root under cfg->work_root
   (created if needed, without following links), its network namespace
   (as root with namespaces) and, with cgroup, its cgroup (after
   sbx_cgroup_init).  0, or -1 with a sentence and nothing held. */
int slot_open(struct slot *slot, unsigned index, const struct config *cfg,
	      bool cgroup, char *err, size_t errlen);
/* Let go of all of it (the cgroup is emptied and removed). */
void slot_close(struct slot *slot);
/* Remove every run directory left in the slot's work root. */
int slot_clear(const struct slot *slot, char *err, size_t errlen);

/* The isolation every program started in slot gets (runs, compile steps,
   version probes; /health describes it): identity, namespaces, network,
   cgroup, seccomp, root, the work directory's path.  The caller adds
   argv, envp, cwd, stdin and limits.  lang NULL: a command. */
void slot_isolation(struct sbx_spec *spec, const struct config *cfg,
		    const struct language *lang, const struct slot *slot);

#endif
