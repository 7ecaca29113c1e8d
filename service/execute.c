/*
 * execute.c - run a job in a slot.  The service never forks a program
 * itself: every program, the compiler included, runs through sbx_run().
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/execute.h"
#include "service/jsonx.h"
#include "service/log.h"
#include "service/slot.h"
#include "service/slotbox.h"
#include "service/utf8.h"
#include "service/workdir.h"

/*
 * The program's environment, later entries overriding earlier ones: the
 * config's base (PATH, LANG...), HOME and TMPDIR in home, the language's
 * own (its placeholders expanded from this step's limits), then
 * request_env.  The compile step never gets the request's: LD_PRELOAD of
 * a library in "files" would run the request's code inside the compiler,
 * under the compile step's larger limits, and CPATH, GCC_EXEC_PREFIX and
 * the like would change what the compiler reads.
 */
char **exec_env(const struct config *cfg, const struct language *lang, const char *home,
		const struct sbx_limits *limits, char *const *request_env)
{
	char *home_var = NULL, *tmp = NULL, **lang_env = NULL;
	char *const *layers[4];
	char *fixed[3];
	size_t cap = 3, n = 0;
	char **env = NULL;

	if (asprintf(&home_var, "HOME=%s", home) < 0)
		return NULL;
	if (asprintf(&tmp, "TMPDIR=%s", home) < 0) {
		free(home_var);
		return NULL;
	}
	fixed[0] = home_var;
	fixed[1] = tmp;
	fixed[2] = NULL;
	if (lang && lang->env) {
		struct expand_values v = { .file = lang->source_file, .limits = limits };
		if (!(lang_env = language_expand(lang->env, &v)))
			goto out;
	}
	layers[0] = cfg->env;
	layers[1] = fixed;
	layers[2] = lang_env;
	layers[3] = request_env;
	for (int i = 0; i < 4; i++)
		cap += jx_strv_len(layers[i]);
	env = calloc(cap + 1, sizeof *env);
	if (!env)
		goto out;
	for (int i = 0; i < 4; i++) {
		for (char *const *e = layers[i]; e && *e; e++) {
			size_t klen = strcspn(*e, "=") + 1;
			size_t j;
			for (j = 0; j < n; j++)
				if (!strncmp(env[j], *e, klen))
					break;
			char *copy = strdup(*e);
			if (!copy) {
				jx_strv_free(env);
				env = NULL;
				goto out;
			}
			if (j < n) {
				free(env[j]);
				env[j] = copy;
			} else {
				env[n++] = copy;
			}
		}
	}
out:
	free(home_var);
	free(tmp);
	jx_strv_free(lang_env);
	return env;
}

static char **build_env(const struct job *job, const struct config *cfg,
			const char *workdir, const struct sbx_limits *limits,
			bool with_request)
{
	return exec_env(cfg, job->lang, workdir, limits, with_request ? job->env : NULL);
}


/* The work directory as the program sees it. */
static const char *program_dir(const struct config *cfg, const struct workdir *wd)
{
	return cfg->namespaces ? BOX_DIR : wd->path;
}

/*
 * A run's work directory.  With namespaces and root: a fresh tmpfs of
 * disk_bytes of its own (workdir_create_tmpfs), which also holds the run's
 * /tmp and /dev/shm, shown at BOX_DIR (its path here is a name for
 * messages only; it exists nowhere).  Otherwise (no mount namespace, or no right to
 * make a file system: the user-namespace mode) a directory on the host's
 * disk in the slot's work root, removed by walking it.
 */
static int open_workdir(struct workdir *wd, const struct config *cfg,
			const struct slot *slot, uint64_t disk_bytes,
			char *why, size_t len)
{
	static atomic_ulong counter;
	char path[sizeof wd->path];

	if (!cfg->namespaces || cfg->userns || cfg->weaker)
		return workdir_create(wd, slot->root_fd, slot->root_path, slot->uid,
				      slot->gid, why, len);
	snprintf(path, sizeof path, "%s/run-%lu", slot->root_path,
		 atomic_fetch_add(&counter, 1));
	return workdir_create_tmpfs(wd, path, disk_bytes, slot->uid, slot->gid, why, len);
}

static char **concat_argv(char *const *a, char *const *b)
{
	size_t n = jx_strv_len(a), m = jx_strv_len(b);
	char **v = calloc(n + m + 1, sizeof *v);

	for (size_t i = 0; v && i < n + m; i++)
		if (!(v[i] = strdup(i < n ? a[i] : b[i - n]))) {
			jx_strv_free(v);
			v = NULL;
		}
	return v;
}

/* How a step is watched: the cancel fd always, live output and merging
   for the program's runs only (never the compile step). */
struct step_watch {
	const struct job_hooks *hooks;
	bool live;
	bool merge_output;
};

static int run_step(char **argv, char **env, const struct workdir *wd,
		    const struct config *cfg, const struct language *lang,
		    const struct slot *slot, const struct sbx_limits *limits,
		    const char *in, size_t in_len, const struct step_watch *w,
		    struct sbx_result *res, char *err, size_t errlen)
{
	struct sbx_spec spec;

	slot_isolation(&spec, cfg, lang, slot);
	/* The run's own tmpfs (work dir, /tmp, /dev/shm), when it has one,
	   goes to the slot's box for this isolation: a fork in there. */
	if (wd->on_tmpfs) {
		spec.workfs_fd_plus1 = wd->mnt_fd + 1;
		if (slot->boxes &&
		    slot_box_get(slot->boxes, slot, lang, &spec, &spec.box, err, errlen) < 0)
			return -1;
	}
	spec.argv = argv;
	spec.envp = env;
	spec.cwd = wd->path;
	spec.stdin_data = in;
	spec.stdin_len = in_len;
	spec.limits = *limits;
	if (w->hooks && w->hooks->cancel_fd >= 0)
		spec.cancel_fd_plus1 = w->hooks->cancel_fd + 1;
	if (w->live && w->hooks && w->hooks->output) {
		spec.on_output = w->hooks->output;
		spec.on_output_arg = w->hooks->arg;
	}
	spec.merge_output = w->merge_output;
	if (sbx_run(&spec, res, err, errlen) < 0)
		return -1;
	if (res->leftovers)
		log_msg(LOG_CRIT, "SLOT %u: PROCESSES OF A RUN SURVIVED THE FINAL KILL "
			"(uid %u); the slot's cgroup is not empty", slot->index,
			(unsigned)slot->uid);
	return 0;
}

/* Read back the files the request asked to collect. */
static int collect_files(const struct job *job, const struct config *cfg,
			 struct workdir *wd, struct collected **out, size_t *n)
{
	size_t count = jx_strv_len(job->collect);
	char why[512];

	*out = NULL;
	*n = 0;
	if (!count)
		return 0;
	if (!(*out = calloc(count, sizeof **out)))
		return -1;
	for (size_t i = 0; i < count; i++) {
		struct collected *c = &(*out)[i];
		(*n)++;
		if (!(c->name = strdup(job->collect[i])))
			return -1;
		if (workdir_read(wd, c->name, cfg->max_collect_bytes, &c->data, &c->len,
				 &c->truncated, why, sizeof why) < 0) {
			c->data = NULL;
			if (!(c->error = strdup(why)))
				return -1;
		}
	}
	return 0;
}

/*
 * Give a test its own copy of what the build left: every regular file of
 * the build directory and of its folders down to depth folders (the
 * source, the request's files, the compiled program, classes in package
 * folders), with its permission bits.  Links, empty folders and anything
 * else the compile step made are not carried over.  dir is an fd of the
 * folder prefix names ("" for the top), read and closed here; every file is
 * read and written by its whole name, so workdir_read()/workdir_write()
 * open each folder again without following links.
 */
static int copy_tree(struct workdir *from, struct workdir *to, int dir, const char *prefix,
		     unsigned depth, uint64_t cap, char *err, size_t errlen)
{
	DIR *d = fdopendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		snprintf(err, errlen, "reading the build directory: %s", strerror(errno));
		close(dir);
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		char *data, name[WORKDIR_PATH_MAX + 1];
		size_t len;
		bool truncated;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "/" : "",
				     de->d_name) >= sizeof name)
			continue; /* a name no request could have: not carried over */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				rc = copy_tree(from, to, sub, name, depth - 1, cap, err, errlen);
			continue;
		}
		if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
			continue;
		if (workdir_read(from, name, cap, &data, &len, &truncated, err, errlen) < 0)
			continue; /* vanished or refused: not carried over */
		if (truncated) {
			snprintf(err, errlen, "%.200s is larger than %llu bytes", name,
				 (unsigned long long)cap);
			rc = -2;
		} else if (workdir_write(to, name, data, len, st.st_mode & 0777,
					 err, errlen) == 0) {
			free(data);
			continue;
		} else {
			rc = errno == ENOSPC || errno == EDQUOT || errno == EFBIG ? -2 : -1;
		}
		free(data);
	}
	closedir(d);
	return rc;
}

/* 0; -2 when the build does not fit in the test's disk (ENOSPC, or a file
   over cap), with why in err; -1 when copying failed otherwise. */
static int copy_build(struct workdir *from, struct workdir *to, unsigned depth,
		      uint64_t cap, char *err, size_t errlen)
{
	/* An open file of its own: its read offset is not from->fd's. */
	int fd = openat(from->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "reading the build directory: %s", strerror(errno));
		return -1;
	}
	return copy_tree(from, to, fd, "", depth, cap, err, errlen);
}

/* Run the program (not the compile step) in wd and collect its files. */
static int run_program(const struct job *job, const struct config *cfg,
		       const struct slot *slot, struct workdir *wd,
		       char *const *args, const char *in, size_t in_len,
		       const struct job_hooks *hooks, struct sbx_result *run, bool *ran,
		       struct collected **files, size_t *nfiles,
		       bool *leftovers, char *err, size_t errlen)
{
	/* A command is taken literally (no placeholders), args appended. */
	struct expand_values v = { .file = job->lang ? job->lang->source_file : NULL,
				   .args = args, .limits = &job->limits };
	char **argv = job->lang ? language_expand(job->lang->run, &v)
				: concat_argv(job->command, args);
	char **env = build_env(job, cfg, program_dir(cfg, wd), &job->limits, true);
	int rc = -1;

	if (!argv || !env) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct step_watch w = { .hooks = hooks, .live = true,
				.merge_output = job->merge_output };
	if (run_step(argv, env, wd, cfg, job->lang, slot, &job->limits, in,
		     in_len, &w, run, err, errlen) < 0)
		goto out;
	*ran = true;
	if (run->leftovers)
		*leftovers = true;
	if (collect_files(job, cfg, wd, files, nfiles) < 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
out:
	jx_strv_free(argv);
	jx_strv_free(env);
	return rc;
}

static void remove_dir(struct workdir *wd, const struct slot *slot,
		       struct job_result *res)
{
	char why[512];
	if (workdir_remove(wd, why, sizeof why) < 0) {
		res->cleanup_failed = true;
		/* The result stands; the leftover is reported loudly. */
		log_msg(LOG_ERR, "slot %u: removing work directory: %s", slot->index, why);
		workdir_cleanup(wd);
	}
}

/*
 * Has the peer closed fd?  nginx closes its FastCGI connection when the
 * client goes away (fastcgi_ignore_client_abort off, its default): the
 * answer would go nowhere.  The request was read to its end, so the next
 * thing on the connection can only be its end.
 */
static bool peer_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	if (fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Is the client gone (before a step starts)? */
static bool gone(const struct job_hooks *hooks, struct job_result *res)
{
	if (!res->cancelled && hooks && peer_closed(hooks->cancel_fd))
		res->cancelled = true;
	return res->cancelled;
}

/* A test whose copy of the build does not fit in its limits.disk_bytes:
   exec_failed, saying so, with empty output.  0, or -1 out of memory. */
static int not_run(struct sbx_result *run, uint64_t disk_bytes, const char *why)
{
	memset(run, 0, sizeof *run);
	run->status = SBX_EXEC_FAILED;
	run->exit_code = -1;
	run->out.data = calloc(1, 1);
	run->err.data = calloc(1, 1);
	if (!run->out.data || !run->err.data) {
		sbx_result_free(run);
		return -1;
	}
	utf8_format(run->message, sizeof run->message,
		    "the build does not fit in this test's limits.disk_bytes (%llu bytes): %.150s",
		    (unsigned long long)disk_bytes, why);
	return 0;
}

/* Each test in a fresh copy of the build directory. */
static int run_tests(const struct job *job, const struct config *cfg,
		     const struct slot *slot, struct workdir *build,
		     const struct job_hooks *hooks, struct job_result *res,
		     char *err, size_t errlen)
{
	bool failed = false;

	if (!(res->tests = calloc(job->ntests, sizeof *res->tests))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	res->ntests = job->ntests;
	for (size_t i = 0; i < job->ntests; i++) {
		const struct job_test *t = &job->tests[i];
		struct test_outcome *o = &res->tests[i];
		struct workdir wd;
		char why[512];
		int rc = -1;

		if (failed && job->stop_on_failure) {
			o->skipped = true;
			if (!res->cancelled && hooks && hooks->test_done &&
			    hooks->test_done(hooks->arg, res, i) < 0)
				res->cancelled = true;
			continue;
		}
		if (gone(hooks, res)) {
			o->skipped = o->abandoned = true;
			res->abandoned++;
			continue;
		}
		if (open_workdir(&wd, cfg, slot, job->limits.disk_bytes, why, sizeof why) < 0) {
			snprintf(err, errlen, "work directory: %s", why);
			return -1;
		}
		uint64_t cap = job->lang && job->lang->compile ?
			job->lang->compile_limits.file_size_bytes : cfg->max_limits.file_size_bytes;
		int copied = copy_build(build, &wd, (unsigned)cfg->max_file_depth,
					cap ? cap : (64u << 20), why, sizeof why);
		if (copied == -2) {
			/* The program cannot start there: the test's answer,
			   not the service's failure. */
			if (not_run(&o->run, job->limits.disk_bytes, why) < 0) {
				snprintf(err, errlen, "out of memory");
			} else {
				o->ran = true;
				failed = true;
				rc = 0;
			}
		} else if (copied < 0)
			snprintf(err, errlen, "test %zu: copying the build: %s", i, why);
		else if (run_program(job, cfg, slot, &wd, t->args ? t->args : job->args,
				     t->stdin_data ? t->stdin_data : job->stdin_data,
				     t->stdin_data ? t->stdin_len : job->stdin_len,
				     hooks, &o->run, &o->ran, &o->files, &o->nfiles,
				     &res->cleanup_failed, err, errlen) == 0) {
			o->accepted = judge_accepts(job, t, &o->run);
			failed |= !o->accepted;
			if (o->run.status == SBX_CANCELLED)
				res->cancelled = true;
			rc = 0;
		}
		remove_dir(&wd, slot, res);
		if (rc < 0)
			return -1;
		if (!res->cancelled && hooks && hooks->test_done &&
		    hooks->test_done(hooks->arg, res, i) < 0)
			res->cancelled = true;
	}
	return 0;
}

int job_execute(const struct job *job, const struct config *cfg,
		const struct slot *slot, const struct job_hooks *hooks,
		struct job_result *res, char *err, size_t errlen)
{
	struct workdir wd;
	char **compile_env = NULL, **argv = NULL;
	char why[512];
	int rc = -1;

	memset(res, 0, sizeof *res);
	if (open_workdir(&wd, cfg, slot, job->lang && job->lang->compile ?
			 job->lang->compile_limits.disk_bytes : job->limits.disk_bytes,
			 why, sizeof why) < 0) {
		snprintf(err, errlen, "work directory: %s", why);
		return -1;
	}
	if (job->lang && workdir_write(&wd, job->lang->source_file, job->code,
				       job->code_len, 0644, why, sizeof why) < 0) {
		snprintf(err, errlen, "writing the source file: %s", why);
		goto out;
	}
	for (size_t i = 0; i < job->nfiles; i++)
		if (workdir_write(&wd, job->files[i].name, job->files[i].data,
				  job->files[i].len, 0666, why, sizeof why) < 0) {
			snprintf(err, errlen, "writing files: %s", why);
			goto out;
		}
	/* Compiled once, whatever the number of tests. */
	if (job->lang && job->lang->compile) {
		struct expand_values v = { .file = job->lang->source_file,
					   .compile_options = job->compile_options,
					   .limits = &job->lang->compile_limits };
		if (!(compile_env = build_env(job, cfg, program_dir(cfg, &wd),
					      &job->lang->compile_limits,
					      false)) ||
		    !(argv = language_expand(job->lang->compile, &v))) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		struct step_watch w = { .hooks = hooks };
		if (run_step(argv, compile_env, &wd, cfg, job->lang, slot,
			     &job->lang->compile_limits, NULL, 0, &w, &res->compile,
			     err, errlen) < 0)
			goto out;
		res->compiled = true;
		if (res->compile.status == SBX_CANCELLED)
			res->cancelled = true;
		if (res->compile.leftovers)
			res->cleanup_failed = true;
		jx_strv_free(argv);
		argv = NULL;
		if (!res->cancelled && hooks && hooks->compiled &&
		    hooks->compiled(hooks->arg, res) < 0)
			res->cancelled = true;
		if (res->compile.status != SBX_OK) {
			rc = 0; /* compile_error: the program is not run */
			goto out;
		}
	}

	if (job->tests) {
		rc = run_tests(job, cfg, slot, &wd, hooks, res, err, errlen);
		goto out;
	}
	if (gone(hooks, res)) {
		rc = 0; /* nobody waits for it: the program is not run */
		goto out;
	}
	rc = run_program(job, cfg, slot, &wd, job->args, job->stdin_data, job->stdin_len,
			 hooks, &res->run, &res->ran, &res->files, &res->nfiles,
			 &res->cleanup_failed, err, errlen);
	if (rc == 0 && res->ran && res->run.status == SBX_CANCELLED)
		res->cancelled = true;
out:
	jx_strv_free(argv);
	jx_strv_free(compile_env);
	remove_dir(&wd, slot, res);
	if (rc < 0)
		job_result_free(res);
	return rc;
}

static void free_collected(struct collected *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].data);
		free(c[i].error);
	}
	free(c);
}

void job_result_free(struct job_result *res)
{
	if (res->compiled)
		sbx_result_free(&res->compile);
	if (res->ran)
		sbx_result_free(&res->run);
	free_collected(res->files, res->nfiles);
	for (size_t i = 0; i < res->ntests; i++) {
		if (res->tests[i].ran)
			sbx_result_free(&res->tests[i].run);
		free_collected(res->tests[i].files, res->tests[i].nfiles);
	}
	free(res->tests);
	memset(res, 0, sizeof *res);
}
