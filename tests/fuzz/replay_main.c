/* A main for the fuzz targets without libFuzzer: each argument, a file or a directory of
 * files, is read and given to LLVMFuzzerTestOneInput once. Linked with any fuzz_*.c it
 * turns that target's corpus (seeds and the crash-* regressions) into a plain test that
 * builds with gcc and runs under the sanitizers or valgrind like any other:
 *
 *   cc -D_GNU_SOURCE -I. -Icore tests/fuzz/replay_main.c tests/fuzz/fuzz_url.c \
 *      build/libsilk.a $(pkg-config --libs libcurl libxml-2.0 libuv jansson libtelnet \
 *      libedit libxxhash zlib) -lpthread -ldl -lm -o replay_url
 *   ./replay_url tests/fuzz/corpus_url
 *
 * The targets signal a finding by crashing or aborting, so reaching the end is success;
 * it prints how many inputs ran. A path that cannot be read is an error (exit 2). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t *p = realloc(buf, cap *= 2);
      if (!p) free(buf);
      buf = p;
    }
  }
  int err = ferror(f);
  fclose(f);
  if (!buf || err) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return -1;
  }
  /* a copy of exactly len bytes, so ASan sees a read past the input as the overflow it is */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) abort();
  memcpy(exact, buf, len);
  free(buf);
  if (getenv("REPLAY_VERBOSE")) fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order so that runs are reproducible. */
static int run_dir(const char *dir, size_t *count) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      char **p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
      if (!p) abort();
      names = p;
    }
    if (!(names[n++] = strdup(e->d_name))) abort();
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (!rc && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      rc = run_file(path);
      if (!rc) ++*count;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  size_t count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 2;
    }
    int rc = S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) : run_file(argv[i]);
    if (rc) return 2;
    if (!S_ISDIR(st.st_mode)) count++;
  }
  printf("%s: %zu inputs replayed, no finding\n", argc > 0 ? argv[0] : "replay", count);
  return 0;
}
