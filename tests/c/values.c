/* Values of any bytes and size through libturtle, by lookup and by watch: 1.4 MB, every
 * byte value, NUL bytes inside. Text calls refuse what is not text (never truncate). */
#include "common.h"

typedef struct {
  counter seen;
  uint8_t *copy;
  size_t len;
} got_t;

static void keep(void *ud, const turtle_change *c) {
  got_t *g = ud;
  free(g->copy);
  g->copy = malloc(c->value_len + 1);
  memcpy(g->copy, c->value, c->value_len);
  CHECK(c->value[c->value_len] == '\0'); /* terminated, for callers that treat it as text */
  g->len = c->value_len;
  counter_add(&g->seen);
}

static void check_value(turtle_finder *f, const char *name, const uint8_t *value, size_t len, int is_text) {
  char key[64];
  snprintf(key, sizeof key, "/services/%s", name);
  got_t g = {.seen = COUNTER_INIT, .copy = NULL, .len = 0};
  turtle_watch *w;
  OK(turtle_watch_service(f, name, 0, keep, NULL, &g, NULL, &w));
  etcdctl_put_bytes(key, value, len);
  counter_wait(&g.seen, 1);
  OK(turtle_watch_free(w));
  CHECK(g.len == len && memcmp(g.copy, value, len) == 0);
  free(g.copy);
  uint8_t *data;
  size_t got_len;
  bool found;
  OK(turtle_get_service_bytes(f, name, 0, &data, &got_len, &found));
  CHECK(found && got_len == len && memcmp(data, value, len) == 0);
  turtle_bytes_free(data, got_len);
  char *text = NULL;
  if (is_text) {
    OK(turtle_get_service(f, name, 0, &text));
    CHECK(strlen(text) == len && memcmp(text, value, len) == 0);
    turtle_string_free(text);
  } else {
    EXPECT_STATUS(TURTLE_INVALID_VALUE, turtle_get_service(f, name, 0, &text));
    CHECK(text == NULL);
  }
}

int main(void) {
  turtle_finder *f;
  OK(turtle_finder_new(endpoints(), &f));
  size_t big = 1400000;
  uint8_t *large = malloc(big);
  for (size_t i = 0; i < big; i++)
    large[i] = (uint8_t)('a' + i % 26);
  check_value(f, "c-large", large, big, 1);
  uint8_t every[256];
  for (int i = 0; i < 256; i++)
    every[i] = (uint8_t)i;
  check_value(f, "c-binary", every, sizeof every, 0);
  static const uint8_t nul[] = {'a', 0, 'b', 0, 0, 'c'};
  check_value(f, "c-nul", nul, sizeof nul, 0);
  free(large);
  OK(turtle_finder_free(f));
  printf("values: ok\n");
  return 0;
}
