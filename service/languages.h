/*
 * languages.h - the languages runboxd offers, defined in a JSON file under
 * conf/ (never in C): how to compile (optional) and run each one.
 */
#ifndef RUNBOX_LANGUAGES_H
#define RUNBOX_LANGUAGES_H

#include <jansson.h>
#include <regex.h>
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
	struct sbx_limits limits;     /* a request's defaults ("limits" over the
					 config's default_limits) */
	struct sbx_limits min_limits; /* "min_limits": 0 where none */
	char **compile_options;       /* the allow-list's patterns, or NULL */
	regex_t *option_re;           /* compiled, one per pattern */
	size_t noption_re;            /* how many are compiled */
	char **run;           /* argv templates: see language_expand() */
	char **env;           /* extra "NAME=value" for this language; values
				 may hold the limit placeholders */
	char **debian_packages; /* what provides its toolchain (reported) */
	bool present;         /* its toolchain answered at the last probe */
	char *missing;        /* why not, when !present */
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
/*
 * Find which languages are present: each one whose run, compile and
 * version argv[0] (when absolute) are executable files here and whose
 * version command, run isolated as a run is (slot_isolation()), succeeds;
 * keep the first version-looking token of its output.  A language that
 * fails is marked !present with the reason (never an error: one missing
 * toolchain does not stop the service).  The probes run at once in up to
 * LANGUAGES_PROBE_THREADS of the nslots slots given (threads; sbx_run is
 * thread-safe).  -1 only when out of memory.
 */
#define LANGUAGES_PROBE_THREADS 4
int languages_probe_versions(struct languages *langs, const struct config *cfg,
			     const struct slot *const *slots, size_t nslots, char *err,
			     size_t errlen);
/* The body of GET /api/v1/languages: the present languages. */
json_t *languages_to_json(const struct languages *langs);
/* [{"id", "reason"}] of the configured languages that are not present. */
json_t *languages_missing_json(const struct languages *langs);
void languages_free(struct languages *langs);

/*
 * Does option fully match one of lang's compile_options patterns?
 */
bool language_option_allowed(const struct language *lang, const char *option);

/* What one step's placeholders stand for. */
struct expand_values {
	const char *file;                 /* {file}: the source file's name */
	char *const *args;                /* {args}: zero or more elements */
	char *const *compile_options;     /* {compile_options}: likewise */
	const struct sbx_limits *limits;  /* the step's effective limits:
					     {memory_mb} (memory_bytes / MiB,
					     at least 1), {memory_bytes},
					     {processes}, {stack_kb} */
};

/*
 * Expand an argv or env template.  An element that is exactly "{args}"
 * or "{compile_options}" becomes zero or more elements; in any other
 * element each {name} is replaced by its value and "{{" is a literal "{"
 * (a "{" not followed by a name and "}" is kept as it is).  The names
 * were checked when the file was loaded.  NULL-terminated, free with
 * jx_strv_free; NULL when out of memory.
 */
char **language_expand(char *const *tmpl, const struct expand_values *v);

#endif
