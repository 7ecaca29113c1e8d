/*
 * languages.h - the languages runboxd offers, defined in a JSON file under
 * conf/ (never in C): how to compile (optional) and run each one.
 */
#ifndef RUNBOX_LANGUAGES_H
#define RUNBOX_LANGUAGES_H

#include <jansson.h>
#include <stdbool.h>

#include "sandbox/sandbox.h"
#include "service/settings.h"

struct language {
	char *id;
	char *name;
	char *version;        /* found at start-up */
	char *source_file;    /* the code is written under this name */
	char **compile;       /* NULL for interpreted languages */
	struct sbx_limits compile_limits;
	char **run;           /* with "{file}" and "{args}" placeholders */
	char **env;           /* extra "NAME=value" for this language */
	bool rlimit_as;       /* apply memory_bytes as RLIMIT_AS (without a
				 cgroup memory controller) */
	bool network;         /* keep the host's network (admin's choice) */
	char **paths;         /* more host paths its runs' root shows */
	char **packages;      /* libraries its programs may import (reported) */
	char **binds;         /* sandbox.root.bind + paths */
	struct sbx_root root; /* the root of its runs, compiles and probe */
	char **version_command;
	char *version_fixed;
	char *sample;         /* a short program for the playground */
};

struct languages {
	struct language *v;
	size_t n;
};

int languages_load(struct languages *langs, const char *path,
		   const struct config *cfg, char *err, size_t errlen);
const struct language *languages_find(const struct languages *langs,
				      const char *id);
struct slot;
/* Run each version command once, in slot, isolated as a run is
   (exec_isolation()), and keep the first version-looking token of its
   output. */
int languages_probe_versions(struct languages *langs, const struct config *cfg,
			     const struct slot *slot, char *err, size_t errlen);
/* The body of GET /api/v1/languages. */
json_t *languages_to_json(const struct languages *langs);
void languages_free(struct languages *langs);

/*
 * Expand argv: "{file}" -> source_file, "{args}" -> every element of args
 * (zero or more).  NULL-terminated, free with jx_strv_free.
 */
char **language_expand(char *const *argv, const char *file, char *const *args);

#endif
