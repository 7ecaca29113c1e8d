/*
 * check_workdir.c - per-run work directories, and everything a hostile
 * program can leave in one.
 *
 * Runs as root (like the service).  Each test gets a fresh work root and a
 * fresh "outside" tree under /tmp; the outside tree stands for the rest of
 * the system, and every test that plants links to it checks afterwards that
 * it was neither changed nor removed.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/workdir.h"

#define NOBODY 65534

static char root_path[64];    /* the work root */
static char outside_path[64]; /* stands for the rest of the system */
static int root_fd = -1;
static int outside_fd = -1;

/* What the outside tree looked like before the test. */
struct outside_entry {
	const char *name;      /* relative to outside_path */
	const char *content;   /* NULL for a directory */
	struct stat st;
};
static struct outside_entry outside[] = {
	{ "secret", "top secret\n", { 0 } },
	{ "sub", NULL, { 0 } },
	{ "sub/file", "a file in a subdirectory\n", { 0 } },
	{ ".", NULL, { 0 } },
};
#define N_OUTSIDE (sizeof(outside) / sizeof(outside[0]))

static char err[512];

/* ---- helpers ----------------------------------------------------------- */

static void plant_file(int dirfd, const char *name, const char *content, mode_t mode)
{
	size_t len = strlen(content);
	int fd;

	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ck_assert_msg(fd >= 0, "plant %s: %s", name, strerror(errno));
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

static void plant_dir(int dirfd, const char *name)
{
	ck_assert_msg(mkdirat(dirfd, name, 0755) == 0, "mkdir %s: %s", name, strerror(errno));
}

static void plant_symlink(int dirfd, const char *name, const char *target)
{
	ck_assert_msg(symlinkat(target, dirfd, name) == 0, "symlink %s: %s", name, strerror(errno));
}

static void plant_fifo(int dirfd, const char *name)
{
	ck_assert_msg(mkfifoat(dirfd, name, 0666) == 0, "mkfifo %s: %s", name, strerror(errno));
}

/*
 * A process blocked opening the FIFO name for writing.  Opening a FIFO for
 * writing blocks until someone opens it for reading, so while this process
 * stays blocked, nobody (the service included) has opened the FIFO.
 */
static pid_t start_fifo_writer(int dirfd, const char *name)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		alarm(30); /* never outlive a failed test */
		fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC);

		_exit(fd >= 0 ? 0 : 1);
	}
	usleep(50 * 1000); /* let it reach the blocking open */
	return pid;
}

/* The writer is still blocked (the FIFO was never opened): stop it. */
static void check_fifo_never_opened(pid_t pid)
{
	int status;

	usleep(50 * 1000);
	ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "the FIFO was opened");
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
}

static int open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open %s: %s", name, strerror(errno));
	return fd;
}

/* The whole content of a file, NUL-terminated; *len gets its length. */
static char *slurp(int dirfd, const char *name, size_t *len)
{
	struct stat st;
	char *buf;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", name, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	buf[st.st_size] = '\0';
	close(fd);
	if (len != NULL)
		*len = (size_t)st.st_size;
	return buf;
}

static size_t count_entries(int dirfd)
{
	size_t n = 0;
	struct dirent *ent;
	DIR *dir;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	dir = fdopendir(fd);
	ck_assert_ptr_nonnull(dir);
	while ((ent = readdir(dir)) != NULL)
		if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}

/* The outside tree is exactly as setup() left it. */
static void check_outside_intact(void)
{
	size_t i;

	for (i = 0; i < N_OUTSIDE; i++) {
		struct outside_entry *e = &outside[i];
		struct stat st;

		ck_assert_msg(fstatat(outside_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0,
			      "outside %s is gone: %s", e->name, strerror(errno));
		ck_assert_uint_eq(st.st_ino, e->st.st_ino);
		ck_assert_uint_eq(st.st_mode, e->st.st_mode);
		ck_assert_uint_eq(st.st_uid, e->st.st_uid);
		ck_assert_uint_eq(st.st_gid, e->st.st_gid);
		ck_assert_uint_eq(st.st_nlink, e->st.st_nlink);
		ck_assert_int_eq(st.st_size, e->st.st_size);
		ck_assert_int_eq(st.st_mtim.tv_sec, e->st.st_mtim.tv_sec);
		ck_assert_int_eq(st.st_mtim.tv_nsec, e->st.st_mtim.tv_nsec);
		if (e->content != NULL) {
			char *data = slurp(outside_fd, e->name, NULL);

			ck_assert_str_eq(data, e->content);
			free(data);
		}
	}
	ck_assert_int_eq(count_entries(outside_fd), 2);
}

/* A work directory for nobody, checked. */
static void make_workdir(struct workdir *wd)
{
	int rc = workdir_create(wd, root_fd, root_path, NOBODY, NOBODY, err, sizeof(err));

	ck_assert_msg(rc == 0, "workdir_create: %s", err);
	ck_assert_int_ge(wd->fd, 0);
}

/* Remove it, and check that it is all gone and nothing else is. */
static void remove_and_check(struct workdir *wd)
{
	int rc = workdir_remove(wd, err, sizeof(err));

	ck_assert_msg(rc == 0, "workdir_remove: %s", err);
	ck_assert_int_eq(wd->fd, -1);
	ck_assert_uint_eq(count_entries(root_fd), 0);
	check_outside_intact();
	/* the rest of the system too, as far as a test can tell */
	ck_assert_int_eq(access("/etc/passwd", F_OK), 0);
	ck_assert_int_eq(access(root_path, F_OK), 0);
	/* idempotent */
	ck_assert_int_eq(workdir_remove(wd, err, sizeof(err)), 0);
}

static void setup(void)
{
	size_t i;

	umask(022);
	snprintf(root_path, sizeof(root_path), "/tmp/runbox-work-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root_path));
	snprintf(outside_path, sizeof(outside_path), "/tmp/runbox-outside-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(outside_path));
	root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root_fd, 0);
	outside_fd = open(outside_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(outside_fd, 0);
	ck_assert_int_eq(fchmod(outside_fd, 0755), 0);

	plant_file(outside_fd, "secret", outside[0].content, 0644);
	plant_dir(outside_fd, "sub");
	plant_file(outside_fd, "sub/file", outside[2].content, 0600);
	for (i = 0; i < N_OUTSIDE; i++)
		ck_assert_int_eq(fstatat(outside_fd, outside[i].name, &outside[i].st,
					 AT_SYMLINK_NOFOLLOW), 0);
}

static void rm_rf(const char *path)
{
	char cmd[128];

	if (path[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system -- '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

static void teardown(void)
{
	if (root_fd >= 0)
		close(root_fd);
	if (outside_fd >= 0)
		close(outside_fd);
	root_fd = outside_fd = -1;
	rm_rf(root_path);
	rm_rf(outside_path);
	umask(022);
}

/* ---- create ------------------------------------------------------------ */

START_TEST(test_create_mode_and_owner)
{
	struct workdir wd;
	struct stat st, st2;
	char want[256];
	int flags;

	/* Whatever the umask, the result is 0700. */
	umask(0777);
	make_workdir(&wd);
	umask(022);

	ck_assert_int_eq(fstat(wd.fd, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	ck_assert_uint_eq(st.st_gid, NOBODY);

	/* name and path agree, and name the directory the fd holds */
	ck_assert_int_eq(strncmp(wd.name, "run-", 4), 0);
	snprintf(want, sizeof(want), "%s/%s", root_path, wd.name);
	ck_assert_str_eq(wd.path, want);
	ck_assert_int_eq(lstat(wd.path, &st2), 0);
	ck_assert_uint_eq(st.st_ino, st2.st_ino);
	ck_assert_int_eq(wd.root_fd, root_fd);

	flags = fcntl(wd.fd, F_GETFD);
	ck_assert_int_ne(flags & FD_CLOEXEC, 0);
	flags = fcntl(wd.fd, F_GETFL);
	ck_assert_int_eq(flags & O_ACCMODE, O_RDONLY);

	remove_and_check(&wd);
}
END_TEST

START_TEST(test_create_unique)
{
	struct workdir wd[40];
	int i, j;

	for (i = 0; i < 40; i++)
		make_workdir(&wd[i]);
	for (i = 0; i < 40; i++)
		for (j = i + 1; j < 40; j++)
			ck_assert_str_ne(wd[i].name, wd[j].name);
	ck_assert_uint_eq(count_entries(root_fd), 40);
	for (i = 0; i < 40; i++)
		ck_assert_msg(workdir_remove(&wd[i], err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(count_entries(root_fd), 0);
}
END_TEST

START_TEST(test_create_path_forms)
{
	struct workdir wd;
	char slash[80], want[256];

	/* a trailing '/' on the root path does not double */
	snprintf(slash, sizeof(slash), "%s/", root_path);
	ck_assert_int_eq(workdir_create(&wd, root_fd, slash, NOBODY, NOBODY, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/%s", root_path, wd.name);
	ck_assert_str_eq(wd.path, want);
	remove_and_check(&wd);
}
END_TEST

/*
 * A work directory on a tmpfs of its own: nowhere on the host's disk (the
 * work root gets nothing), owned by the run's uid, with tmp and shm beside
 * it; writing past its size is ENOSPC; removing it is closing it.
 */
START_TEST(test_create_tmpfs)
{
	struct workdir wd;
	struct stat st;
	static char big[1 << 20];
	char *data = NULL;
	size_t len;
	bool truncated;

	ck_assert_msg(workdir_create_tmpfs(&wd, "/box/run-1", 2u << 20, NOBODY, NOBODY,
					   err, sizeof(err)) == 0, "%s", err);
	ck_assert(wd.on_tmpfs);
	ck_assert_str_eq(wd.path, "/box/run-1");
	ck_assert_uint_eq(count_entries(root_fd), 0);
	ck_assert_int_eq(fstat(wd.fd, &st), 0);
	ck_assert_uint_eq(st.st_uid, NOBODY);
	ck_assert_uint_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(fstatat(wd.mnt_fd, "tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 01777);
	ck_assert_int_eq(fstatat(wd.mnt_fd, "shm", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 01777);
	ck_assert_int_eq(workdir_write(&wd, "a", "hello", 5, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(workdir_read(&wd, "a", 100, &data, &len, &truncated, err,
				      sizeof(err)), 0);
	ck_assert_uint_eq(len, 5);
	free(data);
	ck_assert_int_eq(workdir_write(&wd, "b", big, sizeof big, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(workdir_write(&wd, "c", big, sizeof big, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOSPC);
	ck_assert_int_eq(workdir_remove(&wd, err, sizeof(err)), 0);
	ck_assert_int_eq(wd.fd, -1);
	ck_assert_int_eq(wd.mnt_fd, -1);
	ck_assert_uint_eq(count_entries(root_fd), 0);
}
END_TEST

START_TEST(test_create_failures)
{
	struct workdir wd;
	int fd;

	err[0] = '\0';
	ck_assert_int_eq(workdir_create(&wd, -1, root_path, NOBODY, NOBODY, err, sizeof(err)), -1);
	ck_assert_int_eq(wd.fd, -1);
	ck_assert_msg(strstr(err, "mkdirat") != NULL, "unexpected message: %s", err);
	ck_assert_int_eq(workdir_remove(&wd, err, sizeof(err)), 0);

	/* a root that is a file */
	fd = openat(root_fd, "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	err[0] = '\0';
	ck_assert_int_eq(workdir_create(&wd, fd, root_path, NOBODY, NOBODY, err, sizeof(err)), -1);
	ck_assert_int_eq(wd.fd, -1);
	ck_assert_str_ne(err, "");
	close(fd);

	err[0] = '\0';
	ck_assert_int_eq(workdir_create(&wd, root_fd, "", NOBODY, NOBODY, err, sizeof(err)), -1);
	ck_assert_int_eq(wd.fd, -1);
	ck_assert_str_ne(err, "");

	/* and nothing was left behind */
	ck_assert_uint_eq(count_entries(root_fd), 1);
	workdir_cleanup(&wd);
}
END_TEST

/* ---- names ------------------------------------------------------------- */

START_TEST(test_names_refused)
{
	static const struct {
		const char *name;
		const char *message; /* a part of the expected sentence */
	} bad[] = {
		{ "", "must not be empty" },
		{ "../x", "file name \"../x\" must not contain '/'" },
		{ "a/b", "must not contain '/'" },
		{ "/", "must not contain '/'" },
		{ "/etc/passwd", "must not contain '/'" },
		{ "x/", "must not contain '/'" },
		{ ".", "file name \".\" is not allowed" },
		{ "..", "file name \"..\" is not allowed" },
		{ "a\nb", "\"a\\nb\" must not contain control characters" },
		{ "tab\there", "control characters" },
		{ "\x01", "control characters (byte 0x01)" },
		{ "esc\x1b[0m", "control characters (byte 0x1b)" },
		{ "del\x7f", "control characters (byte 0x7f)" },
	};
	char long_name[300];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		errno = 0;
		ck_assert_msg(workdir_check_name(bad[i].name, err, sizeof(err)) == -1,
			      "accepted bad name #%zu", i);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strstr(err, bad[i].message) != NULL,
			      "name #%zu: message \"%s\" lacks \"%s\"", i, err, bad[i].message);
	}

	memset(long_name, 'a', 256);
	long_name[256] = '\0';
	ck_assert_int_eq(workdir_check_name(long_name, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "256 bytes long; at most 255") != NULL, "message: %s", err);
	memset(long_name, 'a', 299);
	long_name[299] = '\0';
	ck_assert_int_eq(workdir_check_name(long_name, err, sizeof(err)), -1);
	/* the message stays readable: the name is shortened in it */
	ck_assert_uint_lt(strlen(err), 200);

	ck_assert_int_eq(workdir_check_name(NULL, err, sizeof(err)), -1);
	/* no buffer: still refused, nothing written */
	ck_assert_int_eq(workdir_check_name("..", NULL, 0), -1);
}
END_TEST

START_TEST(test_names_accepted)
{
	static const char *const good[] = {
		"main.c", "a..b", "...", ".hidden", "x y", "-rf", "*?[]", "h\xc3\xa9llo",
		"\xff\xfe", "name with 'quotes' and \"double\"", "back\\slash",
	};
	char long_name[256];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(workdir_check_name(good[i], err, sizeof(err)) == 0,
			      "refused \"%s\": %s", good[i], err);
	memset(long_name, 'a', 255);
	long_name[255] = '\0';
	ck_assert_int_eq(workdir_check_name(long_name, err, sizeof(err)), 0);
}
END_TEST

/* write and read check names first: nothing escapes the work directory */
START_TEST(test_names_enforced)
{
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "../escape", "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "must not have a \"..\" part") != NULL, "message: %s", err);
	ck_assert_int_eq(workdir_write(&wd, "..", "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(workdir_write(&wd, "", "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(faccessat(root_fd, "escape", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	ck_assert_uint_eq(count_entries(wd.fd), 0);

	ck_assert_int_eq(workdir_read(&wd, "../../etc/passwd", 100, &data, &len, &truncated,
				      err, sizeof(err)), -1);
	ck_assert_ptr_null(data);
	ck_assert_int_eq(workdir_read(&wd, "..", 100, &data, &len, &truncated, err, sizeof(err)), -1);
	ck_assert_ptr_null(data);
	remove_and_check(&wd);
}
END_TEST

/* Names with folders: parts of plain names, no way out, bounded. */
START_TEST(test_paths_refused)
{
	static const struct {
		const char *name;
		const char *message;
	} bad[] = {
		{ "../x", "file name \"../x\" must not have a \"..\" part" },
		{ "a/../../x", "must not have a \"..\" part" },
		{ "/etc/x", "file name \"/etc/x\" must be relative" },
		{ "/", "must be relative" },
		{ "a//b", "file name \"a//b\" has an empty part" },
		{ "a/", "has an empty part" },
		{ "a/./b", "file name \"a/./b\" must not have a \".\" part" },
		{ "./a", "must not have a \".\" part" },
		{ "a/..", "must not have a \"..\" part" },
		{ "pkg/a\nb", "file name \"pkg/a\\nb\": file name \"a\\nb\" must not contain "
		  "control characters" },
		{ "a/b/c/d", "file name \"a/b/c/d\" has more than 2 folders" },
		{ "", "must not be empty" },
	};
	char name[1100];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		errno = 0;
		ck_assert_msg(workdir_check_path(bad[i].name, 2, err, sizeof(err)) == -1,
			      "accepted \"%s\"", bad[i].name);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strstr(err, bad[i].message) != NULL,
			      "\"%s\": message \"%s\" lacks \"%s\"", bad[i].name, err,
			      bad[i].message);
	}
	ck_assert_int_eq(workdir_check_path("a/b/c", 2, err, sizeof(err)), 0);
	ck_assert_int_eq(workdir_check_path("pkg/util.py", 1, err, sizeof(err)), 0);
	ck_assert_int_eq(workdir_check_path("pkg/util.py", 0, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "more than 0 folders") != NULL, "%s", err);
	ck_assert_int_eq(workdir_check_path("a..b/...", 1, err, sizeof(err)), 0);
	/* Long: each part at most 255 bytes, the whole at most 1024. */
	memset(name, 'a', 256);
	name[256] = '\0';
	ck_assert_int_eq(workdir_check_path(name, 2, err, sizeof(err)), -1);
	for (size_t i = 0; i < 5; i++) {
		memset(name + i * 205, 'b', 204);
		name[i * 205 + 204] = '/';
	}
	name[5 * 205 - 1] = '\0'; /* 1024 bytes, 4 folders */
	ck_assert_msg(workdir_check_path(name, 4, err, sizeof(err)) == 0, "%s", err);
	name[5 * 205 - 1] = 'c';
	name[5 * 205] = '\0';
	ck_assert_int_eq(workdir_check_path(name, 4, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "1025 bytes long; at most 1024") != NULL, "%s", err);
}
END_TEST

/* Folders are made on the way, 0777 (the program may add to them; the
   service never chowns), and files in them read back. */
START_TEST(test_paths_written)
{
	struct workdir wd;
	struct stat st;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	ck_assert_msg(workdir_write(&wd, "pkg/util.py", "x = 1\n", 6, 0666, err,
				    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(workdir_write(&wd, "pkg/sub/deep.txt", "deep", 4, 0644, err,
				    sizeof(err)) == 0, "%s", err);
	ck_assert_msg(workdir_write(&wd, "pkg/__init__.py", "", 0, 0666, err,
				    sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(fstatat(wd.fd, "pkg", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	ck_assert_uint_eq(st.st_uid, 0);
	ck_assert_int_eq(fstatat(wd.fd, "pkg/sub/deep.txt", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(workdir_read(&wd, "pkg/sub/deep.txt", 100, &data, &len, &truncated,
				      err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(data, "deep", 4);
	free(data);
	/* The same name twice: refused, the first kept. */
	ck_assert_int_eq(workdir_write(&wd, "pkg/util.py", "y", 1, 0666, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* A file where a folder is wanted. */
	ck_assert_int_eq(workdir_write(&wd, "pkg/util.py/x", "y", 1, 0666, err, sizeof(err)),
			 -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_msg(strstr(err, "is not a folder") != NULL, "%s", err);
	remove_and_check(&wd);
}
END_TEST

/* A program that swaps a folder for a link (to the outside) between the
   write and the read-back: nothing is followed, read or written. */
START_TEST(test_paths_symlink_tricks)
{
	char target[128];
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	snprintf(target, sizeof(target), "%s/sub", outside_path);
	plant_symlink(wd.fd, "pkg", target);
	errno = 0;
	ck_assert_int_eq(workdir_write(&wd, "pkg/new", "pwned", 5, 0666, err, sizeof(err)), -1);
	ck_assert_msg(errno == ENOTDIR || errno == ELOOP, "errno %d", errno);
	ck_assert_msg(strstr(err, "its folder \"pkg\" is not a folder (links are not "
			     "followed)") != NULL, "%s", err);
	ck_assert_int_eq(faccessat(outside_fd, "sub/new", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	ck_assert_int_eq(workdir_read(&wd, "pkg/file", 100, &data, &len, &truncated, err,
				      sizeof(err)), -1);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "cannot read file") && strstr(err, "is not a folder"),
		      "%s", err);
	/* A link deeper down, and a link to "/". */
	plant_dir(wd.fd, "d");
	plant_symlink(wd.fd, "d/l", "/");
	ck_assert_int_eq(workdir_write(&wd, "d/l/tmp/x", "pwned", 5, 0666, err, sizeof(err)),
			 -1);
	ck_assert_int_eq(workdir_read(&wd, "d/l/etc/passwd", 100, &data, &len, &truncated,
				      err, sizeof(err)), -1);
	ck_assert_ptr_null(data);
	/* The link itself, as the last part: refused too. */
	ck_assert_int_eq(workdir_read(&wd, "d/l", 100, &data, &len, &truncated, err,
				      sizeof(err)), -1);
	ck_assert_int_eq(errno, ELOOP);
	/* A FIFO as a folder is never opened (O_DIRECTORY). */
	plant_fifo(wd.fd, "fifo");
	ck_assert_int_eq(workdir_write(&wd, "fifo/x", "y", 1, 0666, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	check_outside_intact();
	remove_and_check(&wd);
}
END_TEST

/* ---- write ------------------------------------------------------------- */

START_TEST(test_write_content_and_mode)
{
	static const mode_t modes[] = { 0644, 0755, 0600, 0444, 0000, 0777, 0500 };
	static const char content[] = "int main(void)\n{\n\treturn 0;\n}\n\0binary\xff\x00tail";
	struct workdir wd;
	size_t i, len;

	make_workdir(&wd);
	/* the umask has no say */
	umask(0777);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		char name[32];
		struct stat st;
		char *data;

		snprintf(name, sizeof(name), "file-%04o", (unsigned)modes[i]);
		ck_assert_msg(workdir_write(&wd, name, content, sizeof(content) - 1, modes[i],
					    err, sizeof(err)) == 0, "write %s: %s", name, err);
		ck_assert_int_eq(fstatat(wd.fd, name, &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert(S_ISREG(st.st_mode));
		ck_assert_uint_eq(st.st_mode & 07777, modes[i]);
		ck_assert_int_eq(st.st_size, sizeof(content) - 1);
		/* never chowned: the program may read, not rewrite */
		ck_assert_uint_eq(st.st_uid, geteuid());
		ck_assert_uint_eq(st.st_nlink, 1);
		data = slurp(wd.fd, name, &len);
		ck_assert_uint_eq(len, sizeof(content) - 1);
		ck_assert_mem_eq(data, content, len);
		free(data);
	}
	umask(022);

	/* empty */
	ck_assert_int_eq(workdir_write(&wd, "empty", NULL, 0, 0644, err, sizeof(err)), 0);
	{
		struct stat st;

		ck_assert_int_eq(fstatat(wd.fd, "empty", &st, AT_SYMLINK_NOFOLLOW), 0);
		ck_assert_int_eq(st.st_size, 0);
	}
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_large)
{
	size_t size = 3 * 1024 * 1024 + 7, i, len;
	unsigned char *blob = malloc(size);
	uint32_t x = 12345;
	struct workdir wd;
	char *data;

	ck_assert_ptr_nonnull(blob);
	for (i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		blob[i] = (unsigned char)(x >> 16);
	}
	make_workdir(&wd);
	ck_assert_msg(workdir_write(&wd, "big.bin", blob, size, 0600, err, sizeof(err)) == 0,
		      "%s", err);
	data = slurp(wd.fd, "big.bin", &len);
	ck_assert_uint_eq(len, size);
	ck_assert(memcmp(data, blob, size) == 0);
	free(data);
	free(blob);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_refuses_existing)
{
	struct workdir wd;
	char *data;

	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "a.txt", "first", 5, 0644, err, sizeof(err)), 0);
	errno = 0;
	ck_assert_int_eq(workdir_write(&wd, "a.txt", "second", 6, 0600, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_msg(strstr(err, "\"a.txt\"") != NULL && strstr(err, "exists") != NULL,
		      "message: %s", err);
	data = slurp(wd.fd, "a.txt", NULL);
	ck_assert_str_eq(data, "first");
	free(data);

	plant_dir(wd.fd, "dir");
	ck_assert_int_eq(workdir_write(&wd, "dir", "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_refuses_symlink)
{
	char target[128];
	struct workdir wd;
	struct stat st;

	make_workdir(&wd);
	snprintf(target, sizeof(target), "%s/secret", outside_path);
	plant_symlink(wd.fd, "evil", target);
	errno = 0;
	ck_assert_int_eq(workdir_write(&wd, "evil", "pwned", 5, 0666, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(fstatat(wd.fd, "evil", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISLNK(st.st_mode));

	/* a dangling link must not create its target either */
	snprintf(target, sizeof(target), "%s/created", outside_path);
	plant_symlink(wd.fd, "dangling", target);
	ck_assert_int_eq(workdir_write(&wd, "dangling", "pwned", 5, 0666, err, sizeof(err)), -1);
	ck_assert_int_eq(faccessat(outside_fd, "created", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	check_outside_intact();
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_refuses_fifo)
{
	struct workdir wd;
	struct stat st;

	make_workdir(&wd);
	plant_fifo(wd.fd, "pipe");
	/* would block forever in open() if the FIFO were opened */
	errno = 0;
	ck_assert_int_eq(workdir_write(&wd, "pipe", "data", 4, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(fstatat(wd.fd, "pipe", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_refuses_hardlink)
{
	struct workdir wd;

	make_workdir(&wd);
	ck_assert_int_eq(linkat(outside_fd, "secret", wd.fd, "hl", 0), 0);
	outside[0].st.st_nlink++; /* while the link exists */
	errno = 0;
	ck_assert_int_eq(workdir_write(&wd, "hl", "pwned", 5, 0777, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EEXIST);
	check_outside_intact();
	outside[0].st.st_nlink--;
	remove_and_check(&wd); /* removes the link, not the file */
}
END_TEST

START_TEST(test_write_refuses_special_modes)
{
	static const mode_t bad[] = { 04755, 02755, 01777, 06777, 0100644 };
	struct workdir wd;
	size_t i;

	make_workdir(&wd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_int_eq(workdir_write(&wd, "suid", "x", 1, bad[i], err, sizeof(err)), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strstr(err, "mode") != NULL, "message: %s", err);
	}
	ck_assert_uint_eq(count_entries(wd.fd), 0);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_write_read_after_close)
{
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	remove_and_check(&wd);
	ck_assert_int_eq(workdir_write(&wd, "a", "x", 1, 0644, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(workdir_read(&wd, "a", 10, &data, &len, &truncated, err, sizeof(err)), -1);
	ck_assert_int_eq(errno, EBADF);
	workdir_cleanup(&wd);
	ck_assert_uint_eq(count_entries(root_fd), 0);
}
END_TEST

/* ---- read -------------------------------------------------------------- */

static int read_file(struct workdir *wd, const char *name, size_t cap,
		     char **data, size_t *len, bool *truncated)
{
	err[0] = '\0';
	*data = (char *)err; /* must be reset to NULL on failure */
	return workdir_read(wd, name, cap, data, len, truncated, err, sizeof(err));
}

START_TEST(test_read_back)
{
	static const char content[] = "out\0put\n\xff";
	struct workdir wd;
	bool truncated = true;
	char *data;
	size_t len;
	int fd;

	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "in", content, sizeof(content) - 1, 0644,
				       err, sizeof(err)), 0);
	ck_assert_msg(read_file(&wd, "in", 1000, &data, &len, &truncated) == 0, "%s", err);
	ck_assert_uint_eq(len, sizeof(content) - 1);
	ck_assert_mem_eq(data, content, len);
	ck_assert_int_eq(data[len], '\0');
	ck_assert(!truncated);
	free(data);

	/* a file the program made (owned by it, mode 0600) */
	fd = openat(wd.fd, "result.txt", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "42\n", 3), 3);
	ck_assert_int_eq(fchown(fd, NOBODY, NOBODY), 0);
	close(fd);
	ck_assert_msg(read_file(&wd, "result.txt", 1000, &data, &len, &truncated) == 0, "%s", err);
	ck_assert_str_eq(data, "42\n");
	free(data);

	/* empty */
	ck_assert_int_eq(workdir_write(&wd, "empty", "", 0, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(read_file(&wd, "empty", 10, &data, &len, &truncated), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(data[0], '\0');
	ck_assert(!truncated);
	free(data);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_read_truncation)
{
	static const struct {
		size_t cap;
		size_t len;
		bool truncated;
	} cases[] = {
		{ 1000, 100, false }, { 101, 100, false }, { 100, 100, false },
		{ 99, 99, true }, { 10, 10, true }, { 1, 1, true }, { 0, 0, true },
	};
	char content[101];
	struct workdir wd;
	bool truncated;
	char *data;
	size_t i, len;

	for (i = 0; i < 100; i++)
		content[i] = (char)('a' + i % 26);
	content[100] = '\0';
	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "f", content, 100, 0644, err, sizeof(err)), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(read_file(&wd, "f", cases[i].cap, &data, &len, &truncated) == 0,
			      "%s", err);
		ck_assert_uint_eq(len, cases[i].len);
		ck_assert_int_eq(truncated, cases[i].truncated);
		ck_assert_mem_eq(data, content, len);
		ck_assert_int_eq(data[len], '\0');
		free(data);
	}

	/* an empty file is not truncated even at cap 0 */
	ck_assert_int_eq(workdir_write(&wd, "empty", "", 0, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(read_file(&wd, "empty", 0, &data, &len, &truncated), 0);
	ck_assert(!truncated);
	free(data);
	remove_and_check(&wd);
}
END_TEST

/* A large file, read whole with a huge cap and cut at 1 MiB. */
START_TEST(test_read_large)
{
	size_t size = 5 * 1024 * 1024 + 3, i, len;
	struct workdir wd;
	bool truncated;
	char *blob, *data;

	blob = malloc(size);
	ck_assert_ptr_nonnull(blob);
	for (i = 0; i < size; i++)
		blob[i] = (char)(i * 7 + i / 4096);
	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "big", blob, size, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(read_file(&wd, "big", SIZE_MAX / 2, &data, &len, &truncated), 0);
	ck_assert_uint_eq(len, size);
	ck_assert(!truncated);
	ck_assert(memcmp(data, blob, size) == 0);
	free(data);
	ck_assert_int_eq(read_file(&wd, "big", 1024 * 1024, &data, &len, &truncated), 0);
	ck_assert_uint_eq(len, 1024 * 1024);
	ck_assert(truncated);
	ck_assert(memcmp(data, blob, len) == 0);
	free(data);
	free(blob);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_read_refuses_symlink)
{
	char target[128];
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	snprintf(target, sizeof(target), "%s/secret", outside_path);
	plant_symlink(wd.fd, "link", target);
	plant_symlink(wd.fd, "passwd", "/etc/passwd");
	errno = 0;
	ck_assert_int_eq(read_file(&wd, "link", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "message: %s", err);
	ck_assert_int_eq(read_file(&wd, "passwd", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_ptr_null(data);
	check_outside_intact();
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_read_refuses_fifo)
{
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	pid_t writer;

	make_workdir(&wd);
	plant_fifo(wd.fd, "pipe");
	/* opening it for reading without a writer would block */
	errno = 0;
	ck_assert_int_eq(read_file(&wd, "pipe", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "message: %s", err);
	ck_assert_msg(strstr(err, "FIFO") != NULL, "message: %s", err);

	/* with a writer waiting, it must not even be opened */
	writer = start_fifo_writer(wd.fd, "pipe");
	ck_assert_int_eq(read_file(&wd, "pipe", 1000, &data, &len, &truncated), -1);
	check_fifo_never_opened(writer);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_read_refuses_directory_and_devices)
{
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	plant_dir(wd.fd, "dir");
	errno = 0;
	ck_assert_int_eq(read_file(&wd, "dir", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "message: %s", err);

	/* a device (a copy of /dev/zero would read forever) */
	if (mknodat(wd.fd, "zero", S_IFCHR | 0666, makedev(1, 5)) == 0) {
		ck_assert_int_eq(read_file(&wd, "zero", 1000, &data, &len, &truncated), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_msg(strstr(err, "device") != NULL, "message: %s", err);
	} else {
		fprintf(stderr, "note: mknod not permitted here (%s); device case skipped\n",
			strerror(errno));
	}

	errno = 0;
	ck_assert_int_eq(read_file(&wd, "missing", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "does not exist") != NULL, "message: %s", err);
	remove_and_check(&wd);
}
END_TEST

/* A hard link may reach a file the program could not read itself. */
START_TEST(test_read_refuses_hardlink)
{
	struct workdir wd;
	bool truncated;
	char *data;
	size_t len;

	make_workdir(&wd);
	ck_assert_int_eq(linkat(outside_fd, "secret", wd.fd, "hl", 0), 0);
	errno = 0;
	ck_assert_int_eq(read_file(&wd, "hl", 1000, &data, &len, &truncated), -1);
	ck_assert_int_eq(errno, EMLINK);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, "hard links") != NULL, "message: %s", err);
	remove_and_check(&wd);
}
END_TEST

/* ---- remove ------------------------------------------------------------ */

/* Symlinks everywhere: to the outside tree, to its file, to "/", to
 * nothing, to themselves, to the parent. */
static void plant_symlinks(int dirfd)
{
	char target[128];

	snprintf(target, sizeof(target), "%s", outside_path);
	plant_symlink(dirfd, "to_outside", target);
	snprintf(target, sizeof(target), "%s/sub", outside_path);
	plant_symlink(dirfd, "to_outside_sub", target);
	snprintf(target, sizeof(target), "%s/secret", outside_path);
	plant_symlink(dirfd, "to_secret", target);
	plant_symlink(dirfd, "to_root", "/");
	plant_symlink(dirfd, "dangling", "/nonexistent/runbox");
	plant_symlink(dirfd, "self", "self");
	plant_symlink(dirfd, "up", "..");
}

START_TEST(test_remove_symlinks)
{
	struct workdir wd;
	int sub;

	make_workdir(&wd);
	plant_symlinks(wd.fd);
	plant_dir(wd.fd, "sub");
	sub = open_dir(wd.fd, "sub");
	plant_symlinks(sub);
	plant_file(sub, "f", "x", 0644);
	close(sub);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_remove_special_files)
{
	struct sockaddr_un sa;
	struct workdir wd;
	pid_t writer1, writer2;
	int sub, s;

	make_workdir(&wd);
	plant_fifo(wd.fd, "fifo");
	writer1 = start_fifo_writer(wd.fd, "fifo");
	plant_dir(wd.fd, "sub");
	sub = open_dir(wd.fd, "sub");
	plant_fifo(sub, "fifo2");
	writer2 = start_fifo_writer(sub, "fifo2");
	if (mknodat(sub, "null", S_IFCHR | 0666, makedev(1, 3)) != 0)
		fprintf(stderr, "note: mknod not permitted here (%s)\n", strerror(errno));
	close(sub);

	/* a bound unix socket */
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", wd.path) <
	    sizeof(sa.sun_path)) {
		s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(s, 0);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
	}
	remove_and_check(&wd);
	check_fifo_never_opened(writer1);
	check_fifo_never_opened(writer2);
}
END_TEST

/* Directories and files without permissions, as the program can leave
 * them (it owns them), and the work directory itself made 000. */
START_TEST(test_remove_no_permissions)
{
	struct workdir wd;
	int locked, inner, sticky;

	make_workdir(&wd);
	plant_dir(wd.fd, "locked");
	locked = open_dir(wd.fd, "locked");
	plant_file(locked, "a", "a", 0000);
	plant_file(locked, "b", "b", 0644);
	plant_dir(locked, "inner");
	inner = open_dir(locked, "inner");
	plant_file(inner, "c", "c", 0000);
	plant_dir(inner, "empty");
	ck_assert_int_eq(fchmodat(inner, "empty", 0, 0), 0);
	ck_assert_int_eq(fchown(inner, NOBODY, NOBODY), 0);
	ck_assert_int_eq(fchmod(inner, 0), 0);
	ck_assert_int_eq(fchown(locked, NOBODY, NOBODY), 0);
	ck_assert_int_eq(fchmod(locked, 0), 0);
	close(inner);
	close(locked);

	plant_dir(wd.fd, "sticky");
	sticky = open_dir(wd.fd, "sticky");
	plant_file(sticky, "x", "x", 0644);
	ck_assert_int_eq(fchmod(sticky, 01500), 0);
	close(sticky);

	ck_assert_int_eq(fchmod(wd.fd, 0), 0);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_remove_hardlinks_and_names)
{
	static const char *const names[] = {
		"new\nline", "\n", "-rf", "*", " ", "..\n", "\xff\xfe", "deep-1-1",
		"run-1-1-0000000000000000", "\x1b[31mred",
	};
	char long_name[256];
	struct workdir wd;
	size_t i;

	make_workdir(&wd);
	ck_assert_int_eq(linkat(outside_fd, "secret", wd.fd, "hl", 0), 0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char file[300];
		int d;

		/* a directory of that name with a file in it, and a file
		 * of that name with a suffix */
		plant_dir(wd.fd, names[i]);
		d = open_dir(wd.fd, names[i]);
		plant_file(d, "x\ny", "x", 0644);
		close(d);
		snprintf(file, sizeof(file), "%s\n.txt", names[i]);
		plant_file(wd.fd, file, "x", 0644);
	}
	memset(long_name, 'n', 255);
	long_name[255] = '\0';
	plant_file(wd.fd, long_name, "x", 0644);
	remove_and_check(&wd);
}
END_TEST

START_TEST(test_remove_many_files)
{
	struct workdir wd;
	int i, sub;

	make_workdir(&wd);
	for (i = 0; i < 10000; i++) {
		char name[32];
		int fd;

		snprintf(name, sizeof(name), "f%05d\n", i);
		fd = openat(wd.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	plant_dir(wd.fd, "sub");
	sub = open_dir(wd.fd, "sub");
	for (i = 0; i < 2000; i++) {
		char name[32];

		snprintf(name, sizeof(name), "s%d", i);
		if (i % 2)
			plant_symlink(sub, name, "/");
		else
			plant_dir(sub, name);
	}
	close(sub);
	ck_assert_uint_eq(count_entries(wd.fd), 10001);
	remove_and_check(&wd);
}
END_TEST

/*
 * A nest 10,000 levels deep, with files, symlinks and locked directories
 * along the way, removed under a small fd limit: neither the stack nor
 * the fd table may grow with the depth.
 */
START_TEST(test_remove_deep_nest)
{
	struct rlimit old, small;
	struct workdir wd;
	int fd, level, fds_before;
	char target[128];

	fds_before = count_fds();
	make_workdir(&wd);
	snprintf(target, sizeof(target), "%s", outside_path);
	fd = fcntl(wd.fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	for (level = 0; level < 10000; level++) {
		int next;

		plant_dir(fd, "d");
		if (level % 500 == 0) {
			plant_file(fd, "f", "x", 0644);
			plant_symlink(fd, "to_outside", target);
			plant_fifo(fd, "fifo");
		}
		next = open_dir(fd, "d");
		/* locked levels: we are root, so we can still build below */
		if (level % 1000 == 999)
			ck_assert_int_eq(fchmod(fd, 0), 0);
		close(fd);
		fd = next;
	}
	plant_symlink(fd, "to_root", "/");
	plant_file(fd, "bottom", "x", 0644);
	close(fd);

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	small = old;
	small.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &small), 0);
	{
		int rc = workdir_remove(&wd, err, sizeof(err));

		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		ck_assert_msg(rc == 0, "workdir_remove: %s", err);
	}
	remove_and_check(&wd); /* checks, and the second call is a no-op */
	ck_assert_int_eq(count_fds(), fds_before);
}
END_TEST

/* A nest deep enough for slices, with many entries on every level (so the
 * top directory is rescanned while it still has content). */
START_TEST(test_remove_wide_deep)
{
	struct workdir wd;
	int fd, level, i;

	make_workdir(&wd);
	fd = fcntl(wd.fd, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	for (level = 0; level < 200; level++) {
		int next;

		for (i = 0; i < 20; i++) {
			char name[16];

			snprintf(name, sizeof(name), "e%d", i);
			if (i % 3 == 0)
				plant_dir(fd, name);
			else
				plant_file(fd, name, "x", 0644);
		}
		plant_dir(fd, "next");
		next = open_dir(fd, "next");
		close(fd);
		fd = next;
	}
	close(fd);
	remove_and_check(&wd);
}
END_TEST

/*
 * Mount points inside a work directory are never entered: a bind mount of
 * the outside tree (same file system) and a tmpfs.
 */
static void check_mount_refused(const char *source, const char *fstype, unsigned long flags)
{
	char mnt[4200];
	struct workdir wd;
	int rc;

	make_workdir(&wd);
	plant_file(wd.fd, "before", "x", 0644);
	plant_dir(wd.fd, "mnt");
	snprintf(mnt, sizeof(mnt), "%s/mnt", wd.path);
	if (mount(source, mnt, fstype, flags, NULL) != 0) {
		fprintf(stderr, "note: mount not permitted here (%s); mount case skipped\n",
			strerror(errno));
		workdir_cleanup(&wd);
		return;
	}
	if (strcmp(fstype, "tmpfs") == 0) {
		int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		plant_file(fd, "keep", "keep", 0644);
		close(fd);
	}
	rc = workdir_remove(&wd, err, sizeof(err));
	ck_assert_int_eq(wd.fd, -1);
	if (rc != 0)
		ck_assert_msg(strstr(err, "mount point") != NULL, "message: %s", err);
	/* whatever else happened, the mounted tree is intact */
	if (strcmp(fstype, "tmpfs") == 0) {
		char keep[4300];

		snprintf(keep, sizeof(keep), "%s/keep", mnt);
		ck_assert_int_eq(access(keep, F_OK), 0);
	}
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	ck_assert_int_eq(rc, -1);
	check_outside_intact();
}

START_TEST(test_remove_bind_mount)
{
	check_mount_refused(outside_path, "none", MS_BIND);
}
END_TEST

START_TEST(test_remove_tmpfs_mount)
{
	check_mount_refused("none", "tmpfs", 0);
}
END_TEST

/* Drop the capabilities that let root ignore permissions. */
static int drop_dac_caps(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t drop = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH;

	if (syscall(SYS_capget, &hdr, data) != 0)
		return -1;
	data[0].effective &= ~drop;
	return (int)syscall(SYS_capset, &hdr, data);
}

/*
 * Without CAP_DAC_OVERRIDE, permissions count: the removal must make
 * locked directories accessible (0700, through their own fds) by itself.
 * The tree is root's here, so that owner permissions apply.
 */
START_TEST(test_remove_without_dac_override)
{
	struct workdir wd;
	int locked, inner, ro, status;
	pid_t pid;

	ck_assert_int_eq(workdir_create(&wd, root_fd, root_path, 0, 0, err, sizeof(err)), 0);
	plant_dir(wd.fd, "locked");
	locked = open_dir(wd.fd, "locked");
	plant_file(locked, "a", "a", 0000);
	plant_dir(locked, "inner");
	inner = open_dir(locked, "inner");
	plant_file(inner, "b", "b", 0644);
	plant_dir(inner, "innermost");
	ck_assert_int_eq(fchmodat(inner, "innermost", 0, 0), 0);
	ck_assert_int_eq(fchmod(inner, 0), 0);
	ck_assert_int_eq(fchmod(locked, 0), 0);
	close(inner);
	close(locked);
	plant_dir(wd.fd, "readonly");
	ro = open_dir(wd.fd, "readonly");
	plant_file(ro, "c", "c", 0644);
	ck_assert_int_eq(fchmod(ro, 0500), 0);
	close(ro);
	ck_assert_int_eq(fchmod(wd.fd, 0), 0);

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		if (drop_dac_caps() != 0) {
			fprintf(stderr, "capset: %s\n", strerror(errno));
			_exit(2);
		}
		/* the test means something only if permissions now count */
		fd = openat(wd.fd, "locked", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 || errno != EACCES) {
			fprintf(stderr, "permissions do not apply after capset\n");
			_exit(3);
		}
		if (workdir_remove(&wd, err, sizeof(err)) != 0) {
			fprintf(stderr, "workdir_remove: %s\n", err);
			_exit(1);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	workdir_cleanup(&wd);
	ck_assert_uint_eq(count_entries(root_fd), 0);
	check_outside_intact();
}
END_TEST

START_TEST(test_cleanup_keeps_directory)
{
	struct workdir wd;
	struct stat st;

	make_workdir(&wd);
	ck_assert_int_eq(workdir_write(&wd, "f", "x", 1, 0644, err, sizeof(err)), 0);
	workdir_cleanup(&wd);
	ck_assert_int_eq(wd.fd, -1);
	workdir_cleanup(&wd);
	ck_assert_int_eq(fstatat(root_fd, wd.name, &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISDIR(st.st_mode));
	/* remove after cleanup has nothing to work with: a no-op */
	ck_assert_int_eq(workdir_remove(&wd, err, sizeof(err)), 0);
	ck_assert_uint_eq(count_entries(root_fd), 1);
}
END_TEST

static TCase *fixture_tcase(const char *name, double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout);
	return tc;
}

static Suite *workdir_suite(void)
{
	Suite *s = suite_create("workdir");
	TCase *tc;

	tc = fixture_tcase("create", 30);
	tcase_add_test(tc, test_create_mode_and_owner);
	tcase_add_test(tc, test_create_unique);
	tcase_add_test(tc, test_create_path_forms);
	tcase_add_test(tc, test_create_failures);
	tcase_add_test(tc, test_create_tmpfs);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("names", 30);
	tcase_add_test(tc, test_names_refused);
	tcase_add_test(tc, test_names_accepted);
	tcase_add_test(tc, test_names_enforced);
	tcase_add_test(tc, test_paths_refused);
	tcase_add_test(tc, test_paths_written);
	tcase_add_test(tc, test_paths_symlink_tricks);
	suite_add_tcase(s, tc);

	/* the FIFO tests would hang, not fail, if a FIFO were opened: the
	 * short timeouts turn that into a failure */
	tc = fixture_tcase("write", 20);
	tcase_add_test(tc, test_write_content_and_mode);
	tcase_add_test(tc, test_write_large);
	tcase_add_test(tc, test_write_refuses_existing);
	tcase_add_test(tc, test_write_refuses_symlink);
	tcase_add_test(tc, test_write_refuses_fifo);
	tcase_add_test(tc, test_write_refuses_hardlink);
	tcase_add_test(tc, test_write_refuses_special_modes);
	tcase_add_test(tc, test_write_read_after_close);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("read", 20);
	tcase_add_test(tc, test_read_back);
	tcase_add_test(tc, test_read_truncation);
	tcase_add_test(tc, test_read_large);
	tcase_add_test(tc, test_read_refuses_symlink);
	tcase_add_test(tc, test_read_refuses_fifo);
	tcase_add_test(tc, test_read_refuses_directory_and_devices);
	tcase_add_test(tc, test_read_refuses_hardlink);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("remove_hostile", 30);
	tcase_add_test(tc, test_remove_symlinks);
	tcase_add_test(tc, test_remove_special_files);
	tcase_add_test(tc, test_remove_no_permissions);
	tcase_add_test(tc, test_remove_hardlinks_and_names);
	tcase_add_test(tc, test_remove_bind_mount);
	tcase_add_test(tc, test_remove_tmpfs_mount);
	tcase_add_test(tc, test_remove_without_dac_override);
	tcase_add_test(tc, test_cleanup_keeps_directory);
	suite_add_tcase(s, tc);

	tc = fixture_tcase("remove_large", 300);
	tcase_add_test(tc, test_remove_deep_nest);
	tcase_add_test(tc, test_remove_many_files);
	tcase_add_test(tc, test_remove_wide_deep);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(workdir_suite());
	int failed;

	if (geteuid() != 0)
		fprintf(stderr, "check_workdir: must run as root (it chowns to %d)\n", NOBODY);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
