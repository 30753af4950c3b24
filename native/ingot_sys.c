/*
 * ingot_sys: the few Linux system calls that node:fs does not expose and that an
 * OSTree-compatible store needs: extended attributes (l* variants, never following
 * symlinks), OFD locks for the repository lock, syncfs(2) for transaction durability,
 * FICLONE reflinks, renameat2(RENAME_EXCHANGE|RENAME_NOREPLACE), and the inode flags ioctl
 * (chattr +i on deployments), whole-buffer raw DEFLATE through libdeflate (faster than
 * zlib at the same level and ratio), SHA-256 of a file read on the libuv thread pool (fsck
 * checks objects in parallel without worker threads, whose start-up costs more than a small
 * repository's whole check), and hardlinking a batch of objects into one directory with
 * linkat(2) relative to directory descriptors (checkout: one call per directory).
 *
 * Contract: every function is synchronous and throws a JS Error whose `code` is the errno
 * name (EPERM, ENODATA, EWOULDBLOCK, ...) and whose `errno` is the number, like node:fs does.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <libdeflate.h>
/* Node's own OpenSSL (its headers ship in include/node, its symbols are exported to addons). */
#include <openssl/evp.h>

#define PATH_BUF 4096

static const char *errno_name(int e) {
  switch (e) {
  case EPERM: return "EPERM"; case ENOENT: return "ENOENT"; case EIO: return "EIO";
  case EBADF: return "EBADF"; case EAGAIN: return "EAGAIN"; case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES"; case EEXIST: return "EEXIST"; case EXDEV: return "EXDEV";
  case ENOTDIR: return "ENOTDIR"; case EISDIR: return "EISDIR"; case EINVAL: return "EINVAL";
  case ENOSPC: return "ENOSPC"; case EROFS: return "EROFS"; case ERANGE: return "ERANGE";
  case ENOSYS: return "ENOSYS"; case ENODATA: return "ENODATA"; case ENOTSUP: return "ENOTSUP";
  case E2BIG: return "E2BIG"; case EINTR: return "EINTR"; case ENOTTY: return "ENOTTY";
  case ELOOP: return "ELOOP"; case ENAMETOOLONG: return "ENAMETOOLONG"; case EDQUOT: return "EDQUOT";
  case ENOTEMPTY: return "ENOTEMPTY"; case EBUSY: return "EBUSY"; case EMLINK: return "EMLINK";
  default: return "EUNKNOWN";
  }
}

static napi_value throw_errno(napi_env env, int e, const char *syscall, const char *path) {
  char msg[PATH_BUF + 128];
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(e), strerror(e), syscall, path ? path : "");
  napi_value code, message, err, errnum;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -e, &errnum);
  napi_set_named_property(env, err, "errno", errnum);
  napi_set_named_property(env, err, "code", code);
  napi_value sc;
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "syscall", sc);
  if (path) {
    napi_value p;
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, err, "path", p);
  }
  napi_throw(env, err);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    napi_throw_type_error(env, NULL, "ingot_sys: missing arguments");
    return 0;
  }
  return 1;
}

/* Reads a string or Buffer argument into a NUL-terminated buffer. */
static int get_path(napi_env env, napi_value v, char *buf, size_t cap) {
  bool isbuf = false;
  napi_is_buffer(env, v, &isbuf);
  if (isbuf) {
    void *data; size_t len;
    napi_get_buffer_info(env, v, &data, &len);
    if (len >= cap) { napi_throw_range_error(env, NULL, "path too long"); return 0; }
    memcpy(buf, data, len);
    buf[len] = 0;
    return 1;
  }
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string or Buffer path");
    return 0;
  }
  if (len >= cap - 1) { napi_throw_range_error(env, NULL, "path too long"); return 0; }
  return 1;
}

static int get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an integer");
    return 0;
  }
  return 1;
}

/* llistxattr(path) -> string[] */
static napi_value js_llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path, sizeof path)) return NULL;
  char stackbuf[4096];
  char *buf = stackbuf;
  ssize_t n = llistxattr(path, buf, sizeof stackbuf);
  if (n < 0 && errno == ERANGE) {
    ssize_t need = llistxattr(path, NULL, 0);
    if (need < 0) return throw_errno(env, errno, "llistxattr", path);
    buf = malloc((size_t)need + 1);
    if (!buf) return throw_errno(env, ENOMEM, "llistxattr", path);
    n = llistxattr(path, buf, (size_t)need + 1);
  }
  if (n < 0) {
    int e = errno;
    if (buf != stackbuf) free(buf);
    if (e == ENOTSUP) { napi_value arr; napi_create_array(env, &arr); return arr; }
    return throw_errno(env, e, "llistxattr", path);
  }
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t idx = 0;
  for (ssize_t off = 0; off < n;) {
    size_t l = strnlen(buf + off, (size_t)(n - off));
    napi_value s;
    napi_create_string_utf8(env, buf + off, l, &s);
    napi_set_element(env, arr, idx++, s);
    off += (ssize_t)l + 1;
  }
  if (buf != stackbuf) free(buf);
  return arr;
}

/* lgetxattr(path, name) -> Buffer | null (null when the attribute is absent) */
static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_BUF], name[512];
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], path, sizeof path) ||
      !get_path(env, argv[1], name, sizeof name)) return NULL;
  char stackbuf[4096];
  ssize_t n = lgetxattr(path, name, stackbuf, sizeof stackbuf);
  char *buf = stackbuf;
  if (n < 0 && errno == ERANGE) {
    ssize_t need = lgetxattr(path, name, NULL, 0);
    if (need < 0) return throw_errno(env, errno, "lgetxattr", path);
    buf = malloc((size_t)need + 1);
    if (!buf) return throw_errno(env, ENOMEM, "lgetxattr", path);
    n = lgetxattr(path, name, buf, (size_t)need + 1);
  }
  if (n < 0) {
    int e = errno;
    if (buf != stackbuf) free(buf);
    if (e == ENODATA || e == ENOTSUP) { napi_value nul; napi_get_null(env, &nul); return nul; }
    return throw_errno(env, e, "lgetxattr", path);
  }
  napi_value out;
  void *dst;
  napi_create_buffer_copy(env, (size_t)n, buf, &dst, &out);
  if (buf != stackbuf) free(buf);
  return out;
}

/* lsetxattr(path, name, Buffer value) */
static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BUF], name[512];
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], path, sizeof path) ||
      !get_path(env, argv[1], name, sizeof name)) return NULL;
  void *data; size_t len;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "value must be a Buffer");
    return NULL;
  }
  if (lsetxattr(path, name, data, len, 0) < 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

/* fsetxattr(fd, name, Buffer value) */
static napi_value js_fsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  char name[512];
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &fd) ||
      !get_path(env, argv[1], name, sizeof name)) return NULL;
  void *data; size_t len;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "value must be a Buffer");
    return NULL;
  }
  if (fsetxattr(fd, name, data, len, 0) < 0) return throw_errno(env, errno, "fsetxattr", name);
  return NULL;
}

/* lremovexattr(path, name) */
static napi_value js_lremovexattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_BUF], name[512];
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], path, sizeof path) ||
      !get_path(env, argv[1], name, sizeof name)) return NULL;
  if (lremovexattr(path, name) < 0) return throw_errno(env, errno, "lremovexattr", path);
  return NULL;
}

/* ofdlock(fd, op, nb): an open-file-description lock over the whole file (fcntl
 * F_OFD_SETLK[W]), the kind libostree takes on a repository's .lock. op: 0 shared (read),
 * 1 exclusive (write), 2 unlock. Returns false when nb and the lock is held elsewhere. */
static napi_value js_ofdlock(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, op, nb;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[1], &op) ||
      !get_int(env, argv[2], &nb)) return NULL;
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = op == 0 ? F_RDLCK : op == 1 ? F_WRLCK : F_UNLCK;
  fl.l_whence = SEEK_SET;
  int r;
  do { r = fcntl(fd, nb ? F_OFD_SETLK : F_OFD_SETLKW, &fl); } while (r < 0 && errno == EINTR);
  napi_value out;
  if (r < 0) {
    if (errno == EAGAIN || errno == EACCES) { napi_get_boolean(env, false, &out); return out; }
    return throw_errno(env, errno, "fcntl(F_OFD_SETLK)", NULL);
  }
  napi_get_boolean(env, true, &out);
  return out;
}

/* syncfs(fd): flush the whole file system holding fd. */
static napi_value js_syncfs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  if (syncfs(fd) < 0) return throw_errno(env, errno, "syncfs", NULL);
  return NULL;
}

/* ficlone(srcfd, dstfd): share extents (reflink). Throws EOPNOTSUPP/EXDEV/EINVAL where not possible. */
static napi_value js_ficlone(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t src, dst;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &src) || !get_int(env, argv[1], &dst)) return NULL;
  if (ioctl(dst, FICLONE, src) < 0) return throw_errno(env, errno, "ioctl(FICLONE)", NULL);
  return NULL;
}

/* renameat2(old, new, flags): flags 1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE. */
static napi_value js_rename2(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char a[PATH_BUF], b[PATH_BUF];
  int32_t flags;
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], a, sizeof a) ||
      !get_path(env, argv[1], b, sizeof b) || !get_int(env, argv[2], &flags)) return NULL;
  unsigned f = 0;
  if (flags & 1) f |= RENAME_NOREPLACE;
  if (flags & 2) f |= RENAME_EXCHANGE;
  if (renameat2(AT_FDCWD, a, AT_FDCWD, b, f) < 0) return throw_errno(env, errno, "renameat2", a);
  return NULL;
}

/* getflags(path) / setflags(path, flags): FS_IOC_GETFLAGS / FS_IOC_SETFLAGS (chattr). */
static napi_value js_getflags(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path, sizeof path)) return NULL;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  int flags = 0;
  int r = ioctl(fd, FS_IOC_GETFLAGS, &flags);
  int e = errno;
  close(fd);
  if (r < 0) return throw_errno(env, e, "ioctl(FS_IOC_GETFLAGS)", path);
  napi_value out;
  napi_create_int32(env, flags, &out);
  return out;
}

static napi_value js_setflags(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  char path[PATH_BUF];
  int32_t flags;
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], path, sizeof path) ||
      !get_int(env, argv[1], &flags)) return NULL;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  int f = flags;
  int r = ioctl(fd, FS_IOC_SETFLAGS, &f);
  int e = errno;
  close(fd);
  if (r < 0) return throw_errno(env, e, "ioctl(FS_IOC_SETFLAGS)", path);
  return NULL;
}

/* One libdeflate compressor per level and per thread (each worker thread has its own env). */
typedef struct { struct libdeflate_compressor *c[13]; } deflate_state;

static void free_deflate_state(napi_env env, void *data, void *hint) {
  deflate_state *st = data;
  for (int i = 0; i < 13; i++) if (st->c[i]) libdeflate_free_compressor(st->c[i]);
  free(st);
}

/* deflateRaw(Buffer input, level) -> Buffer: one raw DEFLATE stream (RFC 1951) of the whole
 * input, as OSTree's archive objects carry it. libdeflate compresses whole buffers only. */
static napi_value js_deflate_raw(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t level;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[1], &level)) return NULL;
  if (level < 0 || level > 12) { napi_throw_range_error(env, NULL, "level must be 0..12"); return NULL; }
  void *in; size_t inlen;
  if (napi_get_buffer_info(env, argv[0], &in, &inlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "input must be a Buffer");
    return NULL;
  }
  deflate_state *st = NULL;
  napi_get_instance_data(env, (void **)&st);
  if (!st) {
    st = calloc(1, sizeof *st);
    if (!st) return throw_errno(env, ENOMEM, "deflateRaw", NULL);
    napi_set_instance_data(env, st, free_deflate_state, NULL);
  }
  if (!st->c[level]) {
    st->c[level] = libdeflate_alloc_compressor(level);
    if (!st->c[level]) return throw_errno(env, ENOMEM, "libdeflate_alloc_compressor", NULL);
  }
  size_t bound = libdeflate_deflate_compress_bound(st->c[level], inlen);
  void *out = malloc(bound);
  if (!out) return throw_errno(env, ENOMEM, "deflateRaw", NULL);
  size_t n = libdeflate_deflate_compress(st->c[level], in, inlen, out, bound);
  if (n == 0) { free(out); return throw_errno(env, EIO, "libdeflate_deflate_compress", NULL); }
  napi_value result;
  void *dst;
  napi_status ok = napi_create_buffer_copy(env, n, out, &dst, &result);
  free(out);
  if (ok != napi_ok) return throw_errno(env, ENOMEM, "deflateRaw", NULL);
  return result;
}

/* inflateRaw(Buffer input, expectedSize) -> Buffer: decompresses one complete raw DEFLATE
 * stream whose output must be exactly expectedSize bytes (OSTree's .filez header records it).
 * Throws EINVAL for corrupt or truncated data, E2BIG when the output would be larger. */
static napi_value js_inflate_raw(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t expected;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (napi_get_value_int64(env, argv[1], &expected) != napi_ok || expected < 0) {
    napi_throw_type_error(env, NULL, "expectedSize must be a non-negative integer");
    return NULL;
  }
  void *in; size_t inlen;
  if (napi_get_buffer_info(env, argv[0], &in, &inlen) != napi_ok) {
    napi_throw_type_error(env, NULL, "input must be a Buffer");
    return NULL;
  }
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  if (!d) return throw_errno(env, ENOMEM, "libdeflate_alloc_decompressor", NULL);
  napi_value result;
  void *out;
  if (napi_create_buffer(env, (size_t)expected, &out, &result) != napi_ok) {
    libdeflate_free_decompressor(d);
    return throw_errno(env, ENOMEM, "inflateRaw", NULL);
  }
  size_t inused = 0, outlen = 0;
  enum libdeflate_result r = libdeflate_deflate_decompress_ex(d, in, inlen, out, (size_t)expected, &inused, &outlen);
  libdeflate_free_decompressor(d);
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE) return throw_errno(env, E2BIG, "inflateRaw", NULL);
  if (r != LIBDEFLATE_SUCCESS || outlen != (size_t)expected) return throw_errno(env, EINVAL, "inflateRaw", NULL);
  return result;
}

/* ---- hashFiles: SHA-256 of (prefix || file data) for a batch of files, on the thread pool ---- */

typedef struct {
  char *path;
  unsigned char *prefix;
  size_t prefix_len;
  int err;
  const char *failed;
  unsigned char digest[32];
  int64_t size;
} hash_item;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  uint32_t n;
  hash_item *items;
} hash_job;

static void hash_one(hash_item *it, unsigned char *buf, size_t cap, EVP_MD_CTX *ctx) {
  int fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) { it->err = errno; it->failed = "open"; return; }
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) { it->err = ENOMEM; it->failed = "sha256"; close(fd); return; }
  EVP_DigestUpdate(ctx, it->prefix, it->prefix_len);
  it->size = 0;
  for (;;) {
    ssize_t n = read(fd, buf, cap);
    if (n < 0) {
      if (errno == EINTR) continue;
      it->err = errno; it->failed = "read";
      close(fd);
      return;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf, (size_t)n);
    it->size += n;
  }
  close(fd);
  unsigned int dlen = 0;
  EVP_DigestFinal_ex(ctx, it->digest, &dlen);
}

static void hash_execute(napi_env env, void *data) {
  hash_job *j = data;
  size_t cap = 256 * 1024;
  unsigned char *buf = malloc(cap);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  for (uint32_t i = 0; i < j->n; i++) {
    hash_item *it = &j->items[i];
    if (!buf || !ctx) { it->err = ENOMEM; it->failed = "sha256"; continue; }
    hash_one(it, buf, cap, ctx);
  }
  if (ctx) EVP_MD_CTX_free(ctx);
  free(buf);
}

static napi_value errno_error(napi_env env, int e, const char *syscall, const char *path) {
  char msg[PATH_BUF + 128];
  snprintf(msg, sizeof msg, "%s: %s, %s '%s'", errno_name(e), strerror(e), syscall, path ? path : "");
  napi_value code, message, err, errnum, sc, p;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &err);
  napi_create_int32(env, -e, &errnum);
  napi_set_named_property(env, err, "errno", errnum);
  napi_set_named_property(env, err, "code", code);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, err, "syscall", sc);
  if (path) {
    napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &p);
    napi_set_named_property(env, err, "path", p);
  }
  return err;
}

static void free_hash_job(hash_job *j) {
  for (uint32_t i = 0; i < j->n; i++) { free(j->items[i].path); free(j->items[i].prefix); }
  free(j->items);
  free(j);
}

static void hash_complete(napi_env env, napi_status status, void *data) {
  hash_job *j = data;
  if (status != napi_ok) {
    napi_reject_deferred(env, j->deferred, errno_error(env, EINTR, "hashFiles", NULL));
  } else {
    static const char hex[] = "0123456789abcdef";
    napi_value arr;
    napi_create_array_with_length(env, j->n, &arr);
    for (uint32_t i = 0; i < j->n; i++) {
      hash_item *it = &j->items[i];
      napi_value obj;
      if (it->err) {
        obj = errno_error(env, it->err, it->failed, it->path);
      } else {
        char out[64];
        for (int k = 0; k < 32; k++) { out[2 * k] = hex[it->digest[k] >> 4]; out[2 * k + 1] = hex[it->digest[k] & 15]; }
        napi_value s, size;
        napi_create_string_latin1(env, out, 64, &s);
        napi_create_int64(env, it->size, &size);
        napi_create_object(env, &obj);
        napi_set_named_property(env, obj, "digest", s);
        napi_set_named_property(env, obj, "size", size);
      }
      napi_set_element(env, arr, i, obj);
    }
    napi_resolve_deferred(env, j->deferred, arr);
  }
  napi_delete_async_work(env, j->work);
  free_hash_job(j);
}

/* hashFiles(paths: string[], prefixes: Buffer[]) -> Promise<({ digest, size } | Error)[]>:
 * for each file, SHA-256 over its prefix then its bytes (never following a symlink), as hex,
 * and the number of file bytes read; an errno-coded Error (as node:fs makes) in place of a file
 * that could not be read. The whole batch runs as one job on the libuv thread pool, so that
 * the per-file cost on the main thread is a few property reads. */
static napi_value js_hash_files(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  uint32_t n = 0, m = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || napi_get_array_length(env, argv[1], &m) != napi_ok || n != m) {
    napi_throw_type_error(env, NULL, "hashFiles: two arrays of the same length expected");
    return NULL;
  }
  hash_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "hashFiles", NULL);
  j->items = calloc(n ? n : 1, sizeof *j->items);
  if (!j->items) { free(j); return throw_errno(env, ENOMEM, "hashFiles", NULL); }
  j->n = n;
  char path[PATH_BUF];
  for (uint32_t i = 0; i < n; i++) {
    napi_value vp, vb;
    napi_get_element(env, argv[0], i, &vp);
    napi_get_element(env, argv[1], i, &vb);
    void *pre; size_t prelen;
    if (!get_path(env, vp, path, sizeof path)) { free_hash_job(j); return NULL; }
    if (napi_get_buffer_info(env, vb, &pre, &prelen) != napi_ok) {
      free_hash_job(j);
      napi_throw_type_error(env, NULL, "hashFiles: prefixes must be Buffers");
      return NULL;
    }
    hash_item *it = &j->items[i];
    it->path = strdup(path);
    it->prefix = malloc(prelen ? prelen : 1);
    if (!it->path || !it->prefix) { free_hash_job(j); return throw_errno(env, ENOMEM, "hashFiles", NULL); }
    memcpy(it->prefix, pre, prelen);
    it->prefix_len = prelen;
  }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "ingot.hashFiles", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, hash_execute, hash_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

/* linkBatch(srcDir, srcNames: string[], dstDir, dstNames: string[], bareUser?: boolean)
 *   -> { index, code, symlinks }:
 * linkat(srcDirFd, srcNames[i], dstDirFd, dstNames[i], 0) for each i in order, stopping at the
 * first failure: `index` is that entry (-1 when every entry was handled) and `code` its errno
 * name. Names are relative to their directory (a source name may be "ab/cdef....file").
 * With bareUser, each object's user.ostreemeta is read first (as `srcDir/srcName`); an object
 * whose recorded mode is a symlink is not linked but listed in `symlinks` (its index), for the
 * caller to create a real symlink; a missing or short xattr is a failure (ENODATA), so that
 * the caller's one-file path reports it. */
static napi_value js_link_batch(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  size_t argc = 5;
  char srcdir[PATH_BUF], dstdir[PATH_BUF];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) { napi_throw_type_error(env, NULL, "ingot_sys: missing arguments"); return NULL; }
  if (!get_path(env, argv[0], srcdir, sizeof srcdir) || !get_path(env, argv[2], dstdir, sizeof dstdir)) return NULL;
  bool bare_user = false;
  if (argc >= 5) napi_get_value_bool(env, argv[4], &bare_user);
  uint32_t n = 0, m = 0;
  if (napi_get_array_length(env, argv[1], &n) != napi_ok || napi_get_array_length(env, argv[3], &m) != napi_ok || n != m) {
    napi_throw_type_error(env, NULL, "linkBatch: two arrays of the same length expected");
    return NULL;
  }
  int sfd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0) return throw_errno(env, errno, "open", srcdir);
  int dfd = open(dstdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) { int e = errno; close(sfd); return throw_errno(env, e, "open", dstdir); }
  int32_t failed = -1;
  int err = 0;
  char a[PATH_BUF], b[PATH_BUF], full[2 * PATH_BUF + 2];
  napi_value symlinks;
  napi_create_array(env, &symlinks);
  uint32_t nsym = 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value va, vb;
    napi_get_element(env, argv[1], i, &va);
    napi_get_element(env, argv[3], i, &vb);
    /* A name too long for the buffers is that entry's failure, not an exception halfway
     * through the batch (the caller retries from the failing entry). */
    size_t la = 0, lb = 0;
    napi_get_value_string_utf8(env, va, NULL, 0, &la);
    napi_get_value_string_utf8(env, vb, NULL, 0, &lb);
    if (la >= sizeof a - 1 || lb >= sizeof b - 1) { err = ENAMETOOLONG; failed = (int32_t)i; break; }
    if (!get_path(env, va, a, sizeof a) || !get_path(env, vb, b, sizeof b)) { close(sfd); close(dfd); return NULL; }
    if (bare_user) {
      unsigned char meta[4096];
      snprintf(full, sizeof full, "%s/%s", srcdir, a);
      ssize_t len = lgetxattr(full, "user.ostreemeta", meta, sizeof meta);
      /* Absent, unreadable, larger than the buffer (ERANGE) or short: the caller's one-file
       * path reads it properly and reports what is wrong. */
      if (len < 12) {
        err = len < 0 ? errno : ENODATA;
        failed = (int32_t)i;
        break;
      }
      /* (uuua(ayay)): uid, gid, then the mode, big-endian as OSTree stores it. */
      uint32_t mode = ((uint32_t)meta[8] << 24) | ((uint32_t)meta[9] << 16) | ((uint32_t)meta[10] << 8) | meta[11];
      if ((mode & 0170000) == 0120000) {
        napi_value idx;
        napi_create_uint32(env, i, &idx);
        napi_set_element(env, symlinks, nsym++, idx);
        continue;
      }
    }
    if (linkat(sfd, a, dfd, b, 0) < 0) { err = errno; failed = (int32_t)i; break; }
  }
  close(sfd);
  close(dfd);
  napi_value out, idx, code;
  napi_create_object(env, &out);
  napi_create_int32(env, failed, &idx);
  napi_create_string_utf8(env, failed < 0 ? "" : errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_set_named_property(env, out, "index", idx);
  napi_set_named_property(env, out, "code", code);
  napi_set_named_property(env, out, "symlinks", symlinks);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"llistxattr", NULL, js_llistxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"fsetxattr", NULL, js_fsetxattr, NULL, NULL, NULL, napi_default, NULL},
    {"lremovexattr", NULL, js_lremovexattr, NULL, NULL, NULL, napi_default, NULL},
    {"ofdlock", NULL, js_ofdlock, NULL, NULL, NULL, napi_default, NULL},
    {"syncfs", NULL, js_syncfs, NULL, NULL, NULL, napi_default, NULL},
    {"ficlone", NULL, js_ficlone, NULL, NULL, NULL, napi_default, NULL},
    {"rename2", NULL, js_rename2, NULL, NULL, NULL, napi_default, NULL},
    {"getflags", NULL, js_getflags, NULL, NULL, NULL, napi_default, NULL},
    {"setflags", NULL, js_setflags, NULL, NULL, NULL, napi_default, NULL},
    {"deflateRaw", NULL, js_deflate_raw, NULL, NULL, NULL, napi_default, NULL},
    {"inflateRaw", NULL, js_inflate_raw, NULL, NULL, NULL, napi_default, NULL},
    {"hashFiles", NULL, js_hash_files, NULL, NULL, NULL, napi_default, NULL},
    {"linkBatch", NULL, js_link_batch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
