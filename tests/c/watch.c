/* Watches through libturtle: order, delete, cancel while the callback runs, cancel from
 * inside the callback, release called exactly once. */
#include <stdatomic.h>
#include <unistd.h>

#include "common.h"

static turtle_finder *finder;
static counter releases = COUNTER_INIT;

/* ---- every change, in order ---- */
typedef struct {
  counter seen;
  char values[64][32];
  int64_t revisions[64];
  turtle_change_kind kinds[64];
} log_t;

static void record(void *ud, const turtle_change *c) {
  log_t *log = ud;
  int i = log->seen.count; /* only the dispatcher writes */
  if (i < 64) {
    snprintf(log->values[i], sizeof log->values[i], "%s", c->value ? c->value : "<none>");
    log->revisions[i] = c->revision;
    log->kinds[i] = c->kind;
  }
  counter_add(&log->seen);
}

static void release_log(void *ud) {
  free(ud);
  counter_add(&releases);
}

static void test_order_and_delete(void) {
  log_t *log = calloc(1, sizeof *log);
  log->seen = (counter)COUNTER_INIT;
  turtle_watch *w;
  OK(turtle_watch_service(finder, "c-order", 0, record, NULL, log, release_log, &w));
  char v[16];
  for (int i = 0; i < 20; i++) {
    snprintf(v, sizeof v, "v%d", i);
    etcdctl_put("/services/c-order", v);
  }
  etcdctl_put("/services/c-order", NULL);
  counter_wait(&log->seen, 21);
  for (int i = 0; i < 20; i++) {
    snprintf(v, sizeof v, "v%d", i);
    if (strcmp(log->values[i], v) != 0)
      FAIL("change %d is %s, wanted %s", i, log->values[i], v);
    CHECK(log->kinds[i] == TURTLE_CHANGE_PUT);
    CHECK(i == 0 || log->revisions[i] > log->revisions[i - 1]);
  }
  CHECK(strcmp(log->values[20], "<none>") == 0 && log->kinds[20] == TURTLE_CHANGE_DELETE);
  int before = counter_get(&releases);
  OK(turtle_watch_free(w)); /* cancels: release runs before this returns */
  CHECK(counter_get(&releases) == before + 1);
}

/* ---- cancel while the callback runs ---- */
static counter entered = COUNTER_INIT, let_go = COUNTER_INIT, cancelling = COUNTER_INIT;
static atomic_int callback_returned, cancel_returned, late_calls;

static void slow(void *ud, const turtle_change *c) {
  (void)ud;
  (void)c;
  if (atomic_load(&cancel_returned))
    atomic_fetch_add(&late_calls, 1);
  counter_add(&entered);
  counter_wait(&let_go, 1);
  atomic_store(&callback_returned, 1);
}

static void *cancel_it(void *w) {
  counter_add(&cancelling);
  OK(turtle_watch_cancel(w));
  if (!atomic_load(&callback_returned))
    FAIL("cancel returned while the callback was still running");
  atomic_store(&cancel_returned, 1);
  return NULL;
}

static void count_release(void *ud) {
  (void)ud;
  counter_add(&releases);
}

static void test_cancel_while_running(void) {
  turtle_watch *w;
  int before = counter_get(&releases);
  OK(turtle_watch_service(finder, "c-slow", 0, slow, NULL, NULL, count_release, &w));
  etcdctl_put("/services/c-slow", "1");
  etcdctl_put("/services/c-slow", "2");
  counter_wait(&entered, 1);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, cancel_it, w) == 0);
  counter_wait(&cancelling, 1); /* let the callback go only as cancel begins */
  counter_add(&let_go);
  pthread_join(t, NULL);
  CHECK(counter_get(&releases) == before + 1); /* exactly once, at cancel */
  for (int i = 0; i < 5; i++)
    etcdctl_put("/services/c-slow", "later");
  /* A witness watch sees the later writes: by then the cancelled one would have too. */
  log_t *witness = calloc(1, sizeof *witness);
  witness->seen = (counter)COUNTER_INIT;
  turtle_watch *ww;
  OK(turtle_watch_service(finder, "c-slow", TURTLE_WATCH_INITIAL, record, NULL, witness, release_log, &ww));
  etcdctl_put("/services/c-slow", "last");
  counter_wait(&witness->seen, 2);
  CHECK(atomic_load(&late_calls) == 0);
  CHECK(counter_get(&entered) <= 2); /* "2" may have begun before cancel did */
  OK(turtle_watch_cancel(w)); /* idempotent */
  OK(turtle_watch_free(w));
  OK(turtle_watch_free(ww));
  CHECK(counter_get(&releases) == before + 2);
}

/* ---- cancel from inside the callback ---- */
typedef struct {
  turtle_watch *self;
  atomic_int calls;
  counter handle_set;
} self_t;

static void cancel_self(void *ud, const turtle_change *c) {
  (void)c;
  self_t *s = ud;
  counter_wait(&s->handle_set, 1);
  if (atomic_fetch_add(&s->calls, 1) + 1 == 3)
    OK(turtle_watch_cancel(s->self)); /* must not block */
}

static void test_cancel_from_inside(void) {
  self_t s = {.self = NULL, .calls = 0, .handle_set = COUNTER_INIT};
  int before = counter_get(&releases);
  OK(turtle_watch_service(finder, "c-self", 0, cancel_self, NULL, &s, count_release, &s.self));
  counter_add(&s.handle_set);
  for (int i = 0; i < 10; i++)
    etcdctl_put("/services/c-self", "x");
  log_t *witness = calloc(1, sizeof *witness);
  witness->seen = (counter)COUNTER_INIT;
  turtle_watch *ww;
  OK(turtle_watch_service(finder, "c-self", 0, record, NULL, witness, release_log, &ww));
  etcdctl_put("/services/c-self", "end");
  counter_wait(&witness->seen, 1);
  CHECK(atomic_load(&s.calls) == 3);
  CHECK(counter_get(&releases) == before + 1);
  OK(turtle_watch_free(s.self));
  OK(turtle_watch_free(ww));
}

int main(void) {
  OK(turtle_finder_new(endpoints(), &finder));
  test_order_and_delete();
  test_cancel_while_running();
  test_cancel_from_inside();
  OK(turtle_finder_free(finder));
  printf("watch: ok\n");
  return 0;
}
