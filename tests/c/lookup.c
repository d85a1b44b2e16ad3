/* Lookups through libturtle: present, absent, unicode, bytes, two threads at once. */
#include "common.h"

static turtle_finder *finder;

static void *lookups(void *arg) {
  (void)arg;
  for (int i = 0; i < 200; i++) {
    char *v = NULL;
    OK(turtle_get_service(finder, "cdd", 0, &v));
    CHECK(v != NULL && strcmp(v, "[ \"turtle1\", \"turtle2\" ]") == 0);
    turtle_string_free(v);
  }
  return NULL;
}

int main(void) {
  OK(turtle_finder_new(endpoints(), &finder));

  char *v = (char *)"untouched";
  OK(turtle_get_service(finder, "c-absent", 0, &v));
  CHECK(v == NULL); /* absent is not an error */

  etcdctl_put("/services/cdd", "[ \"turtle1\", \"turtle2\" ]");
  OK(turtle_get_service(finder, "cdd", 0, &v));
  CHECK(strcmp(v, "[ \"turtle1\", \"turtle2\" ]") == 0);
  turtle_string_free(v);

  etcdctl_put("/services/c-unicode", "v\xc3\xa4rde \xe2\x98\x83");
  OK(turtle_get_service(finder, "c-unicode", 2000, &v));
  CHECK(strcmp(v, "v\xc3\xa4rde \xe2\x98\x83") == 0);
  turtle_string_free(v);

  /* Not UTF-8: an error for the string API, the exact bytes for the bytes API. */
  etcdctl_put("/services/c-binary", "a\xff\xfe" "b");
  v = NULL;
  EXPECT_STATUS(TURTLE_INVALID_VALUE, turtle_get_service(finder, "c-binary", 0, &v));
  CHECK(v == NULL); /* outputs are written only on success */
  uint8_t *data;
  size_t len;
  bool found;
  OK(turtle_get_service_bytes(finder, "c-binary", 0, &data, &len, &found));
  CHECK(found && len == 4 && memcmp(data, "a\xff\xfe" "b", 4) == 0);
  turtle_bytes_free(data, len);
  OK(turtle_get_service_bytes(finder, "c-absent", 0, &data, &len, &found));
  CHECK(!found && data == NULL && len == 0);

  /* Two threads using one finder at once. */
  pthread_t a, b;
  CHECK(pthread_create(&a, NULL, lookups, NULL) == 0);
  CHECK(pthread_create(&b, NULL, lookups, NULL) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);

  /* A config handle. */
  turtle_config *cfg;
  turtle_finder *other;
  OK(turtle_config_new(&cfg));
  OK(turtle_config_set_endpoints(cfg, endpoints()));
  OK(turtle_config_set_prefix(cfg, "/services/"));
  OK(turtle_config_set_deadline_ms(cfg, 3000));
  OK(turtle_config_set_consistency(cfg, TURTLE_SERIALIZABLE));
  /* Every other setting, at a value that still works here. */
  OK(turtle_config_set_max_queued_changes(cfg, 16));
  OK(turtle_config_set_hedge_after_ms(cfg, 200));
  OK(turtle_config_set_hedge_floor_ms(cfg, 20));
  OK(turtle_config_set_connect_timeout_ms(cfg, 800));
  OK(turtle_config_set_keepalive_ms(cfg, 20000, 5000));
  OK(turtle_config_set_watch_check_ms(cfg, 250, 900));
  OK(turtle_config_set_leader_check_ms(cfg, 1000));
  OK(turtle_config_set_watch_retry_delay_ms(cfg, 500));
  OK(turtle_config_set_retry_backoff_ms(cfg, 10, 400));
  OK(turtle_config_set_probe_backoff_ms(cfg, 50, 1000));
  OK(turtle_finder_new_with_config(cfg, &other));
  OK(turtle_config_free(cfg));
  OK(turtle_get_service(other, "cdd", 0, &v));
  CHECK(v != NULL);
  turtle_string_free(v);
  OK(turtle_finder_free(other));

  CHECK(strcmp(turtle_version(), TURTLE_VERSION) == 0);
  OK(turtle_finder_free(finder));
  printf("lookup: ok\n");
  return 0;
}
