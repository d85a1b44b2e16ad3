/* Random call sequences through libturtle, from three threads at once, under ASan/UBSan:
 * live, NULL, freed, doubly freed and wrong-kind handles; NULL out-parameters; names that
 * are not UTF-8, huge, empty or hold '/'; frees from other threads and from inside
 * callbacks; concurrent closes; a release that frees a finder. Every call must return a
 * documented status (never TURTLE_INTERNAL), say why when it fails, and nothing may hang
 * (a watchdog ends the run) or touch freed memory (the sanitizers).
 * TURTLE_FUZZ_SEED repeats a run; TURTLE_FUZZ_CALLS sets the calls per thread. */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "common.h"

#define SLOTS 6
#define THREADS 3

static _Atomic(turtle_finder *) finders[SLOTS];
static _Atomic(turtle_watch *) watches[SLOTS * 2];
static _Atomic(turtle_config *) configs[SLOTS];
static atomic_long calls, succeeded, callbacks, releases;
static char *huge_name;

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A status from a call that may fail in any documented way, but never internally. */
static void checked(const char *what, turtle_status s) {
  atomic_fetch_add(&calls, 1);
  if (s == TURTLE_OK)
    atomic_fetch_add(&succeeded, 1);
  if (s == TURTLE_INTERNAL || (uint32_t)s > TURTLE_INTERRUPTED)
    FAIL("%s -> %s: %s", what, turtle_status_name(s), turtle_last_error());
  if (s != TURTLE_OK && turtle_last_error()[0] == '\0')
    FAIL("%s -> %s without a message", what, turtle_status_name(s));
}

static const char *any_name(uint64_t *r) {
  static const char *names[] = {"f0", "f1", "f2", "", "a/b", "bad\xff", "x\xc3", NULL};
  uint64_t k = next_random(r) % 10;
  if (k == 9)
    return huge_name;
  return k < 8 ? names[k] : "f0";
}

/* A finder handle: live, stale, NULL, or another kind's. */
static turtle_finder *any_finder(uint64_t *r) {
  switch (next_random(r) % 12) {
  case 0:
    return NULL;
  case 1:
    return (turtle_finder *)atomic_load(&watches[next_random(r) % (SLOTS * 2)]);
  default:
    return atomic_load(&finders[next_random(r) % SLOTS]);
  }
}

static turtle_watch *any_watch(uint64_t *r) {
  if (next_random(r) % 8 == 0)
    return (turtle_watch *)atomic_load(&configs[next_random(r) % SLOTS]);
  return atomic_load(&watches[next_random(r) % (SLOTS * 2)]);
}

typedef struct {
  uint64_t seed;
  int alive; /* checked by the callbacks: ASan reports a use after release */
} cb_data;

static void do_call(uint64_t *r, int depth);

static void on_change(void *ud, const turtle_change *c) {
  cb_data *d = ud;
  CHECK(d->alive == 1);
  CHECK(c->service != NULL && (c->value != NULL || c->value_len == 0));
  atomic_fetch_add(&callbacks, 1);
  if (next_random(&d->seed) % 3 == 0)
    do_call(&d->seed, 1); /* any call from inside a callback */
}

static void on_error(void *ud, turtle_status s, const char *message) {
  cb_data *d = ud;
  CHECK(d->alive == 1 && s != TURTLE_OK && message != NULL);
}

static void release(void *ud) {
  cb_data *d = ud;
  CHECK(d->alive == 1);
  d->alive = 0;
  if (next_random(&d->seed) % 4 == 0) /* a release that frees a finder */
    checked("free in release", turtle_finder_free(any_finder(&d->seed)));
  free(d);
  atomic_fetch_add(&releases, 1);
}

static void new_finder(uint64_t *r) {
  turtle_finder *f = NULL;
  int bad = next_random(r) % 5 == 0;
  turtle_status s = turtle_finder_new(bad ? "no port,\xff" : endpoints(), next_random(r) % 9 ? &f : NULL);
  checked("finder_new", s);
  if (s == TURTLE_OK)
    checked("free replaced finder", turtle_finder_free(atomic_exchange(&finders[next_random(r) % SLOTS], f)));
}

static void new_watch(uint64_t *r) {
  cb_data *d = malloc(sizeof *d);
  d->seed = next_random(r) | 1;
  d->alive = 1;
  turtle_watch *w = NULL;
  uint32_t flags = next_random(r) % 4 == 0 ? 0x80 : TURTLE_WATCH_INITIAL;
  turtle_status s = turtle_watch_service(any_finder(r), any_name(r), flags, next_random(r) % 9 ? on_change : NULL,
                                         on_error, d, release, next_random(r) % 9 ? &w : NULL);
  checked("watch_service", s); /* release ran already when it failed */
  if (s == TURTLE_OK)
    checked("free replaced watch", turtle_watch_free(atomic_exchange(&watches[next_random(r) % (SLOTS * 2)], w)));
}

static void lookup(uint64_t *r) {
  char *v = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  bool found = false;
  if (next_random(r) % 2) {
    turtle_status s = turtle_get_service(any_finder(r), any_name(r), 300, next_random(r) % 9 ? &v : NULL);
    checked("get_service", s);
    turtle_string_free(s == TURTLE_OK ? v : NULL);
  } else {
    turtle_status s = turtle_get_service_bytes(any_finder(r), any_name(r), 300, &data, next_random(r) % 9 ? &len : NULL, &found);
    checked("get_service_bytes", s);
    if (s == TURTLE_OK)
      turtle_bytes_free(data, len);
  }
}

static void config_calls(uint64_t *r) {
  turtle_config *c = NULL;
  checked("config_new", turtle_config_new(&c));
  checked("set_deadline", turtle_config_set_deadline_ms(c, next_random(r) % 3 ? 500 : 0));
  checked("set_prefix", turtle_config_set_prefix(c, next_random(r) % 3 ? "/services/" : "nope"));
  checked("set_endpoints", turtle_config_set_endpoints(next_random(r) % 5 ? c : NULL, endpoints()));
  turtle_finder *f = NULL;
  turtle_status s = turtle_finder_new_with_config(atomic_load(&configs[next_random(r) % SLOTS]), &f);
  checked("finder_new_with_config", s);
  if (s == TURTLE_OK)
    checked("free config's finder", turtle_finder_free(f));
  checked("free replaced config", turtle_config_free(atomic_exchange(&configs[next_random(r) % SLOTS], c)));
}

static void do_call(uint64_t *r, int depth) {
  /* Inside callbacks only calls that make nothing new; outside, makers weigh more. */
  switch (next_random(r) % (depth ? 8 : 24)) {
  case 0:
    lookup(r);
    break;
  case 1:
    checked("watch_cancel", turtle_watch_cancel(any_watch(r)));
    break;
  case 2:
    checked("watch_free", turtle_watch_free(atomic_exchange(&watches[next_random(r) % (SLOTS * 2)], NULL)));
    break;
  case 3:
    checked("watch_free stale", turtle_watch_free(any_watch(r)));
    break;
  case 4:
    checked("finder_close", turtle_finder_close(any_finder(r)));
    break;
  case 5:
    checked("finder_free stale", turtle_finder_free(any_finder(r)));
    break;
  case 6:
    checked("close_timeout", turtle_finder_close_timeout(any_finder(r), 50));
    break;
  case 7:
    checked("finder_free", turtle_finder_free(atomic_exchange(&finders[next_random(r) % SLOTS], NULL)));
    break;
  case 8:
  case 9:
    new_finder(r);
    break;
  case 10:
  case 11:
  case 12:
  case 13:
    new_watch(r);
    break;
  case 14:
  case 15:
  case 16:
  case 17:
  case 18:
    new_watch(r);
    break;
  case 19:
  case 20:
    new_finder(r);
    break;
  case 21:
  case 22:
    lookup(r);
    break;
  default:
    config_calls(r);
  }
}

static long calls_per_thread = 3000;

static void *run(void *arg) {
  uint64_t r = (uint64_t)(uintptr_t)arg;
  for (long i = 0; i < calls_per_thread; i++)
    do_call(&r, 0);
  return NULL;
}

static void watchdog(int sig) {
  (void)sig;
  static const char msg[] = "fuzz: hung (watchdog)\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(3);
}

int main(void) {
  const char *seed_text = getenv("TURTLE_FUZZ_SEED");
  uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : (uint64_t)time(NULL);
  if (getenv("TURTLE_FUZZ_CALLS"))
    calls_per_thread = atol(getenv("TURTLE_FUZZ_CALLS"));
  printf("fuzz: seed %llu, %ld calls per thread\n", (unsigned long long)seed, calls_per_thread);
  signal(SIGALRM, watchdog);
  alarm(240);
  huge_name = malloc((2 << 20) + 1);
  memset(huge_name, 'n', 2 << 20);
  huge_name[2 << 20] = '\0';
  for (int i = 0; i < SLOTS; i++) {
    turtle_finder *f;
    OK(turtle_finder_new(endpoints(), &f));
    atomic_store(&finders[i], f);
  }
  etcdctl_put("/services/f0", "zero");
  etcdctl_put("/services/f1", "one");
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    CHECK(pthread_create(&t[i], NULL, run, (void *)(uintptr_t)(seed * 2654435761u + (uint64_t)i + 1)) == 0);
  for (int round = 0; round < 10; round++)
    etcdctl_put(round % 2 ? "/services/f0" : "/services/f1", round % 3 ? "changed" : "again");
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < SLOTS * 2; i++)
    checked("final watch_free", turtle_watch_free(atomic_exchange(&watches[i], NULL)));
  for (int i = 0; i < SLOTS; i++) {
    checked("final finder_free", turtle_finder_free(atomic_exchange(&finders[i], NULL)));
    checked("final config_free", turtle_config_free(atomic_exchange(&configs[i], NULL)));
  }
  free(huge_name);
  printf("fuzz: %ld calls (%ld succeeded), %ld callbacks, %ld releases\n", atomic_load(&calls),
         atomic_load(&succeeded), atomic_load(&callbacks), atomic_load(&releases));
  printf("fuzz: ok\n");
  return 0;
}
