/* The leak alarm's judgement on synthetic series: it fires on a leak (steady growth with
 * a stuck oldest object), stays quiet on steady state, on short bursts, on a growing cache
 * whose oldest entries are evicted and on growth below the threshold, tells queue growth
 * apart, and fires once. */
#include <string.h>

#include "helpers/testutil.h"
#include "tracking/leakalarm.h"

static const silk_leak_params params = {.window = 60, .min_growth = 100};

/* Feed a series of `secs` seconds sampled every `step` to a fresh history through fn(t)
 * and count the verdicts returned. */
typedef void (*gen_fn)(double t, silk_leak_sample *out);

typedef struct tally {
  int suspect, queue;
  double first_suspect_t;
  silk_leak_finding last;
} tally;

static tally run(gen_fn gen, double secs, double step) {
  silk_leak_series s;
  silk_leak_series_init(&s);
  tally k = {0};
  k.first_suspect_t = -1;
  for (double t = 0; t <= secs + 1e-9; t += step) {
    silk_leak_sample x = {0};
    gen(t, &x);
    x.t = t;
    silk_leak_finding f;
    silk_leak_verdict v = silk_leak_series_add(&s, &x, &params, &f);
    if (v == SILK_LEAK_SUSPECT) {
      if (!k.suspect++) k.first_suspect_t = t;
      k.last = f;
    } else if (v == SILK_LEAK_QUEUE) {
      k.queue++;
      k.last = f;
    }
  }
  return k;
}

/* 15 responses a second kept forever (held by something), the first one never freed */
static void leak(double t, silk_leak_sample *x) {
  x->live = 20 + (int64_t)(15 * t);
  x->queued = 3;
  x->oldest_age = t + 0.5;
  x->responses = (int64_t)(15 * t);
}

static void test_fires_on_steady_growth_with_stuck_oldest(void **state) {
  tally k = run(leak, 120, 5);
  assert_int_equal(k.suspect, 1);
  assert_int_equal(k.queue, 0);
  /* not before a whole window of history */
  assert_true(k.first_suspect_t >= 60 * 0.95);
  assert_true(k.first_suspect_t <= 65);
  assert_true(k.last.to - k.last.from >= 100);
  assert_true(k.last.rate_per_min > 850 && k.last.rate_per_min < 950);
  assert_true(k.last.oldest_age >= 60);
  assert_true(k.last.held_growth == k.last.to - k.last.from);
  assert_true(k.last.responses > 800);
}

/* a healthy crawl: about CONCURRENT_REQUESTS alive, each gone within a second */
static void steady(double t, silk_leak_sample *x) {
  x->live = 14 + ((int64_t)t % 5);
  x->queued = 2;
  x->oldest_age = 0.2 + ((int64_t)(t * 10) % 9) / 10.0;
  x->responses = (int64_t)(20 * t);
}

static void test_quiet_on_steady_state(void **state) {
  tally k = run(steady, 600, 5);
  assert_int_equal(k.suspect, 0);
  assert_int_equal(k.queue, 0);
}

/* too many requests: the queue grows, each queued request (and its meta) counted queued */
static void queue_growth(double t, silk_leak_sample *x) {
  x->live = 16 + (int64_t)(40 * t);
  x->queued = (int64_t)(40 * t);
  x->oldest_age = t + 0.1; /* the first start request's children wait at low priority */
  x->responses = (int64_t)(10 * t);
}

static void test_queue_growth_is_not_a_leak(void **state) {
  tally k = run(queue_growth, 300, 5);
  assert_int_equal(k.suspect, 0);
  assert_int_equal(k.queue, 1); /* reported once, as queue growth */
  assert_true(k.last.queued_growth >= 100);
  assert_true(k.last.held_growth < 100);
}

/* a leak behind a growing queue: the responses held by queued requests' meta are done,
 * not queued, so the response class is still a leak */
static void held_by_queue(double t, silk_leak_sample *x) {
  x->live = 10 + (int64_t)(12 * t);
  x->queued = 0;
  x->oldest_age = t;
}

static void test_done_objects_held_by_the_queue_are_a_leak(void **state) {
  tally k = run(held_by_queue, 90, 5);
  assert_int_equal(k.suspect, 1);
  assert_int_equal(k.queue, 0);
}

static void slow(double t, silk_leak_sample *x) {
  x->live = 10 + (int64_t)t; /* 60 per window, threshold 100 */
  x->oldest_age = t;
}

static void test_quiet_below_min_growth(void **state) {
  tally k = run(slow, 600, 5);
  assert_int_equal(k.suspect, 0);
  assert_int_equal(k.queue, 0);
}

/* a cache that grows to a bound while evicting its oldest entries: age stays bounded */
static void evicting_cache(double t, silk_leak_sample *x) {
  x->live = 10 + (int64_t)(10 * t);
  x->oldest_age = 5 + ((int64_t)t % 7);
}

static void test_quiet_when_oldest_is_replaced(void **state) {
  tally k = run(evicting_cache, 300, 5);
  assert_int_equal(k.suspect, 0);
}

/* one burst that stays: growth in the first half of the window only */
static void burst(double t, silk_leak_sample *x) {
  x->live = t < 10 ? 10 : 1010;
  x->oldest_age = t;
}

static void test_quiet_on_a_single_burst(void **state) {
  tally k = run(burst, 300, 5);
  assert_int_equal(k.suspect, 0);
}

/* a spider that schedules thousands of requests at once, then drains them slowly */
static void queue_burst(double t, silk_leak_sample *x) {
  int64_t q = t < 1 ? 0 : 5000 - (int64_t)(30 * t);
  x->live = 3 + q;
  x->queued = q;
  x->oldest_age = t;
}

static void test_queue_burst_is_queue_growth(void **state) {
  tally k = run(queue_burst, 150, 5);
  assert_int_equal(k.suspect, 0);
  assert_int_equal(k.queue, 1);
}

static void test_fires_once_not_repeatedly(void **state) {
  /* ten windows of the same leak: one warning */
  tally k = run(leak, 600, 5);
  assert_int_equal(k.suspect, 1);
  /* and a fresh history for the same data fires again: the flag is per series */
  k = run(leak, 100, 5);
  assert_int_equal(k.suspect, 1);
}

static void test_assess_needs_a_covered_window(void **state) {
  silk_leak_sample v[5];
  for (int i = 0; i < 5; i++)
    v[i] = (silk_leak_sample){.t = i * 5.0, .live = 1000 * i, .oldest_age = i * 5.0};
  silk_leak_finding f;
  /* 20s of history for a 60s window: nothing to say yet */
  assert_int_equal(silk_leak_assess(v, 5, &params, &f), SILK_LEAK_NONE);
  silk_leak_params shorter = {.window = 20, .min_growth = 100};
  assert_int_equal(silk_leak_assess(v, 5, &shorter, &f), SILK_LEAK_SUSPECT);
  assert_int_equal(f.from, 0);
  assert_int_equal(f.to, 4000);
  assert_true(f.span == 20);
  assert_true(f.rate_per_min == 12000);
  /* too few samples */
  assert_int_equal(silk_leak_assess(v, 2, &shorter, &f), SILK_LEAK_NONE);
}

static void test_history_stays_bounded(void **state) {
  silk_leak_series s;
  silk_leak_series_init(&s);
  /* sampled much faster than the window needs: samples are thinned out, and the history
   * still spans the window, so the leak is still seen */
  int fired = 0;
  for (int i = 0; i < 10000; i++) {
    silk_leak_sample x = {.t = i * 0.01, .live = i, .oldest_age = i * 0.01};
    if (silk_leak_series_add(&s, &x, &params, NULL) == SILK_LEAK_SUSPECT) fired++;
    assert_true(s.n <= SILK_LEAK_MAX_SAMPLES);
  }
  assert_int_equal(fired, 1);
  assert_true(silk_leak_sample_interval(60) == 5);
  assert_true(silk_leak_sample_interval(1.2) > 0.09 && silk_leak_sample_interval(1.2) < 0.11);
  assert_true(silk_leak_sample_interval(0.1) == 0.05);
}

int main(void) {
  test_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fires_on_steady_growth_with_stuck_oldest),
      cmocka_unit_test(test_quiet_on_steady_state),
      cmocka_unit_test(test_queue_growth_is_not_a_leak),
      cmocka_unit_test(test_done_objects_held_by_the_queue_are_a_leak),
      cmocka_unit_test(test_quiet_below_min_growth),
      cmocka_unit_test(test_quiet_when_oldest_is_replaced),
      cmocka_unit_test(test_quiet_on_a_single_burst),
      cmocka_unit_test(test_queue_burst_is_queue_growth),
      cmocka_unit_test(test_fires_once_not_repeatedly),
      cmocka_unit_test(test_assess_needs_a_covered_window),
      cmocka_unit_test(test_history_stays_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
