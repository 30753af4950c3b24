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

/* A SHA-256 digest as 64 lowercase hex digits and a NUL (out holds 65 bytes). */
static void hex32(const unsigned char *c, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (int k = 0; k < 32; k++) { out[2 * k] = hex[c[k] >> 4]; out[2 * k + 1] = hex[c[k] & 15]; }
  out[64] = 0;
}

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
    napi_value arr;
    napi_create_array_with_length(env, j->n, &arr);
    for (uint32_t i = 0; i < j->n; i++) {
      hash_item *it = &j->items[i];
      napi_value obj;
      if (it->err) {
        obj = errno_error(env, it->err, it->failed, it->path);
      } else {
        char out[65];
        hex32(it->digest, out);
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

/* checkout: */
/* ---- checkoutTree: a whole hardlink checkout of one tree in one call ----
 *
 * checkoutTree(objectsDir, treeChecksum, metaChecksum, dest, opts) -> result
 *   opts: { bareUser: boolean, userMode: boolean, threads: number }
 *   result: { ok: true, files, dirs, hardlinked, symlinks }
 *         | { ok: false, created: boolean, code, syscall, path }
 *
 * The fast path of a hardlink checkout (bare, bare-user-only, bare-user in user mode): it reads
 * the dirtree and dirmeta objects itself, creates each directory (mode 0700 while it is filled),
 * hardlinks every file object with linkat(2) relative to directory descriptors (bare-user
 * symlink objects, which are regular files holding the target, become real symlinks), and
 * last, deepest directories first, sets each directory's ownership (as root, not in user mode),
 * xattrs (not in user mode; EPERM and ENOTSUP ignored), mode and a zero mtime, as the
 * TypeScript path does. With threads > 1, that many threads take directories from one shared
 * stack (directory operations in different directories run in parallel in the kernel).
 *
 * It never reports a problem itself: anything it does not handle exactly as the TypeScript
 * path would (malformed or unsorted dirtree, a name that is not valid UTF-8, a missing object,
 * a link refused with EXDEV, EMLINK or EPERM, an existing destination, ...) stops it and
 * returns ok: false with the first failing system call, and `created` telling whether it made
 * `dest` (then everything under it is its own, still mode 0700, and the caller removes it
 * before the general path runs and reports the problem properly). */

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#define CO_MAX_META (10 * 1024 * 1024) /* MAX_METADATA_SIZE in src/repo/repo.ts */

typedef struct {
  unsigned char csum[32];
  uint32_t uid, gid, mode;
  unsigned char *xattrs; /* raw a(ayay) bytes, applied in apply_dirmeta */
  size_t xattrs_len;
} co_meta;

typedef struct {
  char *rel;            /* path relative to dest ("." for dest itself) */
  unsigned char tree[32];
  int meta;             /* index into metas */
  int depth;
} co_dir;

typedef struct {
  /* fixed inputs */
  int objfd, rootfd;
  int bare_user, user_mode, is_root;
  int prefix_fd[256];
  char objdir[PATH_BUF];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* guarded by mu */
  co_dir *dirs; size_t ndirs, capdirs; /* every directory made, in creation order */
  size_t *stack; size_t nstack, capstack; /* indexes into dirs still to fill */
  int busy;        /* threads filling a directory */
  co_meta *metas; size_t nmetas, capmetas;
  int err; const char *err_call; char err_path[PATH_BUF];
  /* counts (guarded by mu, added once per directory) */
  int64_t files, hardlinked, symlinks;
} co_state;

static void co_fail(co_state *st, int e, const char *call, const char *rel) {
  pthread_mutex_lock(&st->mu);
  if (!st->err) {
    st->err = e ? e : EINVAL;
    st->err_call = call;
    snprintf(st->err_path, sizeof st->err_path, "%.4000s", rel ? rel : "");
  }
  pthread_cond_broadcast(&st->cv);
  pthread_mutex_unlock(&st->mu);
}

static int co_prefix_fd(co_state *st, unsigned char b) {
  /* Opened before the threads start (see co_open_prefixes); -1 when absent. */
  return st->prefix_fd[b];
}


/* "cdef...(62 hex).ext" for object c: the name inside its prefix directory. */
static void co_obj_name(const unsigned char *c, const char *ext, char *out, size_t cap) {
  char h[65];
  hex32(c, h);
  snprintf(out, cap, "%s.%s", h + 2, ext);
}

/* Reads a metadata object whole (at most CO_MAX_META bytes). Returns a malloc'd buffer or NULL
 * with errno set (EFBIG when too large). */
static unsigned char *co_read_obj(co_state *st, const unsigned char *c, const char *ext, size_t *len) {
  char name[80];
  co_obj_name(c, ext, name, sizeof name);
  int pfd = co_prefix_fd(st, c[0]);
  if (pfd < 0) { errno = ENOENT; return NULL; }
  int fd = openat(pfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) return NULL;
  struct stat sb;
  if (fstat(fd, &sb) < 0) { int e = errno; close(fd); errno = e; return NULL; }
  if (!S_ISREG(sb.st_mode) || sb.st_size > CO_MAX_META) { close(fd); errno = EFBIG; return NULL; }
  size_t n = (size_t)sb.st_size;
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf) { close(fd); errno = ENOMEM; return NULL; }
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0) { if (errno == EINTR) continue; int e = errno; free(buf); close(fd); errno = e; return NULL; }
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != n) { free(buf); errno = EIO; return NULL; }
  *len = n;
  return buf;
}

/* GVariant framing: offsets are 0, 1, 2, 4 or 8 bytes wide by container size, little-endian. */
static size_t gv_width(size_t size) {
  return size == 0 ? 0 : size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffu ? 4 : 8;
}

static size_t gv_off(const unsigned char *p, size_t w) {
  size_t v = 0;
  for (size_t i = 0; i < w; i++) v |= (size_t)p[i] << (8 * i);
  return v;
}

/* A variable-size array's element k in [s, e): sets *es, *ee. Returns 0 when malformed.
 * n_out: element count (call with k = (size_t)-1 to get it only). All elements align to 1. */
static int gv_array_elem(const unsigned char *d, size_t s, size_t e, size_t k, size_t *n_out, size_t *es, size_t *ee) {
  size_t size = e - s;
  if (size == 0) { *n_out = 0; return 1; }
  size_t w = gv_width(size);
  size_t table = gv_off(d + e - w, w);
  if (table > size || (size - table) % w != 0) return 0;
  size_t n = (size - table) / w;
  if (n == 0) return 0;
  *n_out = n;
  if (k == (size_t)-1) return 1;
  size_t prev = k == 0 ? 0 : gv_off(d + s + table + (k - 1) * w, w);
  size_t end = gv_off(d + s + table + k * w, w);
  if (end > table || prev > end) return 0;
  *es = s + prev;
  *ee = s + end;
  return 1;
}

/* Valid UTF-8 (no overlong forms, surrogates or code points above U+10FFFF): then the bytes
 * are exactly what the TypeScript path would write for the decoded name. */
static int utf8_valid(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c < 0x80) { i++; continue; }
    size_t len; uint32_t cp;
    if ((c & 0xe0) == 0xc0) { len = 2; cp = c & 0x1f; }
    else if ((c & 0xf0) == 0xe0) { len = 3; cp = c & 0x0f; }
    else if ((c & 0xf8) == 0xf0) { len = 4; cp = c & 0x07; }
    else return 0;
    if (i + len > n) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

/* A dirtree entry name in [s, e) (with its NUL): a valid, NUL-terminated, UTF-8 name that is
 * not empty, ".", ".." and holds no '/' or NUL. Returns its length without the NUL, or -1. */
static ssize_t gv_name(const unsigned char *d, size_t s, size_t e) {
  if (e <= s || d[e - 1] != 0) return -1;
  size_t n = e - s - 1;
  if (n == 0 || memchr(d + s, 0, n) || memchr(d + s, '/', n)) return -1;
  if ((n == 1 && d[s] == '.') || (n == 2 && d[s] == '.' && d[s + 1] == '.')) return -1;
  if (!utf8_valid(d + s, n)) return -1;
  return (ssize_t)n;
}

/* Byte-wise strictly increasing names (as ostree sorts them): so no duplicate within a list. */
static int name_after(const unsigned char *prev, size_t pn, const unsigned char *cur, size_t cn) {
  if (!prev) return 1;
  size_t m = pn < cn ? pn : cn;
  int c = memcmp(prev, cur, m);
  return c < 0 || (c == 0 && pn < cn);
}

/* Finds or loads dirmeta c; returns its index or -1 (errno set; EINVAL when malformed). */
static int co_meta_index(co_state *st, const unsigned char *c) {
  pthread_mutex_lock(&st->mu);
  for (size_t i = 0; i < st->nmetas; i++) {
    if (memcmp(st->metas[i].csum, c, 32) == 0) { pthread_mutex_unlock(&st->mu); return (int)i; }
  }
  pthread_mutex_unlock(&st->mu);
  size_t len;
  unsigned char *d = co_read_obj(st, c, "dirmeta", &len);
  if (!d) return -1;
  /* (uuua(ayay)): three big-endian u32 (as OSTree stores them), then the xattrs to the end. */
  if (len < 12) { free(d); errno = EINVAL; return -1; }
  co_meta m;
  memcpy(m.csum, c, 32);
  m.uid = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3];
  m.gid = ((uint32_t)d[4] << 24) | ((uint32_t)d[5] << 16) | ((uint32_t)d[6] << 8) | d[7];
  m.mode = ((uint32_t)d[8] << 24) | ((uint32_t)d[9] << 16) | ((uint32_t)d[10] << 8) | d[11];
  if ((m.mode & 0170000) != 0040000) { free(d); errno = EINVAL; return -1; }
  /* Check the xattrs' framing now: each (ayay) with a NUL-terminated, non-empty name. */
  size_t n = 0, es, ee;
  if (!gv_array_elem(d, 12, len, (size_t)-1, &n, &es, &ee)) { free(d); errno = EINVAL; return -1; }
  for (size_t k = 0; k < n; k++) {
    if (!gv_array_elem(d, 12, len, k, &n, &es, &ee)) { free(d); errno = EINVAL; return -1; }
    size_t w = gv_width(ee - es);
    if (ee - es < w) { free(d); errno = EINVAL; return -1; }
    size_t nameEnd = es + gv_off(d + ee - w, w);
    if (nameEnd > ee - w || nameEnd <= es || d[nameEnd - 1] != 0) { free(d); errno = EINVAL; return -1; }
  }
  m.xattrs_len = len - 12;
  m.xattrs = malloc(m.xattrs_len ? m.xattrs_len : 1);
  if (!m.xattrs) { free(d); errno = ENOMEM; return -1; }
  memcpy(m.xattrs, d + 12, m.xattrs_len);
  free(d);
  pthread_mutex_lock(&st->mu);
  for (size_t i = 0; i < st->nmetas; i++) { /* another thread may have added it meanwhile */
    if (memcmp(st->metas[i].csum, c, 32) == 0) { pthread_mutex_unlock(&st->mu); free(m.xattrs); return (int)i; }
  }
  if (st->nmetas == st->capmetas) {
    size_t cap = st->capmetas ? st->capmetas * 2 : 16;
    co_meta *nm = realloc(st->metas, cap * sizeof *nm);
    if (!nm) { pthread_mutex_unlock(&st->mu); free(m.xattrs); errno = ENOMEM; return -1; }
    st->metas = nm; st->capmetas = cap;
  }
  int idx = (int)st->nmetas;
  st->metas[st->nmetas++] = m;
  pthread_mutex_unlock(&st->mu);
  return idx;
}

/* Records a new directory and queues it to be filled (mu held by the caller). */
static int co_push_dir(co_state *st, char *rel, const unsigned char *tree, int meta, int depth) {
  if (st->ndirs == st->capdirs) {
    size_t cap = st->capdirs ? st->capdirs * 2 : 256;
    co_dir *nd = realloc(st->dirs, cap * sizeof *nd);
    if (!nd) return 0;
    st->dirs = nd; st->capdirs = cap;
  }
  if (st->nstack == st->capstack) {
    size_t cap = st->capstack ? st->capstack * 2 : 256;
    size_t *ns = realloc(st->stack, cap * sizeof *ns);
    if (!ns) return 0;
    st->stack = ns; st->capstack = cap;
  }
  co_dir *d = &st->dirs[st->ndirs];
  d->rel = rel;
  memcpy(d->tree, tree, 32);
  d->meta = meta;
  d->depth = depth;
  st->stack[st->nstack++] = st->ndirs++;
  return 1;
}

/* getxattrat(2) (Linux 6.13+): the object's xattr with a one-name lookup in its prefix
 * directory instead of a walk of the whole path; lgetxattr on the full path where the kernel
 * lacks it (ENOSYS, remembered). */
#ifndef __NR_getxattrat
#if defined(__x86_64__) || defined(__aarch64__)
#define __NR_getxattrat 464
#endif
#endif
static volatile int co_have_getxattrat = 1;
struct co_xattr_args { uint64_t value; uint32_t size; uint32_t flags; };

static ssize_t co_getxattr(int pfd, const char *name, const char *full, const char *attr, void *buf, size_t cap) {
#ifdef __NR_getxattrat
  if (co_have_getxattrat) {
    struct co_xattr_args a = { (uint64_t)(uintptr_t)buf, (uint32_t)cap, 0 };
    long r = syscall(__NR_getxattrat, pfd, name, AT_SYMLINK_NOFOLLOW, attr, &a, sizeof a);
    if (r >= 0 || errno != ENOSYS) return (ssize_t)r;
    co_have_getxattrat = 0;
  }
#endif
  return lgetxattr(full, attr, buf, cap);
}

/* The target of a bare-user symlink object (a regular file holding it, maybe NUL-ended). */
static int co_symlink_target(int pfd, const char *name, char *out, size_t cap) {
  int fd = openat(pfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
  if (fd < 0) return -1;
  size_t got = 0;
  for (;;) {
    if (got == cap) { close(fd); errno = ENAMETOOLONG; return -1; }
    ssize_t r = read(fd, out + got, cap - got);
    if (r < 0) { if (errno == EINTR) continue; int e = errno; close(fd); errno = e; return -1; }
    if (r == 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got > 0 && out[got - 1] == 0) got--;
  if (got == cap || memchr(out, 0, got)) { errno = EINVAL; return -1; } /* a NUL inside: not a path */
  out[got] = 0;
  return 0;
}

/* Fills directory `di` (already made): links its files, makes and queues its subdirectories. */
static void co_fill(co_state *st, size_t di) {
  pthread_mutex_lock(&st->mu);
  char *rel = st->dirs[di].rel;
  unsigned char tree[32];
  memcpy(tree, st->dirs[di].tree, 32);
  int depth = st->dirs[di].depth;
  pthread_mutex_unlock(&st->mu);

  size_t len;
  unsigned char *d = co_read_obj(st, tree, "dirtree", &len);
  if (!d) { char h[65]; hex32(tree, h); co_fail(st, errno, "read dirtree", h); return; }
  int dfd = openat(st->rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) { co_fail(st, errno, "open", rel); free(d); return; }
  int64_t files = 0, linked = 0, syms = 0;
  size_t relLen = strlen(rel);

  /* (a(say)a(sayay)): the files array ends at the tuple's one framing offset. */
  size_t w = gv_width(len);
  size_t filesEnd = len >= w && w ? gv_off(d + len - w, w) : (size_t)-1;
  if (w == 0 || filesEnd > len - w) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
  size_t nfiles = 0, ndirs = 0, es, ee;
  if (!gv_array_elem(d, 0, filesEnd, (size_t)-1, &nfiles, &es, &ee) ||
      !gv_array_elem(d, filesEnd, len - w, (size_t)-1, &ndirs, &es, &ee)) {
    co_fail(st, EINVAL, "parse dirtree", rel); goto out;
  }
  const unsigned char *prev = NULL; size_t prevLen = 0;
  char objname[80], target[PATH_BUF + 1];
  for (size_t k = 0; k < nfiles; k++) {
    if (st->err) goto out;
    /* (say): name, then the 32-byte checksum; one framing offset (the name's end). */
    if (!gv_array_elem(d, 0, filesEnd, k, &nfiles, &es, &ee)) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
    size_t ew = gv_width(ee - es);
    if (ee - es < ew + 1) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
    size_t nameEnd = es + gv_off(d + ee - ew, ew);
    if (nameEnd > ee - ew || ee - ew - nameEnd != 32) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
    ssize_t nl = gv_name(d, es, nameEnd);
    if (nl < 0 || !name_after(prev, prevLen, d + es, (size_t)nl)) { co_fail(st, EINVAL, "dirtree name", rel); goto out; }
    prev = d + es; prevLen = (size_t)nl;
    const char *name = (const char *)d + es;
    const unsigned char *c = d + nameEnd;
    int pfd = co_prefix_fd(st, c[0]);
    co_obj_name(c, "file", objname, sizeof objname); /* bare, bare-user, bare-user-only */
    if (pfd < 0) { co_fail(st, ENOENT, "open object", rel); goto out; }
    files++;
    if (st->bare_user) {
      unsigned char meta[4096];
      char full[PATH_BUF + 128];
      snprintf(full, sizeof full, "%s/%02x/%s", st->objdir, c[0], objname);
      ssize_t ml = co_getxattr(pfd, objname, full, "user.ostreemeta", meta, sizeof meta);
      if (ml < 12) { co_fail(st, ml < 0 ? errno : ENODATA, "lgetxattr", full); goto out; }
      uint32_t mode = ((uint32_t)meta[8] << 24) | ((uint32_t)meta[9] << 16) | ((uint32_t)meta[10] << 8) | meta[11];
      if ((mode & 0170000) == 0120000) {
        if (co_symlink_target(pfd, objname, target, sizeof target - 1) < 0) { co_fail(st, errno, "read symlink object", full); goto out; }
        if (symlinkat(target, dfd, name) < 0) { co_fail(st, errno, "symlink", name); goto out; }
        syms++;
        continue;
      }
    }
    if (linkat(pfd, objname, dfd, name, 0) < 0) { co_fail(st, errno, "link", name); goto out; }
    linked++;
  }
  prev = NULL; prevLen = 0;
  for (size_t k = 0; k < ndirs; k++) {
    if (st->err) goto out;
    /* (sayay): name, tree checksum, meta checksum; two framing offsets (name end, tree end). */
    if (!gv_array_elem(d, filesEnd, len - w, k, &ndirs, &es, &ee)) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
    size_t ew = gv_width(ee - es);
    if (ee - es < 2 * ew + 1) { co_fail(st, EINVAL, "parse dirtree", rel); goto out; }
    size_t nameEnd = es + gv_off(d + ee - ew, ew);
    size_t treeEnd = es + gv_off(d + ee - 2 * ew, ew);
    if (nameEnd > treeEnd || treeEnd > ee - 2 * ew || treeEnd - nameEnd != 32 || ee - 2 * ew - treeEnd != 32) {
      co_fail(st, EINVAL, "parse dirtree", rel); goto out;
    }
    ssize_t nl = gv_name(d, es, nameEnd);
    if (nl < 0 || !name_after(prev, prevLen, d + es, (size_t)nl)) { co_fail(st, EINVAL, "dirtree name", rel); goto out; }
    prev = d + es; prevLen = (size_t)nl;
    const char *name = (const char *)d + es;
    int mi = co_meta_index(st, d + treeEnd);
    if (mi < 0) { char h[65]; hex32(d + treeEnd, h); co_fail(st, errno, "read dirmeta", h); goto out; }
    if (mkdirat(dfd, name, 0700) < 0) { co_fail(st, errno, "mkdir", name); goto out; }
    size_t sl = relLen + 1 + (size_t)nl + 1;
    char *sub = malloc(sl);
    if (!sub) { co_fail(st, ENOMEM, "malloc", rel); goto out; }
    if (relLen == 1 && rel[0] == '.') memcpy(sub, name, (size_t)nl + 1);
    else snprintf(sub, sl, "%s/%s", rel, name);
    pthread_mutex_lock(&st->mu);
    int ok = co_push_dir(st, sub, d + nameEnd, mi, depth + 1);
    if (ok) pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    if (!ok) { free(sub); co_fail(st, ENOMEM, "malloc", rel); goto out; }
  }
out:
  close(dfd);
  free(d);
  pthread_mutex_lock(&st->mu);
  st->files += files; st->hardlinked += linked; st->symlinks += syms;
  pthread_mutex_unlock(&st->mu);
}

static void *co_worker(void *arg) {
  co_state *st = arg;
  pthread_mutex_lock(&st->mu);
  for (;;) {
    while (!st->err && st->nstack == 0 && st->busy > 0) pthread_cond_wait(&st->cv, &st->mu);
    if (st->err || st->nstack == 0) break;
    size_t di = st->stack[--st->nstack];
    st->busy++;
    pthread_mutex_unlock(&st->mu);
    co_fill(st, di);
    pthread_mutex_lock(&st->mu);
    st->busy--;
    if (st->busy == 0 && st->nstack == 0) pthread_cond_broadcast(&st->cv);
  }
  pthread_mutex_unlock(&st->mu);
  return NULL;
}

/* Ownership (root, not user mode), xattrs (not user mode), mode and mtime 0 of one directory. */
static int co_apply_meta(co_state *st, co_dir *dir, const char **call) {
  co_meta *m = &st->metas[dir->meta];
  if (!st->user_mode && st->is_root) {
    if (fchownat(st->rootfd, dir->rel, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0) { *call = "chown"; return errno; }
  }
  if (!st->user_mode && m->xattrs_len > 0) {
    int fd = openat(st->rootfd, dir->rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) { *call = "open"; return errno; }
    size_t n = 0, es, ee;
    gv_array_elem(m->xattrs, 0, m->xattrs_len, (size_t)-1, &n, &es, &ee);
    for (size_t k = 0; k < n; k++) {
      gv_array_elem(m->xattrs, 0, m->xattrs_len, k, &n, &es, &ee);
      size_t w = gv_width(ee - es);
      size_t nameEnd = es + gv_off(m->xattrs + ee - w, w);
      if (fsetxattr(fd, (const char *)m->xattrs + es, m->xattrs + nameEnd, ee - w - nameEnd, 0) < 0 &&
          errno != EPERM && errno != ENOTSUP) { int e = errno; close(fd); *call = "lsetxattr"; return e; }
    }
    close(fd);
  }
  if (fchmodat(st->rootfd, dir->rel, m->mode & 07777, 0) < 0) { *call = "chmod"; return errno; }
  struct timespec ts[2] = {{0, 0}, {0, 0}};
  if (utimensat(st->rootfd, dir->rel, ts, AT_SYMLINK_NOFOLLOW) < 0) { *call = "utimensat"; return errno; }
  return 0;
}

static int co_by_depth(const void *a, const void *b) {
  const co_dir *x = *(co_dir *const *)a, *y = *(co_dir *const *)b;
  return (y->depth > x->depth) - (y->depth < x->depth);
}

static int co_parse_hex(const char *s, unsigned char *out) {
  for (int i = 0; i < 32; i++) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char ch = s[2 * i + k];
      int x = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
      if (x < 0) return 0;
      v = v * 16 + x;
    }
    out[i] = (unsigned char)v;
  }
  return s[64] == 0;
}

static int co_get_bool(napi_env env, napi_value obj, const char *key) {
  napi_value v; bool b = false;
  if (napi_get_named_property(env, obj, key, &v) == napi_ok) napi_get_value_bool(env, v, &b);
  return b;
}

static napi_value js_checkout_tree(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  char treehex[80], metahex[80], dest[PATH_BUF];
  co_state *st = calloc(1, sizeof *st);
  if (!st) return throw_errno(env, ENOMEM, "checkoutTree", NULL);
  if (!get_args(env, info, 5, argv) || !get_path(env, argv[0], st->objdir, sizeof st->objdir) ||
      !get_path(env, argv[1], treehex, sizeof treehex) || !get_path(env, argv[2], metahex, sizeof metahex) ||
      !get_path(env, argv[3], dest, sizeof dest)) { free(st); return NULL; }
  unsigned char tree[32], meta[32];
  if (!co_parse_hex(treehex, tree) || !co_parse_hex(metahex, meta)) {
    free(st);
    napi_throw_type_error(env, NULL, "checkoutTree: checksums must be 64 lowercase hex characters");
    return NULL;
  }
  st->bare_user = co_get_bool(env, argv[4], "bareUser");
  st->user_mode = co_get_bool(env, argv[4], "userMode");
  st->is_root = geteuid() == 0;
  int32_t threads = 1;
  napi_value tv;
  if (napi_get_named_property(env, argv[4], "threads", &tv) == napi_ok) napi_get_value_int32(env, tv, &threads);
  if (threads < 1) threads = 1;
  if (threads > 8) threads = 8;
  pthread_mutex_init(&st->mu, NULL);
  pthread_cond_init(&st->cv, NULL);
  for (int i = 0; i < 256; i++) st->prefix_fd[i] = -1;
  st->rootfd = -1;
  int created = 0;

  st->objfd = open(st->objdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (st->objfd < 0) { co_fail(st, errno, "open", st->objdir); goto done; }
  /* Every prefix directory that exists, opened once: objects are then one lookup away. */
  for (int i = 0; i < 256; i++) {
    char p[3];
    snprintf(p, sizeof p, "%02x", i);
    st->prefix_fd[i] = openat(st->objfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  int rm = co_meta_index(st, meta);
  if (rm < 0) { co_fail(st, errno, "read dirmeta", metahex); goto done; }
  if (mkdir(dest, 0700) < 0) { co_fail(st, errno, "mkdir", dest); goto done; }
  created = 1;
  st->rootfd = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (st->rootfd < 0) { co_fail(st, errno, "open", dest); goto done; }
  char *rootRel = strdup(".");
  if (!rootRel || !co_push_dir(st, rootRel, tree, rm, 0)) { free(rootRel); co_fail(st, ENOMEM, "malloc", dest); goto done; }

  pthread_t tids[8];
  int started = 0;
  for (int i = 1; i < threads; i++) {
    if (pthread_create(&tids[started], NULL, co_worker, st) == 0) started++;
  }
  co_worker(st);
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
  if (!st->err) {
    /* Deepest first, so that a read-only directory is finished before its parent is. */
    co_dir **order = malloc((st->ndirs ? st->ndirs : 1) * sizeof *order);
    if (!order) { co_fail(st, ENOMEM, "malloc", dest); goto done; }
    for (size_t i = 0; i < st->ndirs; i++) order[i] = &st->dirs[st->ndirs - 1 - i];
    qsort(order, st->ndirs, sizeof *order, co_by_depth);
    for (size_t i = 0; i < st->ndirs; i++) {
      const char *call = "";
      int e = co_apply_meta(st, order[i], &call);
      if (e) { co_fail(st, e, call, order[i]->rel); break; }
    }
    free(order);
  }

done:;
  napi_value out, v;
  napi_create_object(env, &out);
  napi_get_boolean(env, st->err == 0, &v);
  napi_set_named_property(env, out, "ok", v);
  if (st->err) {
    napi_get_boolean(env, created, &v);
    napi_set_named_property(env, out, "created", v);
    napi_create_string_utf8(env, errno_name(st->err), NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, out, "code", v);
    napi_create_string_utf8(env, st->err_call ? st->err_call : "", NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, out, "syscall", v);
    napi_create_string_utf8(env, st->err_path, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, out, "path", v);
  } else {
    napi_create_int64(env, st->files, &v);
    napi_set_named_property(env, out, "files", v);
    napi_create_int64(env, (int64_t)st->ndirs, &v);
    napi_set_named_property(env, out, "dirs", v);
    napi_create_int64(env, st->hardlinked, &v);
    napi_set_named_property(env, out, "hardlinked", v);
    napi_create_int64(env, st->symlinks, &v);
    napi_set_named_property(env, out, "symlinks", v);
  }
  if (st->rootfd >= 0) close(st->rootfd);
  if (st->objfd >= 0) close(st->objfd);
  for (int i = 0; i < 256; i++) if (st->prefix_fd[i] >= 0) close(st->prefix_fd[i]);
  for (size_t i = 0; i < st->ndirs; i++) free(st->dirs[i].rel);
  for (size_t i = 0; i < st->nmetas; i++) free(st->metas[i].xattrs);
  free(st->dirs); free(st->stack); free(st->metas);
  pthread_mutex_destroy(&st->mu);
  pthread_cond_destroy(&st->cv);
  free(st);
  return out;
}
/* end of checkout */

/* pull: */
/* ---- pullStoreContent: verify and write one whole content object in one call ----
 *
 * pullStoreContent(compressed, size, header, checksum, dest, body, fileMode, xattrName,
 *                  xattrValue, zeroMtime) -> bytes written
 * pullStoreFilezBatch(dir, bareUser, [body, checksum, ...]): the common case of many objects
 *   as one job on the libuv thread pool (below)
 *
 * Inflates `compressed` (one raw DEFLATE stream that must give exactly `size` bytes; size 0
 * with empty input is an empty file), checks that SHA-256(header || data) is `checksum` (64
 * lowercase hex), then writes `dest.part` (O_EXCL; a stale one from a killed run is replaced)
 * with `body` when it is a Buffer (an archive repository keeps the received .filez) or else the
 * inflated data, fchmod(fileMode), fsetxattr(xattrName, xattrValue) when the name is a string,
 * futimens to 0 when zeroMtime, close, and renames it to `dest`. Nothing is left under either
 * name on failure. One call instead of a dozen from JavaScript, and the inflated data never
 * becomes a JavaScript buffer (a pull stages thousands of small objects per second); the batch
 * form lets the pull's main thread keep serving its connections meanwhile, without worker
 * threads (each costs an isolate and its JIT warm-up).
 * Errors: code EINFLATE (corrupt or wrong-sized data), ECHECKSUM (the message is the digest the
 * data has), else the errno name with the failing call and path, as the other functions. */

#include <sys/stat.h>

/* Big-endian u32, as OSTree stores uid, gid and mode inside its GVariant headers. */
static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* Writes a new object file's bytes and metadata through fd: the data, then fchown (when
 * `chown`), fchmod, the xattr `xname` (when not NULL) and atime/mtime 0 (when `zero_mtime`),
 * in that order (a chown clears suid/sgid, so the mode comes after it). Returns NULL, or the
 * failing call with errno set. */
static const char *write_object_fd(int fd, const unsigned char *buf, size_t len, int chown, uint32_t uid, uint32_t gid,
                                   mode_t mode, const char *xname, const void *xval, size_t xlen, int zero_mtime) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return "write";
    }
    off += (size_t)w;
  }
  if (chown && fchown(fd, uid, gid) < 0) return "fchown";
  if (fchmod(fd, mode) < 0) return "fchmod";
  if (xname && fsetxattr(fd, xname, xval, xlen, 0) < 0) return "fsetxattr";
  if (zero_mtime) {
    struct timespec ts[2] = {{0, 0}, {0, 0}};
    if (futimens(fd, ts) < 0) return "futimens";
  }
  return NULL;
}

typedef struct {
  const unsigned char *in; size_t inlen;
  const unsigned char *hdr; size_t hdrlen;
  const unsigned char *body; size_t bodylen; int has_body;
  const unsigned char *xval; size_t xlen; int has_x;
  int64_t size;
  int32_t fmode;
  int zero_mtime;
  char sum[80], xname[256], dest[PATH_BUF], part[PATH_BUF + 8];
  /* result: 0 ok, 1 EINFLATE, 2 ECHECKSUM, 3 errno (err, call) */
  int kind, err;
  const char *call;
  char hex[65];
  int64_t written;
  /* pullStoreFilezBatch: the file header and user.ostreemeta it derives from the .filez header */
  unsigned char hbuf[26], mbuf[12];
  int handled;
} psc_job;

/* Reads the ten arguments into `j` (pointers into the caller's buffers). 0 with an exception pending. */
static int psc_parse(napi_env env, psc_job *j, napi_value *argv);

static int psc_args(napi_env env, napi_callback_info info, psc_job *j, napi_value *argv) {
  size_t argc = 10;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 10) { napi_throw_type_error(env, NULL, "pullStoreContent: 10 arguments expected"); return 0; }
  return psc_parse(env, j, argv);
}

/* The ten arguments in argv (see above) into `j`. 0 with an exception pending. */
static int psc_parse(napi_env env, psc_job *j, napi_value *argv) {
  void *p;
  bool flag = false;
  if (napi_get_buffer_info(env, argv[0], &p, &j->inlen) != napi_ok) goto bad;
  j->in = p;
  if (napi_get_value_int64(env, argv[1], &j->size) != napi_ok || j->size < 0) goto bad;
  if (napi_get_buffer_info(env, argv[2], &p, &j->hdrlen) != napi_ok) goto bad;
  j->hdr = p;
  if (!get_path(env, argv[3], j->sum, sizeof j->sum)) return 0;
  if (strlen(j->sum) != 64) goto bad;
  if (!get_path(env, argv[4], j->dest, sizeof j->dest)) return 0;
  napi_is_buffer(env, argv[5], &flag);
  j->has_body = flag;
  if (flag) { napi_get_buffer_info(env, argv[5], &p, &j->bodylen); j->body = p; }
  if (!get_int(env, argv[6], &j->fmode)) return 0;
  napi_valuetype xt;
  napi_typeof(env, argv[7], &xt);
  j->has_x = xt == napi_string;
  if (j->has_x) {
    size_t l = 0;
    if (napi_get_value_string_utf8(env, argv[7], j->xname, sizeof j->xname, &l) != napi_ok || l >= sizeof j->xname - 1) goto bad;
    if (napi_get_buffer_info(env, argv[8], &p, &j->xlen) != napi_ok) goto bad;
    j->xval = p;
  }
  flag = false;
  napi_get_value_bool(env, argv[9], &flag);
  j->zero_mtime = flag;
  snprintf(j->part, sizeof j->part, "%s.part", j->dest);
  return 1;
bad:
  napi_throw_type_error(env, NULL, "pullStoreContent: bad arguments");
  return 0;
}

/* The work itself: no napi calls (it runs on the thread pool in the async form). */
static void psc_run(psc_job *j) {
  unsigned char *data = NULL;
  if (j->size > 0 || j->inlen > 0) {
    data = malloc(j->size > 0 ? (size_t)j->size : 1);
    if (!data) { j->kind = 3; j->err = ENOMEM; j->call = "malloc"; return; }
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    if (!d) { free(data); j->kind = 3; j->err = ENOMEM; j->call = "libdeflate_alloc_decompressor"; return; }
    size_t outlen = 0;
    enum libdeflate_result r = libdeflate_deflate_decompress(d, j->in, j->inlen, data, (size_t)j->size, &outlen);
    libdeflate_free_decompressor(d);
    if (r != LIBDEFLATE_SUCCESS || outlen != (size_t)j->size) { free(data); j->kind = 1; return; }
  }
  unsigned char md[32];
  unsigned int mdlen = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int hok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, j->hdr, j->hdrlen) == 1 &&
            (j->size == 0 || EVP_DigestUpdate(ctx, data, (size_t)j->size) == 1) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
  if (ctx) EVP_MD_CTX_free(ctx);
  if (!hok) { free(data); j->kind = 3; j->err = ENOMEM; j->call = "sha256"; return; }
  hex32(md, j->hex);
  if (memcmp(j->hex, j->sum, 64) != 0) { free(data); j->kind = 2; return; }

  const unsigned char *w = j->has_body ? j->body : data;
  size_t wlen = j->has_body ? j->bodylen : (size_t)j->size;
  int fd = open(j->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {
    unlink(j->part);
    fd = open(j->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) { j->err = errno; free(data); j->kind = 3; j->call = "open"; return; }
  const char *call = write_object_fd(fd, w, wlen, 0, 0, 0, (mode_t)j->fmode, j->has_x ? j->xname : NULL, j->xval, j->xlen, j->zero_mtime);
  int e = errno;
  free(data);
  if (close(fd) < 0 && !call) { call = "close"; e = errno; }
  if (!call && rename(j->part, j->dest) < 0) { call = "rename"; e = errno; }
  if (call) {
    unlink(j->part);
    j->kind = 3; j->err = e; j->call = call;
    return;
  }
  j->written = (int64_t)wlen;
}

/* The job's outcome as a JS value: the written size, or the Error (*failed set). */
static napi_value psc_result(napi_env env, psc_job *j, int *failed) {
  napi_value v;
  *failed = j->kind != 0;
  if (j->kind == 0) { napi_create_int64(env, j->written, &v); return v; }
  if (j->kind == 3) return errno_error(env, j->err, j->call, j->part);
  napi_value code, msg;
  napi_create_string_utf8(env, j->kind == 1 ? "EINFLATE" : "ECHECKSUM", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, j->kind == 1 ? "the compressed data does not inflate to the declared size" : j->hex, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &v);
  napi_set_named_property(env, v, "code", code);
  return v;
}

static napi_value js_pull_store_content(napi_env env, napi_callback_info info) {
  napi_value argv[10];
  psc_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "pullStoreContent", NULL);
  if (!psc_args(env, info, j, argv)) { free(j); return NULL; }
  psc_run(j);
  int failed = 0;
  napi_value v = psc_result(env, j, &failed);
  free(j);
  if (failed) { napi_throw(env, v); return NULL; }
  return v;
}

/* pullStoreFilezBatch(dir, bareUser: boolean, items: (Buffer | string)[]) -> Promise<(number | Error | null)[]>
 *
 * The common case of a pull, many objects as one job on the libuv thread pool: items holds
 * pairs (the received .filez body, its checksum as 64 lowercase hex). A body whose header is
 * that of a regular file without xattrs (header length 26: size, uid, gid, mode, rdev, an empty
 * symlink target, no xattrs, in GVariant normal form) is handled as pullStoreContent does, with
 * the file header and user.ostreemeta derived here: written to dir/XX/REST.file (bare-user:
 * the inflated data, mode (mode & 0775) | 0400, user.ostreemeta, mtime 0) or .filez (archive:
 * the body as received, mode 0644), XX the checksum's first two digits (an existing
 * directory), through a .part name. Each result is the bytes
 * written, the Error pullStoreContent would throw, or null for a body this does not handle
 * (another header, a symlink, data over 64 MiB): the caller stores those its own way. One job,
 * one promise and one callback per batch, and two values per object for the main thread to
 * pass, instead of ten. The buffers must stay unchanged until the promise settles. */
/* One object of a batch: its input, and the outcome psc_run left (the paths are rebuilt from
 * dir and sum when an error needs them; a psc_job with its two path buffers is ~8 KiB, which
 * would make every batch a large allocation, mapped and unmapped). */
typedef struct {
  const unsigned char *in; size_t inlen;
  char sum[66]; /* 64 hex digits; one more so that a longer string reads as too long */
  int handled, kind, err;
  const char *call;
  char hex[65];
  int64_t written;
} psfb_item;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref items;
  uint32_t n;
  int bare_user;
  char dir[PATH_BUF];
  psfb_item *jobs;
} psfb_job;

#define PSFB_MAX_DATA ((int64_t)64 * 1024 * 1024)

static uint32_t get_be32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Fills `j` for the body of `it` (the whole .filez) from its header; 0 when not handled. */
static int psfb_prepare(psfb_job *b, const psfb_item *it, psc_job *j) {
  const unsigned char *f = it->in;
  size_t flen = it->inlen;
  memcpy(j->sum, it->sum, 65);
  if (flen < 34 || get_be32(f) != 26 || f[32] != 0 || f[33] != 25) return 0;
  const unsigned char *h = f + 8;
  uint64_t size = 0;
  for (int k = 0; k < 8; k++) size = (size << 8) | h[k];
  uint32_t mode = get_be32(h + 16);
  if (!S_ISREG(mode) || (int64_t)size > PSFB_MAX_DATA) return 0;
  /* the content checksum's header: (uuuusa(ayay)) with the same four numbers */
  memset(j->hbuf, 0, sizeof j->hbuf);
  put_be32(j->hbuf, 18);
  memcpy(j->hbuf + 8, h + 8, 16);
  j->hbuf[25] = 17;
  j->hdr = j->hbuf;
  j->hdrlen = sizeof j->hbuf;
  j->size = (int64_t)size;
  j->body = f;
  j->bodylen = flen;
  j->in = f + 34;
  j->inlen = flen - 34;
  if (b->bare_user) {
    j->has_body = 0;
    memcpy(j->mbuf, h + 8, 12);
    j->fmode = (int32_t)((mode & 0775) | 0400);
    j->has_x = 1;
    strcpy(j->xname, "user.ostreemeta");
    j->xval = j->mbuf;
    j->xlen = sizeof j->mbuf;
    j->zero_mtime = 1;
  } else {
    j->has_body = 1;
    j->fmode = 0644;
  }
  int n = snprintf(j->dest, sizeof j->dest, "%s/%.2s/%s.%s", b->dir, j->sum, j->sum + 2, b->bare_user ? "file" : "filez");
  if (n < 0 || (size_t)n >= sizeof j->dest) return 0;
  snprintf(j->part, sizeof j->part, "%s.part", j->dest);
  return 1;
}

static void psfb_execute(napi_env env, void *data) {
  psfb_job *b = data;
  psc_job j;
  for (uint32_t i = 0; i < b->n; i++) {
    psfb_item *it = &b->jobs[i];
    memset(&j, 0, offsetof(psc_job, sum));
    j.kind = 0;
    j.written = 0;
    it->handled = psfb_prepare(b, it, &j);
    if (!it->handled) continue;
    psc_run(&j);
    it->kind = j.kind;
    it->err = j.err;
    it->call = j.call;
    it->written = j.written;
    memcpy(it->hex, j.hex, sizeof it->hex);
  }
}

/* The outcome of item `it` as psc_result gives it. */
static napi_value psfb_result(napi_env env, psfb_job *b, const psfb_item *it) {
  psc_job j;
  int failed = 0;
  j.kind = it->kind;
  j.err = it->err;
  j.call = it->call;
  j.written = it->written;
  memcpy(j.hex, it->hex, sizeof j.hex);
  j.part[0] = 0;
  if (it->kind == 3) {
    int n = snprintf(j.part, sizeof j.part, "%s/%.2s/%.62s.%s.part", b->dir, it->sum, it->sum + 2, b->bare_user ? "file" : "filez");
    if (n < 0 || (size_t)n >= sizeof j.part) j.part[0] = 0;
  }
  return psc_result(env, &j, &failed);
}

static void psfb_complete(napi_env env, napi_status status, void *data) {
  psfb_job *b = data;
  if (status != napi_ok) {
    napi_reject_deferred(env, b->deferred, errno_error(env, EINTR, "pullStoreFilezBatch", NULL));
  } else {
    napi_value arr, nul;
    napi_get_null(env, &nul);
    napi_create_array_with_length(env, b->n, &arr);
    for (uint32_t i = 0; i < b->n; i++) {
      napi_set_element(env, arr, i, b->jobs[i].handled ? psfb_result(env, b, &b->jobs[i]) : nul);
    }
    napi_resolve_deferred(env, b->deferred, arr);
  }
  napi_delete_reference(env, b->items);
  napi_delete_async_work(env, b->work);
  free(b->jobs);
  free(b);
}

static napi_value js_pull_store_filez_batch(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  psfb_job *b = calloc(1, sizeof *b);
  if (!b) return throw_errno(env, ENOMEM, "pullStoreFilezBatch", NULL);
  bool bu = false;
  uint32_t len = 0;
  if (!get_path(env, argv[0], b->dir, sizeof b->dir)) { free(b); return NULL; }
  if (napi_get_value_bool(env, argv[1], &bu) != napi_ok || napi_get_array_length(env, argv[2], &len) != napi_ok || len % 2 != 0) {
    free(b);
    napi_throw_type_error(env, NULL, "pullStoreFilezBatch: (string, boolean, [Buffer, string, ...]) expected");
    return NULL;
  }
  b->bare_user = bu;
  b->n = len / 2;
  if (!(b->jobs = calloc(b->n ? b->n : 1, sizeof *b->jobs))) { free(b); return throw_errno(env, ENOMEM, "pullStoreFilezBatch", NULL); }
  for (uint32_t i = 0; i < b->n; i++) {
    napi_value body, sum;
    void *p = NULL;
    size_t sl = 0;
    napi_get_element(env, argv[2], 2 * i, &body);
    napi_get_element(env, argv[2], 2 * i + 1, &sum);
    if (napi_get_buffer_info(env, body, &p, &b->jobs[i].inlen) != napi_ok ||
        napi_get_value_string_latin1(env, sum, b->jobs[i].sum, sizeof b->jobs[i].sum, &sl) != napi_ok || sl != 64) {
      free(b->jobs); free(b);
      napi_throw_type_error(env, NULL, "pullStoreFilezBatch: items must be pairs of a Buffer and a 64-character checksum");
      return NULL;
    }
    b->jobs[i].in = p;
  }
  napi_value promise, name;
  napi_create_reference(env, argv[2], 1, &b->items);
  napi_create_promise(env, &b->deferred, &promise);
  napi_create_string_utf8(env, "pullStoreFilezBatch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, psfb_execute, psfb_complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    napi_delete_reference(env, b->items);
    free(b->jobs); free(b);
    return throw_errno(env, ENOMEM, "pullStoreFilezBatch", NULL);
  }
  return promise;
}
/* end of pull */

/* commit: */
/* ---- deflateFile: one large archive-mode content object, compressed on every core ----
 *
 * deflateFile(srcFd, outFd, size, prefix: Buffer, level, threads, chunkSize)
 *   -> { digest: string, stored: number, shortAt: number }
 *
 * Reads bytes [0, size) of srcFd (pread), and writes to outFd (at its current position) one raw
 * DEFLATE stream (RFC 1951) of them, as an archive repository's .filez object carries after
 * its header; `digest` is the SHA-256 (hex) of prefix || the bytes read (the object checksum:
 * the prefix is the file header), `stored` the number of compressed bytes written.
 *
 * The input is cut into chunks of chunkSize bytes that `threads` threads compress at once with
 * libdeflate (level 0..12), each as a complete stream of its own. A stream is joined to the
 * next one (pigz's way, in effect): its last block loses its BFINAL bit, and an empty stored
 * block (what a zlib sync flush writes) follows it to reach a byte boundary; the next chunk's
 * first block then starts there. libdeflate cannot write a non-final block, so the last block's
 * header is found by inflating the chunk with zlib's Z_BLOCK mode (block boundaries and the bit
 * offset of each are reported), which also checks that the chunk inflates to its input. No
 * back-reference crosses a chunk boundary, so the concatenation is one valid raw DEFLATE stream
 * that any inflater (zlib, libostree) reads to the end. The chunks are hashed and written in
 * order, each by the thread that compressed it once its turn comes.
 *
 * shortAt is -1, or the offset at which the file ended early (it shrank while being read); then
 * the output is incomplete and the caller discards it. Other failures throw an errno Error. */

#include <zlib.h>

typedef struct {
  int src, out;
  int64_t size;
  size_t chunk;
  int level;
  int64_t nchunks;
  pthread_mutex_t claim_mu;
  int64_t next_claim;
  pthread_mutex_t emit_mu;
  pthread_cond_t emit_cv;
  int64_t next_emit;
  EVP_MD_CTX *md;
  int64_t stored;
  int err;                /* errno of the first failure, or -1 for "shrank" */
  const char *err_call;
  int64_t short_at;
} df_state;

static void df_fail(df_state *st, int e, const char *call) {
  pthread_mutex_lock(&st->emit_mu);
  if (!st->err) { st->err = e; st->err_call = call; }
  pthread_cond_broadcast(&st->emit_cv);
  pthread_mutex_unlock(&st->emit_mu);
}

/* Turns the complete raw DEFLATE stream buf[0, *n) (which must inflate to exactly `orig`, of
 * origLen bytes) into one that ends with a non-final block and an empty stored block, at a
 * byte boundary. `scratch` holds origLen bytes; buf has room for 5 more bytes. Returns 0, or
 * EINVAL when the stream is not what libdeflate should have written. */
static int df_unfinal(unsigned char *buf, size_t *n, const unsigned char *orig, size_t origLen, unsigned char *scratch) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (inflateInit2(&s, -15) != Z_OK) return ENOMEM;
  s.next_in = buf;
  s.avail_in = (uInt)*n;
  s.next_out = scratch;
  s.avail_out = (uInt)origLen;
  size_t hdr_byte = 0; /* where the current block's header (its BFINAL bit) is */
  int hdr_bit = 0;
  int end_unused = 0, end_seen = 0;
  int ret;
  for (;;) {
    ret = inflate(&s, Z_BLOCK);
    if (ret == Z_STREAM_END) break;
    /* (Each Z_OK made progress; at the end of the input without the end of the stream,
     * inflate returns Z_BUF_ERROR.) */
    if (ret != Z_OK) { inflateEnd(&s); return EINVAL; }
    if (s.data_type & 128) {
      /* Just after an end-of-block code, before the rest of its last byte is skipped: the
       * low bits of data_type count the unused bits of the last byte taken. */
      int u = s.data_type & 7;
      size_t used = (size_t)(s.next_in - buf);
      if (s.data_type & 64) {
        end_unused = u; /* the last block (64) ended: the stream's padding bits */
        end_seen = 1;
      } else if (u) {
        hdr_byte = used - 1; hdr_bit = 8 - u; /* the next block's BFINAL bit */
      } else {
        hdr_byte = used; hdr_bit = 0;
      }
    }
  }
  int unused = end_unused;
  size_t used = (size_t)(s.next_in - buf);
  if (!end_seen) { inflateEnd(&s); return EINVAL; }
  size_t outLen = origLen - s.avail_out;
  inflateEnd(&s);
  if (used != *n || outLen != origLen || memcmp(scratch, orig, origLen) != 0) return EINVAL;
  if (hdr_byte >= *n || !(buf[hdr_byte] & (1u << hdr_bit))) return EINVAL;
  buf[hdr_byte] &= (unsigned char)~(1u << hdr_bit);
  /* The padding bits of the last byte become zero, then the 3-bit stored-block header (all
   * zero: not final, type 00) goes there if it fits, else into a new byte; LEN 0, NLEN ~0. */
  if (unused) buf[*n - 1] &= (unsigned char)((1u << (8 - unused)) - 1);
  size_t k = *n;
  if (unused < 3) buf[k++] = 0;
  buf[k++] = 0; buf[k++] = 0; buf[k++] = 0xff; buf[k++] = 0xff;
  *n = k;
  return 0;
}

static void *df_thread(void *arg) {
  df_state *st = arg;
  unsigned char *in = malloc(st->chunk);
  unsigned char *scratch = malloc(st->chunk);
  struct libdeflate_compressor *c = libdeflate_alloc_compressor(st->level);
  size_t cap = c ? libdeflate_deflate_compress_bound(c, st->chunk) + 8 : 0;
  unsigned char *out = c ? malloc(cap) : NULL;
  if (!in || !scratch || !c || !out) { df_fail(st, ENOMEM, "deflateFile"); goto done; }
  for (;;) {
    pthread_mutex_lock(&st->claim_mu);
    int64_t idx = st->err ? st->nchunks : st->next_claim++;
    pthread_mutex_unlock(&st->claim_mu);
    if (idx >= st->nchunks) break;
    int64_t off = idx * (int64_t)st->chunk;
    size_t len = (size_t)((st->size - off) < (int64_t)st->chunk ? (st->size - off) : (int64_t)st->chunk);
    size_t got = 0;
    while (got < len) {
      ssize_t r = pread(st->src, in + got, len - got, off + (int64_t)got);
      if (r < 0) { if (errno == EINTR) continue; df_fail(st, errno, "read"); goto done; }
      if (r == 0) {
        pthread_mutex_lock(&st->emit_mu);
        if (!st->err) { st->err = -1; st->short_at = off + (int64_t)got; }
        pthread_cond_broadcast(&st->emit_cv);
        pthread_mutex_unlock(&st->emit_mu);
        goto done;
      }
      got += (size_t)r;
    }
    size_t n = libdeflate_deflate_compress(c, in, len, out, cap - 8);
    if (n == 0) { df_fail(st, EIO, "libdeflate_deflate_compress"); goto done; }
    if (idx != st->nchunks - 1) {
      int e = df_unfinal(out, &n, in, len, scratch);
      if (e) { df_fail(st, e, "deflateFile(join)"); goto done; }
    }
    pthread_mutex_lock(&st->emit_mu);
    while (st->next_emit != idx && !st->err) pthread_cond_wait(&st->emit_cv, &st->emit_mu);
    if (st->err) { pthread_mutex_unlock(&st->emit_mu); goto done; }
    pthread_mutex_unlock(&st->emit_mu);
    /* Our turn: no other thread hashes or writes until next_emit moves on. */
    EVP_DigestUpdate(st->md, in, len);
    size_t w = 0;
    while (w < n) {
      ssize_t r = write(st->out, out + w, n - w);
      if (r < 0) { if (errno == EINTR) continue; df_fail(st, errno, "write"); goto done; }
      w += (size_t)r;
    }
    pthread_mutex_lock(&st->emit_mu);
    st->stored += (int64_t)n;
    st->next_emit++;
    pthread_cond_broadcast(&st->emit_cv);
    pthread_mutex_unlock(&st->emit_mu);
  }
done:
  if (c) libdeflate_free_compressor(c);
  free(in);
  free(scratch);
  free(out);
  return NULL;
}

static napi_value js_deflate_file(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  int32_t src, outfd, level, threads, chunk;
  int64_t size;
  if (!get_args(env, info, 7, argv) || !get_int(env, argv[0], &src) || !get_int(env, argv[1], &outfd) ||
      !get_int(env, argv[4], &level) || !get_int(env, argv[5], &threads) || !get_int(env, argv[6], &chunk)) return NULL;
  if (napi_get_value_int64(env, argv[2], &size) != napi_ok || size < 0) {
    napi_throw_type_error(env, NULL, "size must be a non-negative integer");
    return NULL;
  }
  if (level < 0 || level > 12) { napi_throw_range_error(env, NULL, "level must be 0..12"); return NULL; }
  if (chunk < 65536) { napi_throw_range_error(env, NULL, "chunkSize must be at least 64 KiB"); return NULL; }
  void *pre; size_t prelen;
  if (napi_get_buffer_info(env, argv[3], &pre, &prelen) != napi_ok) {
    napi_throw_type_error(env, NULL, "prefix must be a Buffer");
    return NULL;
  }
  df_state st;
  memset(&st, 0, sizeof st);
  st.src = src; st.out = outfd; st.size = size; st.chunk = (size_t)chunk; st.level = level;
  st.nchunks = size == 0 ? 1 : (size + chunk - 1) / chunk;
  st.short_at = -1;
  st.md = EVP_MD_CTX_new();
  if (!st.md || EVP_DigestInit_ex(st.md, EVP_sha256(), NULL) != 1) {
    if (st.md) EVP_MD_CTX_free(st.md);
    return throw_errno(env, ENOMEM, "sha256", NULL);
  }
  EVP_DigestUpdate(st.md, pre, prelen);
  pthread_mutex_init(&st.claim_mu, NULL);
  pthread_mutex_init(&st.emit_mu, NULL);
  pthread_cond_init(&st.emit_cv, NULL);
  int nt = threads < 1 ? 1 : threads > 64 ? 64 : threads;
  if (nt > st.nchunks) nt = (int)st.nchunks;
  pthread_t tids[64];
  int started = 0;
  for (int i = 1; i < nt; i++) {
    if (pthread_create(&tids[started], NULL, df_thread, &st) == 0) started++;
  }
  df_thread(&st); /* this thread works too */
  for (int i = 0; i < started; i++) pthread_join(tids[i], NULL);
  pthread_mutex_destroy(&st.claim_mu);
  pthread_mutex_destroy(&st.emit_mu);
  pthread_cond_destroy(&st.emit_cv);
  unsigned char digest[32];
  unsigned int dlen = 0;
  EVP_DigestFinal_ex(st.md, digest, &dlen);
  EVP_MD_CTX_free(st.md);
  if (st.err > 0) return throw_errno(env, st.err, st.err_call, NULL);
  char hx[65];
  hex32(digest, hx);
  napi_value res, d, stored, sa;
  napi_create_object(env, &res);
  napi_create_string_latin1(env, hx, 64, &d);
  napi_create_int64(env, st.stored, &stored);
  napi_create_int64(env, st.short_at, &sa);
  napi_set_named_property(env, res, "digest", d);
  napi_set_named_property(env, res, "stored", stored);
  napi_set_named_property(env, res, "shortAt", sa);
  return res;
}
/* ---- storeBareFiles: a batch of regular files stored as bare or bare-user content objects ----
 *
 * storeBareFiles(stagingDir, objectsDir, bare: boolean, ownerUid, ownerGid, checkXattrs: boolean,
 *                maxSize, paths: string[]) -> Promise<{ status: number[], digests: string[],
 *                sizes: number[], errors: (Error | null)[] }>
 *
 * The commit of a bare or bare-user repository, one job on the libuv thread pool per batch, so
 * that a file costs the main thread a few property reads instead of a dozen system calls. For
 * each path (opened with O_NOFOLLOW): fstat; the file header of a regular file without xattrs
 * (uid and gid from the file unless ownerUid/ownerGid are >= 0, its mode, no rdev, no target,
 * no xattrs: 18 bytes of GVariant after the 8-byte length prefix); the content checksum, SHA-256
 * of prefix || header || data; then, unless objects/XX/REST.file exists, the object is written
 * to stagingDir/XX/REST.file (O_EXCL): the data, then bare: fchown to uid/gid and fchmod to
 * the mode's permission bits; bare-user: fchmod to (mode & 0775) | 0400 and user.ostreemeta set
 * to (uid, gid, mode, no xattrs) as GVariant (uuua(ayay)); both: atime and mtime 0.
 * status[i]: 0 written (digests[i], sizes[i] set), 1 already present (in objects/ or staged by
 * this transaction), 2 not handled here, so the caller stores it its own way (not a regular
 * file, larger than maxSize, has xattrs while checkXattrs, an xattr list that cannot be read,
 * or the file ended early), 3 failed (errors[i] is an errno Error naming the call and the
 * path; nothing is left under the staged name). */

typedef struct {
  char *path;
  int status, err;
  const char *call;
  unsigned char digest[32];
  int64_t size;
} sbf_item;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  char staging[PATH_BUF], objects[PATH_BUF];
  int bare, check_x;
  int64_t owner_uid, owner_gid, max_size;
  uint32_t n;
  sbf_item *items;
  int err; /* opening the two directories failed */
  const char *call;
} sbf_job;

static void sbf_one(sbf_job *j, sbf_item *it, int sfd, int ofd, unsigned char **buf, size_t *cap, EVP_MD_CTX *md) {
  int fd = open(it->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) { it->status = 3; it->err = errno; it->call = "open"; return; }
  struct stat st;
  if (fstat(fd, &st) < 0) { it->status = 3; it->err = errno; it->call = "fstat"; close(fd); return; }
  if (!S_ISREG(st.st_mode) || st.st_size > j->max_size) { it->status = 2; close(fd); return; }
  if (j->check_x) {
    ssize_t xl = flistxattr(fd, NULL, 0);
    if (xl != 0 && !(xl < 0 && errno == ENOTSUP)) { it->status = 2; close(fd); return; }
  }
  size_t size = (size_t)st.st_size;
  if (size > *cap) {
    unsigned char *nb = realloc(*buf, size);
    if (!nb) { it->status = 3; it->err = ENOMEM; it->call = "read"; close(fd); return; }
    *buf = nb; *cap = size;
  }
  size_t off = 0;
  while (off < size) {
    ssize_t r = pread(fd, *buf + off, size - off, (off_t)off);
    if (r < 0) {
      if (errno == EINTR) continue;
      it->status = 3; it->err = errno; it->call = "read"; close(fd); return;
    }
    if (r == 0) { it->status = 2; close(fd); return; } /* shrank: the caller reports it */
    off += (size_t)r;
  }
  close(fd);
  uint32_t uid = j->owner_uid >= 0 ? (uint32_t)j->owner_uid : (uint32_t)st.st_uid;
  uint32_t gid = j->owner_gid >= 0 ? (uint32_t)j->owner_gid : (uint32_t)st.st_gid;
  uint32_t mode = (uint32_t)st.st_mode;
  /* Length prefix (BE u32 18, 4 zero bytes), then (uuuusa(ayay)): four big-endian u32, an
   * empty string, an empty array, and the string's end offset (17) as the one framing byte. */
  unsigned char hdr[26] = {0};
  put_be32(hdr, 18);
  put_be32(hdr + 8, uid);
  put_be32(hdr + 12, gid);
  put_be32(hdr + 16, mode);
  hdr[25] = 17;
  unsigned int dlen = 0;
  if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(md, hdr, sizeof hdr) != 1 ||
      EVP_DigestUpdate(md, *buf, size) != 1 || EVP_DigestFinal_ex(md, it->digest, &dlen) != 1) {
    it->status = 3; it->err = ENOMEM; it->call = "sha256"; return;
  }
  it->size = (int64_t)size;
  {
    char obj[80], staged[80];
    char h64[65];
    hex32(it->digest, h64);
    snprintf(obj, sizeof obj, "%.2s/%s.file", h64, h64 + 2);
    snprintf(staged, sizeof staged, "%.2s/%s.file", h64, h64 + 2);
    struct stat ost;
    if (fstatat(ofd, obj, &ost, AT_SYMLINK_NOFOLLOW) == 0) { it->status = 1; return; }
    int out = openat(sfd, staged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (out < 0) {
      if (errno == EEXIST) { it->status = 1; return; }
      it->status = 3; it->err = errno; it->call = "open"; return;
    }
    unsigned char meta[12];
    put_be32(meta, uid);
    put_be32(meta + 4, gid);
    put_be32(meta + 8, mode);
    const char *call = j->bare ? write_object_fd(out, *buf, size, 1, uid, gid, mode & 07777, NULL, NULL, 0, 1)
                               : write_object_fd(out, *buf, size, 0, 0, 0, (mode & 0775) | 0400, "user.ostreemeta", meta, sizeof meta, 1);
    int e = errno;
    if (close(out) < 0 && !call) { call = "close"; e = errno; }
    if (call) {
      unlinkat(sfd, staged, 0);
      it->status = 3; it->err = e; it->call = call;
      return;
    }
  }
  it->status = 0;
}

static void sbf_execute(napi_env env, void *data) {
  sbf_job *j = data;
  int sfd = open(j->staging, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (sfd < 0) { j->err = errno; j->call = "open"; return; }
  int ofd = open(j->objects, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (ofd < 0) { j->err = errno; j->call = "open"; close(sfd); return; }
  size_t cap = 256 * 1024;
  unsigned char *buf = malloc(cap);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  for (uint32_t i = 0; i < j->n; i++) {
    sbf_item *it = &j->items[i];
    if (!buf || !md) { it->status = 3; it->err = ENOMEM; it->call = "malloc"; continue; }
    sbf_one(j, it, sfd, ofd, &buf, &cap, md);
  }
  if (md) EVP_MD_CTX_free(md);
  free(buf);
  close(ofd);
  close(sfd);
}

static void free_sbf_job(sbf_job *j) {
  for (uint32_t i = 0; i < j->n; i++) free(j->items[i].path);
  free(j->items);
  free(j);
}

static void sbf_complete(napi_env env, napi_status status, void *data) {
  sbf_job *j = data;
  if (status != napi_ok) {
    napi_reject_deferred(env, j->deferred, errno_error(env, EINTR, "storeBareFiles", NULL));
  } else if (j->err) {
    napi_reject_deferred(env, j->deferred, errno_error(env, j->err, j->call, j->staging));
  } else {
    napi_value res, st, dg, sz, er, nul, empty;
    napi_create_object(env, &res);
    napi_create_array_with_length(env, j->n, &st);
    napi_create_array_with_length(env, j->n, &dg);
    napi_create_array_with_length(env, j->n, &sz);
    napi_create_array_with_length(env, j->n, &er);
    napi_get_null(env, &nul);
    napi_create_string_latin1(env, "", 0, &empty);
    for (uint32_t i = 0; i < j->n; i++) {
      sbf_item *it = &j->items[i];
      napi_value v, d = empty, s, e = nul;
      napi_create_int32(env, it->status, &v);
      if (it->status <= 1) {
        char out[65];
        hex32(it->digest, out);
        napi_create_string_latin1(env, out, 64, &d);
      }
      if (it->status == 3) e = errno_error(env, it->err, it->call, it->path);
      napi_create_int64(env, it->size, &s);
      napi_set_element(env, st, i, v);
      napi_set_element(env, dg, i, d);
      napi_set_element(env, sz, i, s);
      napi_set_element(env, er, i, e);
    }
    napi_set_named_property(env, res, "status", st);
    napi_set_named_property(env, res, "digests", dg);
    napi_set_named_property(env, res, "sizes", sz);
    napi_set_named_property(env, res, "errors", er);
    napi_resolve_deferred(env, j->deferred, res);
  }
  napi_delete_async_work(env, j->work);
  free_sbf_job(j);
}

static napi_value js_store_bare_files(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  if (!get_args(env, info, 8, argv)) return NULL;
  sbf_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, ENOMEM, "storeBareFiles", NULL);
  bool b1 = false, b2 = false;
  uint32_t n = 0;
  if (!get_path(env, argv[0], j->staging, sizeof j->staging) || !get_path(env, argv[1], j->objects, sizeof j->objects)) { free(j); return NULL; }
  if (napi_get_value_bool(env, argv[2], &b1) != napi_ok || napi_get_value_int64(env, argv[3], &j->owner_uid) != napi_ok ||
      napi_get_value_int64(env, argv[4], &j->owner_gid) != napi_ok || napi_get_value_bool(env, argv[5], &b2) != napi_ok ||
      napi_get_value_int64(env, argv[6], &j->max_size) != napi_ok || napi_get_array_length(env, argv[7], &n) != napi_ok) {
    free(j);
    napi_throw_type_error(env, NULL, "storeBareFiles: (string, string, boolean, number, number, boolean, number, string[]) expected");
    return NULL;
  }
  j->bare = b1;
  j->check_x = b2;
  j->items = calloc(n ? n : 1, sizeof *j->items);
  if (!j->items) { free(j); return throw_errno(env, ENOMEM, "storeBareFiles", NULL); }
  j->n = n;
  char path[PATH_BUF];
  for (uint32_t i = 0; i < n; i++) {
    napi_value vp;
    napi_get_element(env, argv[7], i, &vp);
    if (!get_path(env, vp, path, sizeof path)) { free_sbf_job(j); return NULL; }
    if (!(j->items[i].path = strdup(path))) { free_sbf_job(j); return throw_errno(env, ENOMEM, "storeBareFiles", NULL); }
  }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "ingot.storeBareFiles", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, sbf_execute, sbf_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}
/* end of commit: */

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
    {"checkoutTree", NULL, js_checkout_tree, NULL, NULL, NULL, napi_default, NULL},
    {"pullStoreContent", NULL, js_pull_store_content, NULL, NULL, NULL, napi_default, NULL},
    {"pullStoreFilezBatch", NULL, js_pull_store_filez_batch, NULL, NULL, NULL, napi_default, NULL},
    {"deflateFile", NULL, js_deflate_file, NULL, NULL, NULL, napi_default, NULL},
    {"storeBareFiles", NULL, js_store_bare_files, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
