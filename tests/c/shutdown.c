/* Shutdown orders that deadlocked or returned too early before (issue 8): a release that
 * frees its own finder, two finders whose callbacks cancel or free each other at the same
 * time, two threads freeing one finder while its callback runs, a callback that never
 * returns, and an empty value read as bytes. */
#include <stdatomic.h>

#include "common.h"

/* ---- release frees the finder of its own watch ---- */
static turtle_finder *doomed;
static counter freed_in_release = COUNTER_INIT;

static void on_change(void *ud, const turtle_change *c) {
  (void)ud;
  (void)c;
}

static void free_finder_in_release(void *ud) {
  (void)ud;
  OK(turtle_finder_free(doomed)); /* no lock of libturtle is held here */
  counter_add(&freed_in_release);
}

static void test_release_frees_its_finder(void) {
  turtle_watch *w;
  OK(turtle_finder_new(endpoints(), &doomed));
  OK(turtle_watch_service(doomed, "c-doomed", 0, on_change, NULL, NULL, free_finder_in_release, &w));
  OK(turtle_watch_free(w)); /* release runs here, and frees the finder */
  CHECK(counter_get(&freed_in_release) == 1);
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_finder_close(doomed));
}

/* ---- two finders' callbacks act on each other at the same time ---- */
static turtle_finder *pair[2];
static turtle_watch *pair_watch[2];
static pthread_barrier_t both_in;
static counter pair_done = COUNTER_INIT;
static atomic_int pair_mode; /* 0: cancel the other's watch, 1: free the other finder */

static void act_on_other(void *ud, const turtle_change *c) {
  (void)c;
  int other = 1 - (int)(intptr_t)ud;
  pthread_barrier_wait(&both_in); /* both callbacks are running now */
  if (atomic_load(&pair_mode) == 0)
    OK(turtle_watch_cancel(pair_watch[other]));
  else
    OK(turtle_finder_close(pair[other]));
  counter_add(&pair_done);
}

static void test_finders_acting_on_each_other(int mode) {
  atomic_store(&pair_mode, mode);
  int before = counter_get(&pair_done);
  CHECK(pthread_barrier_init(&both_in, NULL, 2) == 0);
  const char *names[2] = {"c-pair0", "c-pair1"};
  for (intptr_t i = 0; i < 2; i++) {
    OK(turtle_finder_new(endpoints(), &pair[i]));
    OK(turtle_watch_service(pair[i], names[i], 0, act_on_other, NULL, (void *)i, NULL, &pair_watch[i]));
  }
  etcdctl_put("/services/c-pair0", "go");
  etcdctl_put("/services/c-pair1", "go");
  counter_wait(&pair_done, before + 2); /* fails after 20 s: a deadlock */
  for (int i = 0; i < 2; i++) {
    OK(turtle_watch_free(pair_watch[i]));
    OK(turtle_finder_free(pair[i]));
  }
  pthread_barrier_destroy(&both_in);
}

/* ---- two threads free one finder while its callback runs ---- */
static turtle_finder *shared_finder;
static counter slow_entered = COUNTER_INIT, slow_let_go = COUNTER_INIT;
static atomic_int slow_running, ran_after_free;
static int *user_data_alive;

static void slow_callback(void *ud, const turtle_change *c) {
  (void)c;
  atomic_store(&slow_running, 1);
  counter_add(&slow_entered);
  counter_wait(&slow_let_go, 1);
  CHECK(*(int *)ud == 1); /* user data is still alive while a callback runs */
  atomic_store(&slow_running, 0);
}

static void *close_it(void *arg) {
  (void)arg;
  turtle_status s = turtle_finder_close(shared_finder);
  CHECK(s == TURTLE_OK);
  if (atomic_load(&slow_running))
    atomic_fetch_add(&ran_after_free, 1);
  return NULL;
}

static void test_concurrent_closes_wait(void) {
  turtle_watch *w;
  user_data_alive = malloc(sizeof *user_data_alive);
  *user_data_alive = 1;
  OK(turtle_finder_new(endpoints(), &shared_finder));
  OK(turtle_watch_service(shared_finder, "c-slow-close", 0, slow_callback, NULL, user_data_alive, NULL, &w));
  etcdctl_put("/services/c-slow-close", "1");
  counter_wait(&slow_entered, 1);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    CHECK(pthread_create(&t[i], NULL, close_it, NULL) == 0);
  counter_add(&slow_let_go);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  CHECK(atomic_load(&ran_after_free) == 0);
  free(user_data_alive); /* safe: no callback runs or will run */
  OK(turtle_watch_free(w));
  OK(turtle_finder_free(shared_finder));
}

/* ---- a callback that never returns ---- */
static counter stuck_entered = COUNTER_INIT, stuck_let_go = COUNTER_INIT;

static void stuck_callback(void *ud, const turtle_change *c) {
  (void)ud;
  (void)c;
  counter_add(&stuck_entered);
  counter_wait(&stuck_let_go, 1);
}

static void test_close_timeout(void) {
  turtle_finder *f;
  turtle_watch *w;
  OK(turtle_finder_new(endpoints(), &f));
  OK(turtle_watch_service(f, "c-stuck", 0, stuck_callback, NULL, NULL, NULL, &w));
  etcdctl_put("/services/c-stuck", "1");
  counter_wait(&stuck_entered, 1);
  EXPECT_STATUS(TURTLE_DEADLINE_EXCEEDED, turtle_finder_close_timeout(f, 200));
  CHECK(strstr(turtle_last_error(), "200 ms") != NULL);
  char *v;
  EXPECT_STATUS(TURTLE_CLOSED, turtle_get_service(f, "c-stuck", 0, &v));
  counter_add(&stuck_let_go);
  OK(turtle_finder_close(f)); /* now it ends */
  OK(turtle_watch_free(w));
  OK(turtle_finder_free(f));
}

/* ---- an empty value as bytes is NULL and 0, found ---- */
static void test_empty_value_bytes(void) {
  turtle_finder *f;
  uint8_t *data = (uint8_t *)"not written";
  size_t len = 99;
  bool found = false;
  OK(turtle_finder_new(endpoints(), &f));
  etcdctl_put("/services/c-empty", "");
  OK(turtle_get_service_bytes(f, "c-empty", 0, &data, &len, &found));
  CHECK(found && data == NULL && len == 0);
  free(data); /* a caller that uses free() is fine */
  turtle_bytes_free(data, len);
  OK(turtle_finder_free(f));
}

int main(void) {
  test_release_frees_its_finder();
  test_finders_acting_on_each_other(0);
  test_finders_acting_on_each_other(1);
  test_concurrent_closes_wait();
  test_close_timeout();
  test_empty_value_bytes();
  printf("shutdown: ok\n");
  return 0;
}
