/*
 * idclaim.h - the sandbox uids and gids one runboxd takes on this host.
 */
#ifndef RUNBOX_IDCLAIM_H
#define RUNBOX_IDCLAIM_H

#include <stddef.h>
#include <sys/types.h>

struct id_claim {
	uid_t uid_base;
	gid_t gid_base;
	unsigned n;   /* ids of each kind */
	int dir_fd;
	int *fds;     /* 2 n lock files: the uids, then the gids */
};

/* Take uid_base.. and gid_base.. (n of each) for this process and its
   children: 0, or -1 with one sentence naming who has them. */
int ids_claim(struct id_claim *c, uid_t uid_base, gid_t gid_base, unsigned n,
	      const char *config_path, char *err, size_t errlen);
/* Give them back (remove the lock files); the claim may be empty. */
void ids_release(struct id_claim *c);

#endif
