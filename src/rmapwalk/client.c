/*
 * The rmapwalk command as a native program: the client half of rmapwalk/launch.py, for a process
 * that starts in a millisecond where Python needs eight.  rmapwalk/fastclient.py compiles it
 * (make runs that after pip) with a header of what it was built for, and writes the Python
 * client script it falls back to.
 *
 * Guarantee: the output and exit status of every command are those of the Python client.  This
 * program answers only a `rmapwalk litmus ...` that $RMAPWALK_SERVER's server answers, computing
 * the request exactly as launch.py's forward() does (the same fingerprint of the same package,
 * found on the path as the Python client finds it); in every other case -- another command, no
 * server, a refusal, a path it cannot tell apart from the Python client's, any error -- it execs
 * the Python client script with the same arguments, which then does all the rest (tries the
 * server itself, starts one for RMAPWALK_SERVER=auto, or runs the command).
 *
 * The header (RMAPWALK_CLIENT_CONFIG, generated) defines, as C string literals:
 *   RW_PYTHON     the interpreter, as the Python client's sys.executable
 *   RW_SCRIPT     the Python client script
 *   RW_HEAD       "sys.executable|sys.version|", the start of the fingerprint
 *   RW_PACKAGE    the rmapwalk package directory the script was written for
 *   RW_SCRIPT_DIR the script's directory (sys.path[0] of a script)
 *   RW_PATH_TAIL  { "...", ..., NULL }: sys.path after $PYTHONPATH for python -S
 */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include RMAPWALK_CLIENT_CONFIG

static const char *const path_tail[] = RW_PATH_TAIL;

/* Run the Python client instead: it sees what this program saw and does everything itself. */
static void __attribute__((noreturn)) fallback(int argc, char **argv)
{
	char **args = malloc((size_t)(argc + 3) * sizeof *args);

	if (args) {
		args[0] = (char *)RW_PYTHON;
		args[1] = (char *)"-S";
		args[2] = (char *)RW_SCRIPT;
		for (int i = 1; i < argc; i++)
			args[i + 2] = argv[i];
		args[argc + 2] = NULL;
		execv(RW_PYTHON, args);
	}
	fprintf(stderr, "rmapwalk: cannot run %s: %s\n", RW_PYTHON, strerror(errno));
	exit(2);
}

/* A growing byte buffer; any allocation failure makes the caller fall back. */
struct buf {
	char *data;
	size_t len, cap;
};

static int put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->data, cap);
		if (!p)
			return -1;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int puts0(struct buf *b, const char *s)
{
	return put(b, s, strlen(s) + 1); /* with its NUL: the request's separator */
}

/* launch.code_fingerprint()'s walk: .py files under dir, not into __pycache__, not following
 * links to directories; stat() of each file (following links, as DirEntry.stat()). */
struct tree {
	long long count, total, newest;
};

static int scan(const char *dir, struct tree *t)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return -1;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		size_t n = strlen(name);
		struct stat st;
		char *path;
		int is_dir;

		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (asprintf(&path, "%s/%s", dir, name) < 0)
			return closedir(d), -1;
		if (e->d_type == DT_UNKNOWN)
			is_dir = lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
		else
			is_dir = e->d_type == DT_DIR;
		if (is_dir) {
			if (strcmp(name, "__pycache__") != 0)
				rc = scan(path, t);
		} else if (n >= 3 && strcmp(name + n - 3, ".py") == 0) {
			if (stat(path, &st) != 0) {
				rc = -1;
			} else {
				long long mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
				if (mtime > t->newest)
					t->newest = mtime;
				t->total += (long long)st.st_size;
				t->count++;
			}
		}
		free(path);
	}
	closedir(d);
	return rc;
}

/* Is path as posixpath.abspath() would leave it: absolute, no empty, "." or ".." parts, no
 * trailing slash?  (Python makes $PYTHONPATH's entries so; one that is not is left to it.) */
static int normalized(const char *path, size_t n)
{
	if (n == 0 || path[0] != '/')
		return 0;
	if (n == 1)
		return 1;
	if (path[n - 1] == '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (path[i] != '/')
			continue;
		size_t j = i + 1;
		while (j < n && path[j] != '/')
			j++;
		size_t part = j - i - 1;
		if (part == 0 || (part == 1 && path[i + 1] == '.') ||
		    (part == 2 && path[i + 1] == '.' && path[i + 2] == '.'))
			return 0;
	}
	return 1;
}

static int has_package(const char *entry, size_t n, char **root)
{
	struct stat st;
	char *init;

	if (asprintf(&init, "%.*s/rmapwalk/__init__.py", (int)n, entry) < 0)
		return -1;
	int found = stat(init, &st) == 0;
	free(init);
	if (found && asprintf(root, "%.*s/rmapwalk", (int)n, entry) < 0)
		return -1;
	return found;
}

/* The package the Python client would load launch.py from (its _launch()): the first entry of
 * python -S's sys.path holding rmapwalk/__init__.py, else RW_PACKAGE.  NULL: leave it to Python. */
static char *package_root(void)
{
	const char *pythonpath = getenv("PYTHONPATH");
	const char *safe = getenv("PYTHONSAFEPATH");
	char *root = NULL;
	int found;

	if (getenv("PYTHONHOME") || getenv("PYTHONPLATLIBDIR"))
		return NULL; /* (they move the standard library's entries) */
	if (!(safe && *safe)) {
		found = has_package(RW_SCRIPT_DIR, strlen(RW_SCRIPT_DIR), &root);
		if (found)
			return found < 0 ? NULL : root;
	}
	if (pythonpath && *pythonpath) {
		const char *p = pythonpath;
		for (;;) {
			const char *end = strchr(p, ':');
			size_t n = end ? (size_t)(end - p) : strlen(p);
			if (!normalized(p, n))
				return NULL;
			found = has_package(p, n, &root);
			if (found)
				return found < 0 ? NULL : root;
			if (!end)
				break;
			p = end + 1;
		}
	}
	for (const char *const *e = path_tail; *e; e++) {
		found = has_package(*e, strlen(*e), &root);
		if (found)
			return found < 0 ? NULL : root;
	}
	return strdup(RW_PACKAGE);
}

/* launch.default_socket() */
static char *default_socket(void)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char *path;

	if (!(base && *base))
		base = getenv("TMPDIR");
	if (!(base && *base))
		base = "/tmp";
	size_t n = strlen(base);
	if (asprintf(&path, "%s%srmapwalk-%u/server.sock", base, base[n - 1] == '/' ? "" : "/",
		     (unsigned)getuid()) < 0)
		return NULL;
	return path;
}

/* A canonical decimal number (as the server writes them) ending at *end's delimiter. */
static int number(const char *s, const char *end, long long *out, int allow_minus)
{
	int neg = 0;
	long long v = 0;

	if (allow_minus && s < end && *s == '-')
		neg = 1, s++;
	if (s >= end || (*s == '0' && end - s > 1))
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9' || v > (1LL << 50))
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *server = getenv("RMAPWALK_SERVER");
	struct buf req = {0}, reply = {0};
	struct tree t = {0, 0, 0};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char *root, *sock_path, cwd[4096], num[96];
	int fd;

	if (!(server && *server) || argc < 2 || strcmp(argv[1], "litmus") != 0)
		fallback(argc, argv);
	sock_path = strcmp(server, "auto") == 0 ? default_socket() : strdup(server);
	root = package_root();
	if (!sock_path || !root || strlen(sock_path) >= sizeof addr.sun_path || scan(root, &t) != 0 ||
	    !getcwd(cwd, sizeof cwd))
		fallback(argc, argv);
	snprintf(num, sizeof num, "|%lld|%lld|%lld", t.count, t.total, t.newest);
	if (put(&req, RW_HEAD, strlen(RW_HEAD)) || put(&req, root, strlen(root)) || puts0(&req, num) ||
	    puts0(&req, cwd))
		fallback(argc, argv);
	for (int i = 1; i < argc; i++)
		if (puts0(&req, argv[i]))
			fallback(argc, argv);

	memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
	    write_all(fd, req.data, req.len) != 0 || shutdown(fd, SHUT_WR) != 0)
		fallback(argc, argv);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || put(&reply, chunk, (size_t)n))
			fallback(argc, argv);
		if (n == 0)
			break;
	}
	close(fd);

	/* "ok STATUS NOUT NERR\n" then the bytes (launch.forward()'s split on single spaces); anything
	 * else ("no REASON") leaves the command to Python */
	char *nl = reply.len ? memchr(reply.data, '\n', reply.len) : NULL;
	char *s1 = nl ? memchr(reply.data, ' ', (size_t)(nl - reply.data)) : NULL;
	char *s2 = s1 ? memchr(s1 + 1, ' ', (size_t)(nl - s1 - 1)) : NULL;
	char *s3 = s2 ? memchr(s2 + 1, ' ', (size_t)(nl - s2 - 1)) : NULL;
	long long status, n_out, n_err;
	if (!s3 || memchr(s3 + 1, ' ', (size_t)(nl - s3 - 1)) || s1 - reply.data != 2 ||
	    memcmp(reply.data, "ok", 2) != 0 || number(s1 + 1, s2, &status, 1) || number(s2 + 1, s3, &n_out, 0) ||
	    number(s3 + 1, nl, &n_err, 0) || (size_t)(n_out + n_err) != reply.len - (size_t)(nl + 1 - reply.data))
		fallback(argc, argv);
	/* (what the Python client does, byte for byte: stdout whole, then stderr whole) */
	write_all(1, nl + 1, (size_t)n_out);
	write_all(2, nl + 1 + n_out, (size_t)n_err);
	return (int)(status & 0xff);
}
