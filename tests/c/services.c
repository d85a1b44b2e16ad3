/* Registration, instance lists and the cache through libturtle: a registration is listed
 * in etcd's Go format and gone at once when freed; an instances watch sees both; a
 * malformed entry is reported; bad arguments get their status; a cached lookup. */
#include <stdatomic.h>

#include "common.h"

typedef struct {
  counter lists;
  pthread_mutex_t mu;
  size_t last_len;
  char last_addr[64];
  char last_meta[128];
} seen_t;

static void on_list(void *ud, const turtle_instances *list) {
  seen_t *s = ud;
  pthread_mutex_lock(&s->mu);
  s->last_len = list->len;
  if (list->len > 0) {
    snprintf(s->last_addr, sizeof s->last_addr, "%s", list->items[0].addr);
    snprintf(s->last_meta, sizeof s->last_meta, "%s", list->items[0].metadata_json);
  }
  pthread_mutex_unlock(&s->mu);
  counter_add(&s->lists);
}

static size_t last_len(seen_t *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->last_len;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static atomic_int states[4];

static void on_state(void *ud, turtle_registration_state state) {
  (void)ud;
  atomic_fetch_add(&states[state], 1);
}

static counter released = COUNTER_INIT;
static void release(void *ud) {
  (void)ud;
  counter_add(&released);
}

int main(void) {
  turtle_finder *f;
  OK(turtle_finder_new(endpoints(), &f));

  /* A watch of the instances: the empty list first. */
  seen_t seen = {.lists = COUNTER_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .last_len = 99};
  turtle_watch *w;
  OK(turtle_watch_instances(f, "c-web", TURTLE_WATCH_INITIAL, on_list, NULL, &seen, NULL, &w));
  counter_wait(&seen.lists, 1);
  CHECK(last_len(&seen) == 0);

  /* Register: listed, with its metadata, in the Go format. */
  turtle_registration *r;
  OK(turtle_register(f, "c-web", "10.0.0.7:80", 5, "{\"zone\":\"c\"}", NULL, on_state, NULL, NULL, release, &r));
  turtle_registration_state st;
  OK(turtle_registration_get_state(r, &st));
  CHECK(st == TURTLE_REGISTERED);
  char *key;
  OK(turtle_registration_key(r, &key));
  CHECK(strcmp(key, "/services/c-web/10.0.0.7:80") == 0);
  turtle_string_free(key);
  /* Its lease and the TTL etcd granted; either out-parameter may be NULL. */
  int64_t lease = 0;
  uint64_t granted = 0;
  OK(turtle_registration_lease(r, &lease, &granted));
  CHECK(lease > 0 && granted == 5);
  OK(turtle_registration_lease(r, NULL, NULL));
  /* A watch that had no trouble has no last error. */
  turtle_status last = TURTLE_INTERNAL;
  char *message = key; /* not NULL: the call must write it */
  OK(turtle_watch_last_error(w, &last, &message));
  CHECK(last == TURTLE_OK && message == NULL);
  OK(turtle_watch_last_error(w, &last, NULL));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_watch_last_error(w, NULL, NULL));
  counter_wait(&seen.lists, 2);
  CHECK(last_len(&seen) == 1 && strcmp(seen.last_addr, "10.0.0.7:80") == 0);
  CHECK(strcmp(seen.last_meta, "{\"zone\":\"c\"}") == 0);
  turtle_instances *list;
  OK(turtle_get_instances(f, "c-web", 0, &list));
  CHECK(list->len == 1 && list->malformed_len == 0 && list->revision > 0);
  CHECK(strcmp(list->items[0].id, "10.0.0.7:80") == 0);
  turtle_instances_free(list);

  /* Free revokes: the watch sees it go at once (the TTL is 5 s). */
  OK(turtle_registration_free(r));
  counter_wait(&released, 1);
  counter_wait(&seen.lists, 3);
  CHECK(last_len(&seen) == 0);
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_registration_free(r));
  EXPECT_STATUS(TURTLE_INVALID_HANDLE, turtle_registration_lease(r, &lease, &granted));

  /* Entries written by hand: Go's older form read, a malformed one reported. */
  etcdctl_put("/services/c-web/old", "{\"Op\":0,\"Addr\":\"10.0.0.8:80\"}");
  etcdctl_put("/services/c-web/bad", "not json");
  OK(turtle_get_instances(f, "c-web", 0, &list));
  CHECK(list->len == 1 && strcmp(list->items[0].addr, "10.0.0.8:80") == 0);
  CHECK(strcmp(list->items[0].metadata_json, "null") == 0);
  CHECK(list->malformed_len == 1 && strcmp(list->malformed[0].key, "/services/c-web/bad") == 0);
  CHECK(strstr(list->malformed[0].reason, "not JSON") != NULL);
  turtle_instances_free(list);
  turtle_instances_free(NULL);
  OK(turtle_watch_free(w));

  /* Bad arguments: each its status; release still runs exactly once. */
  int before = counter_get(&released);
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_register(f, NULL, "h:1", 5, NULL, NULL, NULL, NULL, NULL, release, &r));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_register(f, "x", "h:1", 5, "{not json", NULL, NULL, NULL, NULL, release, &r));
  CHECK(strstr(turtle_last_error(), "metadata_json") != NULL);
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_register(f, "x", "", 5, NULL, NULL, NULL, NULL, NULL, release, &r));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_register(f, "x", "h:1", 40000000000ULL, NULL, NULL, NULL, NULL, NULL, release, &r));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_register(f, "a/b", "h:1", 5, NULL, NULL, NULL, NULL, NULL, release, &r));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_get_instances(f, "", 0, &list));
  EXPECT_STATUS(TURTLE_INVALID_ARGUMENT, turtle_watch_instances(f, "x", 0, NULL, NULL, NULL, release, &w));
  CHECK(counter_get(&released) == before + 6);

  /* The cache: a name looked up once is then answered from memory. */
  turtle_config *cfg;
  turtle_finder *cached;
  OK(turtle_config_new(&cfg));
  OK(turtle_config_set_cache(cfg, true));
  OK(turtle_finder_new_with_config(cfg, &cached));
  OK(turtle_config_free(cfg));
  etcdctl_put("/services/c-cached", "one");
  char *v;
  OK(turtle_get_service(cached, "c-cached", 0, &v));
  CHECK(strcmp(v, "one") == 0);
  turtle_string_free(v);
  etcdctl_put("/services/c-cached", "two");
  for (int i = 0; i < 2000; i++) { /* the cache follows the watch: no event to await */
    OK(turtle_get_service(cached, "c-cached", 0, &v));
    int done = strcmp(v, "two") == 0;
    turtle_string_free(v);
    if (done)
      break;
    CHECK(i < 1999);
    nanosleep(&(struct timespec){.tv_sec = 0, .tv_nsec = 10000000}, NULL);
  }
  OK(turtle_finder_free(cached));

  /* A finder's close revokes its registrations. */
  OK(turtle_register(f, "c-closing", "10.0.0.9:80", 30, NULL, "me", NULL, NULL, NULL, NULL, &r));
  OK(turtle_finder_close(f));
  EXPECT_STATUS(TURTLE_CLOSED, turtle_get_instances(f, "c-closing", 0, &list));
  OK(turtle_registration_free(r));
  OK(turtle_finder_free(f));
  OK(turtle_finder_new(endpoints(), &f));
  OK(turtle_get_instances(f, "c-closing", 0, &list));
  CHECK(list->len == 0);
  turtle_instances_free(list);
  OK(turtle_finder_free(f));
  CHECK(atomic_load(&states[TURTLE_REGISTRATION_CLOSED]) <= 1);
  printf("services: ok\n");
  return 0;
}
