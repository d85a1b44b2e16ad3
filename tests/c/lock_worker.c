/* lock_worker NAME WORKER COUNT: the C face's part in the mixed-face lock contention test
 * (tests/python/test_contention.py); the same rounds as tests/src/bin/turtle-lock-worker.rs:
 * lock NAME, skip a round whose log key an earlier lost answer made, read the counter,
 * write counter + 1 and the log key in one transaction fenced on the lock and the
 * counter's mod revision, unlock. Every step may fail while members are killed. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turtle.h>

/* One round: 1 made, 0 not made, -1 failed. */
static int round_of(turtle_finder *f, const char *name, const char *worker, int seq) {
  char counter[256], log[256];
  snprintf(counter, sizeof counter, "/%s/counter", name);
  snprintf(log, sizeof log, "/%s/log/%s/%d", name, worker, seq);
  turtle_lock_guard *g;
  if (turtle_lock(f, name, 3, 30000, NULL, NULL, NULL, &g) != TURTLE_OK) return -1;
  int made = -1;
  turtle_entry *e = NULL;
  turtle_txn *t = NULL;
  turtle_txn_result *r = NULL;
  if (turtle_get(f, log, &e) != TURTLE_OK) goto out;
  if (e != NULL) {
    made = 1;
    goto out;
  }
  if (turtle_get(f, counter, &e) != TURTLE_OK) goto out;
  long value = 0;
  int64_t rev = 0;
  if (e != NULL) {
    char buf[32] = {0};
    memcpy(buf, e->value, e->value_len < sizeof buf - 1 ? e->value_len : sizeof buf - 1);
    value = strtol(buf, NULL, 10);
    rev = e->mod_revision;
  }
  int64_t token = 0;
  turtle_lock_guard_info(g, &token, NULL, NULL);
  char next[32], entry[64];
  snprintf(next, sizeof next, "%ld", value + 1);
  snprintf(entry, sizeof entry, "%ld %" PRId64, value + 1, token);
  if (turtle_txn_new(&t) != TURTLE_OK || turtle_txn_when_owner(t, g) != TURTLE_OK ||
      turtle_txn_when_number(t, counter, TURTLE_FIELD_MOD_REVISION, "==", rev) != TURTLE_OK ||
      turtle_txn_put(t, TURTLE_THEN, counter, (const uint8_t *)next, strlen(next)) != TURTLE_OK ||
      turtle_txn_put(t, TURTLE_THEN, log, (const uint8_t *)entry, strlen(entry)) != TURTLE_OK) {
    fprintf(stderr, "lock_worker: building the transaction: %s\n", turtle_last_error());
    exit(3);
  }
  /* A failure may be an answer lost after it applied: the next round's check says. */
  if (turtle_txn_commit(f, t, &r) == TURTLE_OK) made = r->succeeded ? 1 : 0;
out:
  if (made < 0) fprintf(stderr, "lock_worker %s: round %d: %s\n", worker, seq, turtle_last_error());
  turtle_txn_result_free(r);
  turtle_txn_free(t);
  turtle_entry_free(e);
  turtle_lock_guard_free(g);
  return made;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: lock_worker NAME WORKER COUNT\n");
    return 2;
  }
  int count = atoi(argv[3]), seq = 0, failures = 0;
  turtle_finder *f;
  if (turtle_finder_new(getenv("TURTLE_ENDPOINTS"), &f) != TURTLE_OK) {
    fprintf(stderr, "lock_worker: %s\n", turtle_last_error());
    return 3;
  }
  while (seq < count) {
    int made = round_of(f, argv[1], argv[2], seq);
    if (made > 0) seq++;
    if (made < 0 && ++failures >= 1000) return 4;
  }
  turtle_finder_free(f);
  printf("done %s %d failures %d\n", argv[2], seq, failures);
  return 0;
}
