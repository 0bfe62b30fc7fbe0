/* libFuzzer target for settings parsing: `-s KEY=VALUE` lines against every known setting,
 * of every type, and against arbitrary keys. The input is split at newlines; each line is
 *
 *   @ I P VALUE     VALUE for the known setting number I (a byte, modulo their count) at
 *                   priority P (a byte, modulo 4: default, project, spider, command line)
 *   ! T NAME=DFLT   define a new setting of type T (a byte, modulo 6) with that default
 *                   (no '=': no default); the registry is reset after every input
 *   anything else   given as is to silk_settings_set_kv at command-line priority
 *
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DSILK_FUZZ=ON -DSILK_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_settings
 *   ./build-fuzz/fuzz_settings tests/fuzz/corpus_settings
 *
 * Besides crashes and sanitizer reports it checks that a failure always leaves a message,
 * that silk_settings_set and the -s path agree, that a value that was accepted has the
 * setting's type, that every value read back can be set again with silk_settings_set_value,
 * and that no tracked object or silk allocation outlives the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/ref.h"
#include "core/settings.h"
#include "tracking/alloc.h"

static const int prios[] = {SILK_PRIO_DEFAULT, SILK_PRIO_PROJECT, SILK_PRIO_SPIDER,
                            SILK_PRIO_CMDLINE};

/* The known setting number i modulo their count. */
static const silk_setting_def *nth_def(unsigned i) {
  size_t n = 0;
  for (const silk_setting_def *d = silk_settings_def_next(NULL); d; d = silk_settings_def_next(d))
    n++;
  if (!n) abort();
  i %= (unsigned)n;
  const silk_setting_def *d = silk_settings_def_next(NULL);
  while (i--)
    d = silk_settings_def_next(d);
  return d;
}

/* Does v hold a value of the setting's type (None allowed where the type allows it)? */
static bool fits(const silk_setting_def *def, const silk_value *v) {
  switch (def->type) {
  case SILK_SET_BOOL: return v->type == SILK_T_BOOL;
  case SILK_SET_INT: return v->type == SILK_T_INT;
  case SILK_SET_FLOAT: return v->type == SILK_T_FLOAT;
  case SILK_SET_STR: return v->type == SILK_T_STR || v->type == SILK_T_NONE;
  case SILK_SET_LIST:
    return v->type == SILK_T_NONE ||
           (v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_list_class));
  case SILK_SET_DICT:
    return v->type == SILK_T_NONE ||
           (v->type == SILK_T_REF && silk_ref_isinstance(v->as.ref, &silk_dict_class));
  }
  return false;
}

static void check_rc(int rc) {
  if (rc && !*silk_lasterror()) abort(); /* every refusal says why */
  if (rc && rc != SILK_ESETTING && rc != SILK_EINVAL && rc != SILK_ENOMEM) abort();
}

/* Every setting read back through its typed getter, then set again from its value. The
 * reads go through a copy: s predates the settings defined since it was made, and a copy
 * has them all (at their defaults unless set). */
static void read_back(const silk_settings *s) {
  silk_settings *copy = silk_settings_copy(s);
  if (!copy) abort();
  for (const silk_setting_def *d = silk_settings_def_next(NULL); d; d = silk_settings_def_next(d)) {
    const silk_value *v = silk_settings_get(copy, d->name);
    if (!v || !fits(d, v)) abort();
    switch (d->type) {
    case SILK_SET_BOOL: silk_settings_get_bool(copy, d->name); break;
    case SILK_SET_INT: silk_settings_get_int(copy, d->name); break;
    case SILK_SET_FLOAT: silk_settings_get_float(copy, d->name); break;
    case SILK_SET_STR: silk_settings_get_str(copy, d->name); break;
    case SILK_SET_LIST: silk_settings_get_list(copy, d->name); break;
    case SILK_SET_DICT: silk_settings_get_dict(copy, d->name); break;
    }
    /* set back in place (v is copied before the old value goes); a str holding a NUL is
     * cut there when set again as text: still a str */
    if (silk_settings_set_value(copy, d->name, v, SILK_PRIO_CMDLINE)) abort();
    if (!fits(d, silk_settings_get(copy, d->name))) abort();
  }
  silk_ref_decref((silk_ref *)copy);
}

static void known_line(silk_settings *s, const char *line, size_t len) {
  if (len < 3) return;
  const silk_setting_def *d = nth_def((unsigned char)line[1]);
  int prio = prios[(unsigned char)line[2] % 4];
  const char *value = line + 3;
  int before = silk_settings_priority(s, d->name);
  int rc = silk_settings_set(s, d->name, value, prio);
  check_rc(rc);
  if (!rc && prio >= before && silk_settings_priority(s, d->name) != prio) abort();
  /* s has no slot for a setting defined after it was made until one is set there */
  const silk_value *cur = silk_settings_get(s, d->name);
  if (cur ? !fits(d, cur) : !rc) abort();
  /* the same through the -s path */
  size_t nlen = strlen(d->name), vlen = strlen(value);
  char *kv = silk_malloc(nlen + vlen + 2);
  if (!kv) abort();
  memcpy(kv, d->name, nlen);
  kv[nlen] = '=';
  memcpy(kv + nlen + 1, value, vlen + 1);
  int rc2 = silk_settings_set_kv(s, kv, prio);
  check_rc(rc2);
  if (!rc != !rc2) abort(); /* both paths agree on what is valid */
  silk_free(kv);
}

static bool define_line(const char *line, size_t len) {
  if (len < 2) return false;
  silk_setting_def def = {.type = (silk_setting_type)((unsigned char)line[1] % 6), .help = "fuzz"};
  char *copy = silk_strdup(line + 2);
  if (!copy) abort();
  char *eq = strchr(copy, '=');
  if (eq) *eq = '\0';
  def.name = copy;
  def.dflt = eq ? eq + 1 : NULL;
  int rc = silk_settings_define(&def);
  check_rc(rc);
  if (!rc) {
    const silk_setting_def *d = silk_settings_def_find(copy);
    if (!d || d->type != def.type) abort();
  }
  silk_free(copy);
  return true;
}

/* Live blocks and bytes of silk's own allocations: with the tracked objects, what must
 * come back to where it was after every input (libxml2 and libcurl keep caches). */
static int64_t silk_blocks(int64_t *bytes) {
  silk_mem_stats st;
  silk_mem_get_stats(&st);
  *bytes = st.lib[SILK_LIB_SILK].bytes;
  return st.lib[SILK_LIB_SILK].blocks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool ready;
  if (!ready) {
    silk_mem_install_hooks();
    silk_log_set_level(SILK_LOG_CRITICAL);
    silk_settings_def_next(NULL); /* the registry, built on first use, is not a leak */
    ready = true;
  }
  size_t baseline = silk_ref_live_total();
  int64_t bytes0, blocks0 = silk_blocks(&bytes0);
  silk_settings *s = silk_settings_new();
  if (!s) abort();
  bool defined = false;
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    char *line = silk_strndup(p, len); /* a NUL ends the line early, as in argv */
    if (!line) abort();
    len = strlen(line);
    if (line[0] == '@')
      known_line(s, line, len);
    else if (line[0] == '!')
      defined |= define_line(line, len);
    else
      check_rc(silk_settings_set_kv(s, line, SILK_PRIO_CMDLINE));
    silk_free(line);
    p = nl ? nl + 1 : end;
  }
  read_back(s);
  silk_ref_decref((silk_ref *)s);
  /* forget the settings defined, and build the registry again as it was before */
  if (defined && (silk_settings_registry_reset() || !silk_settings_def_next(NULL))) abort();
  if (silk_ref_live_total() != baseline) abort(); /* a tracked object leaked */
  int64_t bytes1;
  if (silk_blocks(&bytes1) != blocks0 || bytes1 != bytes0) abort(); /* silk memory leaked */
  return 0;
}
